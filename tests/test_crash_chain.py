"""``revops run`` SIGKILLed at every step, recovered by the next run: the part of the crash test
that runs in ``make test`` (a few minutes).

The same kill points as the full campaign (``tests/test_crash.py``, ``make test-crash``, which
gives every point a fresh home and a whole recovering run), as a chain on one home: a run is
killed at the first point, the next run is killed at the second point, and so on; every run
after a kill must say it marked the dead run failed and removed the publish's temp files the
kill left; the run after the last kill goes to the end, and the home must then equal the
reference run's (one uninterrupted run on a fresh home) in every warehouse and serving
relation but the per-run check log (``RUN_LOGS``: a chain commits its checks more than once).
Every kill of a raw load lands on the home's first load of that source, as in the full
campaign: the chain kills in step order. (One chain, not one per half of the points: each
chain ends with a whole run, the costliest kind.)

After the chain's first kill inside ``dbt_models`` a killed publish's temp file and its WAL
are left in ``serving/`` too: the next run says it removed the temp file, and neither is
left (``test_a_run_killed_in_its_dbt_step_is_recovered_by_the_next_run``).

Meanwhile, on a home with a completed run, runs of the next day's drop killed while they
publish (temp file just created; just renamed over the snapshot): ``serving/revenue.duckdb``
is the old snapshot untouched or the new one whole, and the run after them publishes what
the run renamed over the snapshot had published.

The company, its drops and the reference run are the session's ``SharedReference``
(``crash.shared_reference``), which other tests that need a completed run of a company
share.

Nothing is asserted on seconds; the kills and the runs' wall times are written to
``test-artifacts/crash/chain.md``.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import duckdb
import pytest
from crash import (
    KILL_POINTS,
    RUN_CREATED,
    RUN_LOGS,
    SERVING,
    Fingerprint,
    Finished,
    KillPoint,
    Reference,
    differences,
    home_fingerprint,
    kill_at,
    markdown_table,
    publish_leftovers,
    run_revops,
    run_timelines,
    serving_fingerprint,
    sha256,
    shared_reference,
    write_report,
)
from shared import copy_home

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3600)]

CHAINS = [KILL_POINTS]
PUBLISH_CHAIN = [
    KillPoint("temp file just created", "serving_snapshot", publish="appear"),
    KillPoint("just renamed over the snapshot", "serving_snapshot", publish="renamed"),
]
RECOVERED = "was left unfinished by a process that died: marked failed and its warehouse slot freed"
# What a publish killed half-way leaves (its temp file and the temp file's WAL), left in the
# chain's home after its first kill inside dbt_models.
PLANTED = (".revenue.duckdb.99999.tmp", ".revenue.duckdb.99999.tmp.wal")


def removed_line(name: str) -> str:
    return f"removed {name}, left by a publish that was killed"


@dataclass
class ChainKill:
    point: KillPoint
    killed_in: str = "?"
    seconds: float = 0.0
    temp_files: list[str] = field(default_factory=list)
    snapshot: str = ""  # publish chain only: "old (untouched)", "new", "none", "unreadable: …"
    serving: Fingerprint | None = None
    output: str = ""  # what the killed run printed
    planted: list[str] = field(default_factory=list)  # left in serving/ after this kill


@dataclass
class Chain:
    name: str
    home: Path
    kills: list[ChainKill] = field(default_factory=list)
    final: Finished | None = None
    statuses: list[str] = field(default_factory=list)
    fingerprint: Fingerprint | None = None
    problems: list[str] = field(default_factory=list)
    plant: bool = False  # leave PLANTED in serving/ after the first kill inside dbt_models
    planted_left: list[str] | None = None  # which of them were left after the next run

    def output_after(self, index: int) -> str:
        """What the run after kill ``index`` printed."""
        if index + 1 < len(self.kills):
            return self.kills[index + 1].output
        return self.final.stdout if self.final is not None else ""


def run_chain(chain: Chain, drop: Path, ref: Reference, points: list[KillPoint]) -> None:
    """Kill one run per point on ``chain.home``, then run to the end; every run after a kill
    must say it recovered the dead run and removed its temp files."""
    leftovers: list[str] = []
    serving = chain.home / "serving"
    for index, point in enumerate(points):
        before = sha256(chain.home / SERVING)
        kill = kill_at(
            chain.home,
            drop,
            point,
            step_seconds=ref.step_seconds,
            publish_window=ref.publish_window,
            log=chain.home.parent / f"{chain.home.name}.victim{index}.log",
        )
        record = ChainKill(point, run_timelines(chain.home)[-1].killed_in(), kill.victim_seconds)
        record.temp_files = kill.tmp_at_kill
        record.output = kill.log
        chain.kills.append(record)
        said_by = f"the run killed at {point.name!r}"
        _said_recovery(chain, said_by, kill.log, recovers=index > 0, leftovers=leftovers)
        if chain.kills[:-1] and chain.kills[-2].planted:
            chain.planted_left = [n for n in PLANTED if (serving / n).exists()]
        leftovers = kill.tmp_at_kill
        if chain.plant and point.step == "dbt_models" and not any(k.planted for k in chain.kills):
            serving.mkdir(exist_ok=True)
            for name in PLANTED:
                (serving / name).write_bytes(b"partial")
            record.planted = list(PLANTED)
            leftovers = [*leftovers, PLANTED[0]]
        if point.publish is not None:
            after = sha256(chain.home / SERVING)
            record.snapshot = _snapshot_state(chain.home, before, after, record)
    chain.final = final = run_revops(chain.home, drop)
    if final.returncode != 0:
        chain.problems.append(
            f"the run after the last kill exited {final.returncode}:\n{final.tail()}"
        )
        return
    _said_recovery(chain, "the run after the last kill", final.stdout, True, leftovers)
    if chain.kills and chain.kills[-1].planted:
        chain.planted_left = [n for n in PLANTED if (serving / n).exists()]
    if publish_leftovers(chain.home):
        chain.problems.append(f"publish leftovers at the end: {publish_leftovers(chain.home)}")
    chain.statuses = [t.status for t in run_timelines(chain.home)]
    chain.fingerprint = home_fingerprint(chain.home)


def _said_recovery(
    chain: Chain, who: str, output: str, recovers: bool, leftovers: list[str]
) -> None:
    if recovers and RECOVERED not in output:
        chain.problems.append(f"{who} did not say it marked the killed run before it failed")
    for name in leftovers:
        if removed_line(name) not in output:
            chain.problems.append(f"{who} did not say it removed {name}")


def _snapshot_state(home: Path, before: str | None, after: str | None, kill: ChainKill) -> str:
    if after is None:
        return "none"
    if after == before:
        return "old (untouched)"
    try:
        kill.serving = serving_fingerprint(home)
    except duckdb.Error as err:
        return f"unreadable: {err}"
    return "new"


@dataclass
class Campaign:
    ref: Reference
    chains: list[Chain]
    publish: Chain
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def report(campaign: Campaign) -> str:
    rows = []
    for chain in [*campaign.chains, campaign.publish]:
        for kill in chain.kills:
            rows.append(
                (
                    chain.name,
                    kill.point.name,
                    kill.killed_in,
                    f"{kill.seconds:.1f}",
                    ", ".join(kill.temp_files)
                    + (f" (then left: {', '.join(kill.planted)})" if kill.planted else ""),
                    kill.snapshot,
                )
            )
        final = chain.final
        rows.append(
            (
                chain.name,
                "(runs to the end)",
                "-",
                f"{final.seconds:.1f}" if final else "-",
                f"exit {final.returncode}" if final else "-",
                "",
            )
        )
    problems = [f"{c.name}: {p}" for c in [*campaign.chains, campaign.publish] for p in c.problems]
    out = [
        f"# Crash chains ({len(KILL_POINTS) + len(PUBLISH_CHAIN)} kills)",
        "",
        f"Reference run (fresh home): {campaign.ref.seconds:.1f} s.",
        "",
        markdown_table(
            [
                "home",
                "kill point",
                "step killed in",
                "run s",
                "temp files at kill / exit",
                "snapshot after",
            ],
            rows,
        ),
        "",
        f"Whole test: {campaign.seconds:.0f} s.",
    ]
    if problems or campaign.errors:
        out += ["", "## Problems", ""] + [f"- {p}" for p in problems + campaign.errors]
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    started = time.perf_counter()
    shared = shared_reference(tmp_path_factory)
    root = tmp_path_factory.mktemp("crash-chain")
    drop, next_drop, ref = shared.drop, shared.next_drop, shared.ref
    chains = [Chain(f"chain {n + 1}", root / f"chain{n + 1}") for n in range(len(CHAINS))]
    chains[0].plant = True
    # The publish chain starts from a home with a completed run (the reference's, copied).
    publish = Chain("publish", copy_home(ref.home, root / "publish"))
    campaign = Campaign(ref, chains, publish)

    def guarded(chain: Chain, task: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                task()
            except Exception:
                campaign.errors.append(f"{chain.name}: {traceback.format_exc()}")

        return run

    tasks = [
        guarded(c, partial(run_chain, c, drop, ref, p)) for c, p in zip(chains, CHAINS, strict=True)
    ]
    tasks.append(guarded(publish, lambda: run_chain(publish, next_drop, ref, PUBLISH_CHAIN)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()
    campaign.seconds = time.perf_counter() - started
    write_report("chain.md", report(campaign), campaign.errors)
    return campaign


def _without_run_logs(fp: Fingerprint) -> Fingerprint:
    return {k: v for k, v in fp.items() if k.split(":", 1)[1] not in RUN_LOGS}


def test_the_chains_kill_inside_every_step(campaign: Campaign) -> None:
    steps = {key for key, _, _ in campaign.ref.steps} | {RUN_CREATED}
    kills = [k for c in campaign.chains for k in c.kills]
    assert {k.point.step for k in kills} == steps
    # A kill aimed inside a step that takes a while (0.3 s or more in the reference) lands
    # there; one aimed at a step of some milliseconds, or at the publish's temp file (a window
    # of about 0.1 s), may land just after it on a busy machine (the report says where each
    # landed): the run is killed all the same.
    long_steps = {k for k, seconds in campaign.ref.step_seconds.items() if seconds >= 0.3}
    wrong = [
        f"{k.point.name}: killed in {k.killed_in}"
        for k in kills
        if k.point.step in long_steps - {RUN_CREATED}
        and k.point.publish is None
        and k.killed_in != k.point.step
    ]
    assert not wrong, wrong


def test_every_killed_run_is_recovered_and_the_home_equals_the_reference(
    campaign: Campaign,
) -> None:
    problems = [f"{c.name}: {p}" for c in campaign.chains for p in c.problems]
    for chain in campaign.chains:
        # Every killed run marked failed (its pool slot freed), the last run a success.
        expected = ["FAILURE"] * len(chain.kills) + ["SUCCESS"]
        if chain.statuses != expected:
            problems.append(f"{chain.name}: run statuses {chain.statuses}, expected {expected}")
        if chain.fingerprint is not None:
            diffs = differences(
                _without_run_logs(chain.fingerprint), _without_run_logs(campaign.ref.fingerprint)
            )
            problems += [f"{chain.name}: {d}" for d in diffs]
    assert not problems, "\n".join(problems)


def test_a_publish_killed_leaves_the_old_snapshot_or_the_new_one_whole(
    campaign: Campaign,
) -> None:
    publish = campaign.publish
    problems = list(publish.problems)
    old = {k: v for k, v in campaign.ref.fingerprint.items() if k.startswith("serving:")}
    half, renamed = publish.kills
    # Killed while its temp file was being written: the old snapshot, not a byte changed. (On
    # a busy machine the kill may come after the rename: then the new one, whole.)
    if half.temp_files and half.snapshot != "old (untouched)":
        problems.append(f"{half.point.name}: snapshot {half.snapshot}")
    if not half.temp_files and half.snapshot != "new":
        problems.append(f"{half.point.name} (after the rename): snapshot {half.snapshot}")
    # Killed just after the rename: the new snapshot, whole (it opens), not the old one; the
    # run after it publishes the same (both repeat a run of that drop whose checks committed).
    if renamed.snapshot != "new" or renamed.serving is None:
        problems.append(f"{renamed.point.name}: snapshot {renamed.snapshot}")
    else:
        if renamed.serving == old:
            problems.append("the snapshot renamed into place is the old one")
        if publish.fingerprint is not None:
            final = {k: v for k, v in publish.fingerprint.items() if k.startswith("serving:")}
            problems += [f"after the kills: {d}" for d in differences(final, renamed.serving)]
    assert publish.statuses == ["SUCCESS", "FAILURE", "FAILURE", "SUCCESS"], publish.statuses
    assert not problems, "\n".join(problems)


def test_a_run_killed_in_its_dbt_step_is_recovered_by_the_next_run(campaign: Campaign) -> None:
    """A run killed inside its dbt step, a killed publish's temp file and WAL left beside the
    snapshot: the next run says it marked the dead run failed and freed its warehouse slot,
    and that it removed the temp file; neither file is left; the killed run is FAILURE.
    (Once tests/test_runlock.py, on a home of its own; the chain's home is that home.)"""
    chain = campaign.chains[0]
    [(index, killed)] = [(i, k) for i, k in enumerate(chain.kills) if k.planted]
    assert killed.point.step == "dbt_models" and killed.killed_in == "dbt_models"
    assert killed.planted == list(PLANTED)
    after = chain.output_after(index)
    assert RECOVERED in after
    assert removed_line(PLANTED[0]) in after
    assert chain.planted_left == []
    assert chain.statuses == ["FAILURE"] * len(chain.kills) + ["SUCCESS"], chain.statuses
