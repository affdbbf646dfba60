"""``revops run`` killed with SIGKILL anywhere is recovered by the next run, unaided.

One small sandbox company. A reference run on a fresh home gives the fingerprint of every
warehouse and serving table (``tests/crash.py``: run history left out) and, from its Dagster
event log, when each step starts and how long it takes. Then, per kill point, a fresh home: a
run is started in a session of its own, watched through its event log until the step of the
kill point starts, killed (``os.killpg`` SIGKILL, its dbt with it) a fraction of that step's
reference duration later, and ``revops run`` is run again: it must exit 0 and leave the
reference fingerprint. A second run killed while it publishes (a home with a completed run, a
drop one day later) must leave ``serving/revenue.duckdb`` the old snapshot or the new one,
whole, every time, and the run after it recovers.

Nothing is asserted on seconds: the kill points, the step each kill landed in and the
recovering run's wall time are printed (``-s``) and written to
``test-artifacts/crash/report.md``. ``REVOPS_CRASH_WORKERS`` (default 2) scenarios run at
once, each on its own home.
"""

from __future__ import annotations

import os
import shutil
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from crash import (
    AS_OF,
    COMPANY,
    KILL_POINTS,
    NEXT_DAY,
    PUBLISH_KILLS,
    RUN_CREATED,
    RUN_LOGS,
    SERVING,
    Fingerprint,
    Finished,
    Kill,
    KillPoint,
    Reference,
    differences,
    home_fingerprint,
    kill_at,
    markdown_table,
    publish_leftovers,
    reference_run,
    require_success,
    run_revops,
    run_timelines,
    serving_fingerprint,
    sha256,
    write_report,
)

from connectors.sandbox.generate import generate

pytestmark = [pytest.mark.e2e, pytest.mark.crash, pytest.mark.timeout(5400)]

WORKERS = int(os.environ.get("REVOPS_CRASH_WORKERS", "2"))


@dataclass
class PointResult:
    point: KillPoint
    kill: Kill | None = None
    killed_in: str = "?"
    expected: tuple[str, ...] = ()
    recovery: Finished | None = None
    got: Fingerprint | None = None  # the recovered home's
    statuses: list[str] = field(default_factory=list)  # its runs', oldest first
    said_recovered: bool = False  # the next run said it marked the dead run failed
    matched: str | None = None  # the reference the recovered home equals
    diffs: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass
class PublishKill:
    point: KillPoint
    kill: Kill | None = None
    killed_in: str = "?"
    snapshot: str = "?"  # "old (untouched)", "new", "none", "unreadable: ..."
    fingerprint: Fingerprint | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class Campaign:
    drop: Path
    next_drop: Path
    ref1: Reference
    fingerprints: dict[str, Fingerprint] = field(default_factory=dict)
    points: list[PointResult] = field(default_factory=list)
    publish_kills: list[PublishKill] = field(default_factory=list)
    final: Finished | None = None
    final_problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0


def _copy_home(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def kill_and_recover(campaign: Campaign, point: KillPoint, home: Path) -> PointResult:
    """A fresh home: a run killed at ``point``, then ``revops run`` again, unaided."""
    result = PointResult(point)
    ref1 = campaign.ref1
    result.kill = kill_at(
        home,
        campaign.drop,
        point,
        step_seconds=ref1.step_seconds,
        publish_window=ref1.publish_window,
        log=home.parent / f"{home.name}.victim.log",
    )
    (victim,) = run_timelines(home)
    result.killed_in = victim.killed_in()
    recon = victim.step("reconciliation")
    if recon is None:
        result.expected = ("ref1",)
    elif recon.status == "SUCCESS":  # its checks committed: the recovery is a second run
        result.expected = ("ref2",)
    else:
        result.expected = ("ref1", "ref2")
    result.recovery = recovery = run_revops(home, campaign.drop)
    if recovery.returncode != 0:
        result.problems.append(f"the next run exited {recovery.returncode}:\n{recovery.tail()}")
        return result
    result.said_recovered = "was left unfinished by a process that died" in recovery.stdout
    for name in result.kill.tmp_at_kill:
        if f"removed {name}, left by a publish that was killed" not in recovery.stdout:
            result.problems.append(f"the next run did not say it removed {name}")
    if publish_leftovers(home):
        result.problems.append(f"publish leftovers after the next run: {publish_leftovers(home)}")
    result.statuses = [t.status for t in run_timelines(home)]
    result.got = home_fingerprint(home)
    return result


def compare(campaign: Campaign, result: PointResult) -> None:
    """Does the recovered home equal the reference its kill allows? (After every run ended.)"""
    if result.got is None:
        return
    for name in result.expected:
        result.diffs[name] = differences(result.got, campaign.fingerprints[name])
        if not result.diffs[name]:
            result.matched = name
    if result.matched is None:
        result.problems.append(
            f"the recovered home equals none of {result.expected}: "
            + "; ".join(result.diffs[result.expected[0]][:12])
        )


def publish_chain(campaign: Campaign, home: Path) -> None:
    """A home with a completed run (snapshot A); runs on the next day's drop killed while they
    publish, one after another; then a run to the end. Snapshots compared at the end."""
    leftovers: list[str] = []
    for index, point in enumerate(PUBLISH_KILLS):
        result = PublishKill(point)
        campaign.publish_kills.append(result)
        before = sha256(home / SERVING)
        result.kill = kill_at(
            home,
            campaign.next_drop,
            point,
            step_seconds=campaign.ref1.step_seconds,
            publish_window=campaign.ref1.publish_window,
            log=home.parent / f"{home.name}.victim{index}.log",
        )
        result.killed_in = run_timelines(home)[-1].killed_in()
        if index > 0 and "was left unfinished by a process that died" not in result.kill.log:
            result.problems.append("it did not say it recovered the run killed before it")
        for name in leftovers:
            if f"removed {name}, left by a publish that was killed" not in result.kill.log:
                result.problems.append(f"it did not remove {name}, left by the kill before")
        leftovers = result.kill.tmp_at_kill
        after = sha256(home / SERVING)
        if after is None:
            result.snapshot = "none"
        elif after == before:
            result.snapshot = "old (untouched)"
        else:
            try:
                result.fingerprint = serving_fingerprint(home)
                result.snapshot = "new"
            except duckdb.Error as err:
                result.snapshot = f"unreadable: {err}"
    campaign.final = final = run_revops(home, campaign.next_drop)
    if final.returncode != 0:
        campaign.final_problems.append(f"the run after exited {final.returncode}:\n{final.tail()}")
        return
    for name in leftovers:
        if f"removed {name}, left by a publish that was killed" not in final.stdout:
            campaign.final_problems.append(f"the run after did not say it removed {name}")
    if publish_leftovers(home):
        campaign.final_problems.append(f"publish leftovers: {publish_leftovers(home)}")
    campaign.fingerprints["final"] = home_fingerprint(home)


def next_drop_references(campaign: Campaign, home: Path) -> None:
    """Uninterrupted: the next day's drop once (B) and twice (B2) after the first drop."""
    require_success(run_revops(home, campaign.next_drop), "the run of the next day's drop")
    campaign.fingerprints["refB"] = home_fingerprint(home)
    require_success(run_revops(home, campaign.next_drop), "the second run of the next day's drop")
    campaign.fingerprints["refB2"] = home_fingerprint(home)


def second_reference(campaign: Campaign, home: Path) -> None:
    """Uninterrupted: the first drop twice on one home."""
    require_success(run_revops(home, campaign.drop), "the second reference run")
    campaign.fingerprints["ref2"] = home_fingerprint(home)


def _serving(fp: Fingerprint | None) -> Fingerprint:
    return {k: v for k, v in (fp or {}).items() if k.startswith("serving:")}


def report(campaign: Campaign) -> str:
    ref1 = campaign.ref1
    out = [
        f"# Crash test ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"{WORKERS} scenarios at once)",
        "",
        f"Reference run (fresh home, uninterrupted): {ref1.seconds:.1f} s; publish window "
        f"(temp file created -> renamed) {ref1.publish_window * 1000:.0f} ms.",
        "",
        markdown_table(
            ["step", "starts at s", "takes s"],
            [(k, f"{start:.2f}", f"{secs:.2f}") for k, start, secs in ref1.steps],
        ),
        "",
        "## First run killed, next run recovers (fresh home per point)",
        "",
        markdown_table(
            [
                "kill point",
                "step killed in",
                "killed at s",
                "recovery s",
                "recovery exit",
                "temp files at kill",
                "equals",
                "fingerprint equal",
            ],
            [
                (
                    r.point.name,
                    r.killed_in,
                    f"{r.kill.victim_seconds:.1f}" if r.kill else "-",
                    f"{r.recovery.seconds:.1f}" if r.recovery else "-",
                    r.recovery.returncode if r.recovery else "-",
                    ", ".join(r.kill.tmp_at_kill) if r.kill else "-",
                    r.matched or "/".join(r.expected),
                    "yes" if r.matched else "NO",
                )
                for r in campaign.points
            ],
        ),
        "",
        "## Second run (next day's drop) killed while publishing, one kill after another",
        "",
        markdown_table(
            ["kill", "step killed in", "temp files at kill", "serving/revenue.duckdb after"],
            [
                (
                    p.point.name,
                    p.killed_in,
                    ", ".join(p.kill.tmp_at_kill) if p.kill else "-",
                    p.snapshot,
                )
                for p in campaign.publish_kills
            ],
        ),
        "",
    ]
    if campaign.final is not None:
        out.append(
            f"Run after the last kill: exit {campaign.final.returncode}, "
            f"{campaign.final.seconds:.1f} s."
        )
    problems = [f"{r.point.name}: {p}" for r in campaign.points for p in r.problems]
    problems += [f"publish {p.point.name}: {x}" for p in campaign.publish_kills for x in p.problems]
    problems += campaign.final_problems + campaign.errors
    out += ["", f"Whole campaign: {campaign.wall_seconds:.0f} s.", ""]
    if problems:
        out += ["## Problems", ""] + [f"- {p}" for p in problems]
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    import time

    started = time.perf_counter()
    root = tmp_path_factory.mktemp("crash")
    drop = root / "drop"
    next_drop = root / "drop-next-day"
    # One company through the next day, seen at the as-of and a day later (incremental).
    generate(drop, as_of=AS_OF, through=NEXT_DAY, **COMPANY)
    generate(next_drop, as_of=NEXT_DAY, through=NEXT_DAY, **COMPANY)
    ref1 = reference_run(root / "ref1", drop)
    campaign = Campaign(drop=drop, next_drop=next_drop, ref1=ref1)
    campaign.fingerprints["ref1"] = ref1.fingerprint

    def guarded(what: str, task: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                task()
            except Exception:
                campaign.errors.append(f"{what}: {traceback.format_exc()}")

        return run

    def point_task(index: int, point: KillPoint) -> Callable[[], None]:
        def run() -> None:
            result = PointResult(point)
            try:
                result = kill_and_recover(campaign, point, root / f"point{index:02d}")
            except Exception:
                result.problems.append(traceback.format_exc())
            campaign.points.append(result)

        return run

    # References first (the kills are compared with them), then the longest scenarios.
    tasks = [
        guarded("ref2", lambda: second_reference(campaign, _copy_home(ref1.home, root / "ref2"))),
        guarded(
            "refB", lambda: next_drop_references(campaign, _copy_home(ref1.home, root / "refB"))
        ),
        guarded("publish", lambda: publish_chain(campaign, _copy_home(ref1.home, root / "pub"))),
    ]
    order = sorted(
        enumerate(KILL_POINTS), key=lambda ip: -(ref1.step_seconds.get(ip[1].step, 0) or 0)
    )
    tasks += [point_task(index, point) for index, point in order]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()
    campaign.points.sort(key=lambda r: KILL_POINTS.index(r.point))
    if not campaign.errors:
        for result in campaign.points:
            compare(campaign, result)
    campaign.wall_seconds = time.perf_counter() - started
    write_report("report.md", report(campaign), campaign.errors)
    return campaign


def test_two_uninterrupted_runs_differ_only_in_their_run_log(campaign: Campaign) -> None:
    """The fingerprint leaves out exactly the run history: one run and two runs of the same
    drop differ only in the per-run log of checks (the second run opens no new exception)."""
    diffs = differences(campaign.fingerprints["ref2"], campaign.fingerprints["ref1"])
    tables = {d.split(" ")[0].split(":", 1)[1] for d in diffs}
    assert tables <= RUN_LOGS, (
        "a relation other than the per-run logs differs between two uninterrupted runs: a new "
        f"run-history column (add it to HISTORY_COLUMNS in tests/crash.py) or a bug: {diffs}"
    )
    # The next day's drop changes what is published: old and new snapshots are told apart.
    assert _serving(campaign.fingerprints["refB"]) != _serving(campaign.fingerprints["ref1"])


def test_a_run_killed_at_any_step_is_recovered_by_the_next_run(campaign: Campaign) -> None:
    steps = {key for key, _, _ in campaign.ref1.steps}
    assert {p.step for p in KILL_POINTS} == steps | {RUN_CREATED}
    assert len(campaign.points) == len(KILL_POINTS)
    problems = [
        f"{r.point.name} (killed in {r.killed_in}): {p}"
        for r in campaign.points
        for p in r.problems
    ]
    # The dead run is marked failed (its pool slot freed) by the next run, which succeeds and
    # says so. (A run killed before it started: see the next test.)
    for r in campaign.points:
        if r.point.step != RUN_CREATED and r.recovery and r.recovery.returncode == 0:
            if r.statuses != ["FAILURE", "SUCCESS"]:
                problems.append(f"{r.point.name}: run statuses {r.statuses}")
            if not r.said_recovered:
                problems.append(f"{r.point.name}: the next run did not say it recovered it")
    assert not problems, "\n".join(problems)


def test_a_run_killed_before_its_first_step_is_marked_failed_by_the_next_run(
    campaign: Campaign,
) -> None:
    (result,) = [r for r in campaign.points if r.point.step == RUN_CREATED]
    assert result.killed_in == "before its first step"
    assert result.statuses == ["FAILURE", "SUCCESS"]
    assert result.said_recovered


def test_a_publish_killed_leaves_the_old_snapshot_or_the_new_one_whole(
    campaign: Campaign,
) -> None:
    fps = campaign.fingerprints
    old_a = _serving(fps["ref1"])
    problems = []
    for index, kill in enumerate(campaign.publish_kills):
        problems += [f"{kill.point.name}: {p}" for p in kill.problems]
        if kill.snapshot == "old (untouched)":
            continue
        # New: what an uninterrupted run publishes. The first kill's run is the first on the
        # new drop; later ones repeat a run whose checks committed (a second run of it).
        new = _serving(fps["refB"] if index == 0 else fps["refB2"])
        if kill.snapshot != "new" or kill.fingerprint is None:
            problems.append(f"{kill.point.name}: snapshot {kill.snapshot}")
        elif kill.fingerprint == old_a:
            continue
        elif diffs := differences(kill.fingerprint, new):
            problems.append(f"{kill.point.name}: a snapshot neither old nor new: {diffs[:10]}")
    problems += campaign.final_problems
    assert campaign.final is not None and campaign.final.returncode == 0, problems
    diffs = differences(fps["final"], fps["refB2"])
    assert not diffs, f"the run after the kills left {diffs}"
    assert not problems, "\n".join(problems)
