"""Helpers of the crash test (``tests/test_crash.py``): start, watch and SIGKILL ``revops run``,
read step times from a home's Dagster instance, and fingerprint a home's tables.

The fingerprint of a home is a digest per relation (table or view) of the warehouse
(``warehouse.duckdb``) and of the serving snapshot (``serving/revenue.duckdb``): an
order-independent md5 over the md5 of every row. Only run history is left out: the columns in
``HISTORY_COLUMNS``, the ones that differ between two uninterrupted runs of one drop on two
fresh homes (load and check instants, Dagster run ids). A relation that has such a column is
a record of runs (one row per load or per check run), so it is compared as the set of its
distinct rows without those columns: a run killed after it wrote its row leaves the same row
the recovering run writes again. Every other relation is compared as the multiset of its
whole rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.sandbox.generate import generate

REVOPS = Path(sys.executable).parent / "revops"
SERVING = Path("serving") / "revenue.duckdb"
TMP_PATTERN = re.compile(r"^\.revenue\.duckdb\.(\d+)\.tmp")

# Columns that differ between two uninterrupted runs of the same drop on two fresh homes
# (found by fingerprinting column by column; see the module docstring).
HISTORY_COLUMNS: Mapping[str, frozenset[str]] = {
    "raw_meta.batches": frozenset({"loaded_at"}),
    "raw_meta.cursors": frozenset({"updated_at"}),
    "raw_meta.source_state": frozenset({"loaded_at"}),
    "staging.stg_meta__source_states": frozenset({"loaded_at"}),
    "recon.check_runs": frozenset({"run_id", "ran_at"}),
    "recon.check_entity_runs": frozenset({"run_id"}),
    "recon.exception_events": frozenset({"run_id"}),
    "recon.exceptions": frozenset({"last_run_id", "first_seen_run_id"}),
    "staging.stg_meta__quarantined_records": frozenset({"first_quarantined_at", "quarantined_at"}),
}

Fingerprint = dict[str, tuple[int, str]]  # "warehouse:schema.name" -> (rows, digest)

# The kill point "the run exists, none of its steps started": Dagster writes the run's planned
# materializations and checks (hundreds of events) before it starts it.
RUN_CREATED = "(run created)"


# --- fingerprints ---------------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def database_fingerprint(path: Path, label: str) -> Fingerprint:
    """Rows and digest of every table and view of the DuckDB file ``path`` (opened read-only).

    Raises:
        duckdb.Error: The file is not a whole DuckDB database.
    """
    con = duckdb.connect(str(path), read_only=True)
    try:
        relations = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT internal ORDER BY 1, 2"
        ).fetchall()
        columns: dict[tuple[str, str], list[str]] = {}
        for schema, name, column in con.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database() ORDER BY schema_name, table_name, "
            "column_index"
        ).fetchall():
            columns.setdefault((schema, name), []).append(column)
        out: Fingerprint = {}
        for schema, name in relations:
            key = f"{schema}.{name}"
            history = HISTORY_COLUMNS.get(key, frozenset())
            kept = [c for c in columns[(schema, name)] if c not in history]
            row = f"CAST(ROW({', '.join(_quote(c) for c in kept)}) AS VARCHAR)"
            distinct = "DISTINCT " if history else ""
            rows, digest = con.execute(
                "SELECT count(*), coalesce(md5(string_agg(h, ',' ORDER BY h)), '') FROM "
                f"(SELECT {distinct}md5({row}) AS h FROM {_quote(schema)}.{_quote(name)})"
            ).fetchall()[0]
            out[f"{label}:{key}"] = (rows, digest)
        return out
    finally:
        con.close()


def serving_fingerprint(home: Path) -> Fingerprint:
    """The serving snapshot's fingerprint; empty when there is no snapshot."""
    path = home / SERVING
    return database_fingerprint(path, "serving") if path.exists() else {}


def home_fingerprint(home: Path) -> Fingerprint:
    """Fingerprint of the warehouse and of the serving snapshot of ``home``."""
    return database_fingerprint(home / "warehouse.duckdb", "warehouse") | serving_fingerprint(home)


def differences(got: Fingerprint, want: Fingerprint) -> list[str]:
    """The relations whose content differs, or that one side lacks, in words."""
    out = []
    for key in sorted(set(got) | set(want)):
        if key not in got:
            out.append(f"{key} missing")
        elif key not in want:
            out.append(f"{key} unexpected ({got[key][0]} rows)")
        elif got[key] != want[key]:
            out.append(f"{key} differs ({got[key][0]} rows, expected {want[key][0]})")
    return out


def sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def publish_leftovers(home: Path) -> list[str]:
    serving = home / "serving"
    return sorted(p.name for p in serving.glob(".*.tmp*")) if serving.is_dir() else []


# --- running revops -------------------------------------------------------------------------


def revops_env(home: Path) -> dict[str, str]:
    """The environment of a ``revops`` process on ``home`` (its own Dagster instance)."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["REVOPS_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"  # a killed process's lines are in its log
    return env


@dataclass
class Finished:
    returncode: int
    seconds: float
    stdout: str
    stderr: str

    def tail(self, lines: int = 25) -> str:
        return "\n".join((self.stdout + "\n" + self.stderr).splitlines()[-lines:])


def run_revops(home: Path, drop: Path, *, timeout: float = 900) -> Finished:
    """``revops run --source-dir drop`` on ``home`` to its end, timed (wall seconds)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [str(REVOPS), "run", "--source-dir", str(drop)],
        env=revops_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Finished(proc.returncode, time.perf_counter() - started, proc.stdout, proc.stderr)


def start_revops(home: Path, drop: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``revops run`` in a session of its own (so its dbt dies with it), output to log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(REVOPS), "run", "--source-dir", str(drop)],
            env=revops_env(home),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and everything in its session (the dbt it started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


# --- the Dagster event log ------------------------------------------------------------------


@dataclass
class StepTimes:
    key: str
    start: float  # seconds since the run's first event
    end: float | None  # None: started, never ended (killed inside it)
    status: str  # SUCCESS, FAILURE or UNFINISHED

    @property
    def seconds(self) -> float:
        return (self.end - self.start) if self.end is not None else float("nan")


@dataclass
class RunTimeline:
    run_id: str
    status: str
    steps: list[StepTimes]

    def step(self, key: str) -> StepTimes | None:
        return next((s for s in self.steps if s.key == key), None)

    def killed_in(self) -> str:
        """Where a killed run stopped: the step it was inside, or between which steps."""
        open_steps = [s.key for s in self.steps if s.end is None]
        if open_steps:
            return " + ".join(open_steps)
        if not self.steps:
            return "before its first step"
        return f"after {self.steps[-1].key} (between steps)"


def run_timelines(home: Path) -> list[RunTimeline]:
    """Every run of ``home``'s instance (oldest first) with its steps' start and end times,
    read through the Dagster instance API. Call only when no process is writing it."""
    import dagster as dg

    ended = {
        dg.DagsterEventType.STEP_SUCCESS.value: "SUCCESS",
        dg.DagsterEventType.STEP_FAILURE.value: "FAILURE",
    }
    timelines = []
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        for run in reversed(instance.get_runs()):
            entries = instance.all_logs(run.run_id)
            t0 = entries[0].timestamp if entries else 0.0
            steps: dict[str, StepTimes] = {}
            for entry in entries:
                event = entry.dagster_event
                if event is None or entry.step_key is None:
                    continue
                if event.event_type_value == dg.DagsterEventType.STEP_START.value:
                    steps[entry.step_key] = StepTimes(
                        entry.step_key, entry.timestamp - t0, None, "UNFINISHED"
                    )
                elif event.event_type_value in ended and entry.step_key in steps:
                    step = steps[entry.step_key]
                    step.end = entry.timestamp - t0
                    step.status = ended[event.event_type_value]
            timelines.append(
                RunTimeline(
                    run.run_id, run.status.value, sorted(steps.values(), key=lambda s: s.start)
                )
            )
    return timelines


class LiveEventLog:
    """Which steps a running ``revops run`` on ``home`` has started, read from its run's event
    log (the SQLite file of the home's Dagster instance, opened read-only while it writes)."""

    def __init__(self, home: Path) -> None:
        self.runs_dir = home / "dagster" / "history" / "runs"
        self.known = set(self._run_files())
        self.run_file: Path | None = None

    def _run_files(self) -> list[Path]:
        if not self.runs_dir.is_dir():
            return []
        return [p for p in self.runs_dir.glob("*.db") if p.name != "index.db"]

    def run_created(self) -> bool:
        """Whether the run exists (Dagster made its event log: it writes the run's planned
        materializations, then starts it)."""
        if self.run_file is None:
            new = [p for p in self._run_files() if p not in self.known]
            if new:
                self.run_file = new[0]
        return self.run_file is not None

    def started_steps(self) -> set[str]:
        if not self.run_created():
            return set()
        try:
            con = sqlite3.connect(f"file:{self.run_file}?mode=ro", uri=True, timeout=1)
            try:
                rows = con.execute(
                    "SELECT DISTINCT step_key FROM event_logs "
                    "WHERE dagster_event_type = 'STEP_START'"
                ).fetchall()
            finally:
                con.close()
        except sqlite3.OperationalError:  # not created yet, or busy: ask again
            return set()
        return {r[0] for r in rows}


class VictimEnded(RuntimeError):
    """The run to kill ended before the kill point."""


def wait_until(
    proc: subprocess.Popen[bytes], done: Callable[[], bool], *, poll: float, timeout: float = 600
) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if proc.poll() is not None:
            raise VictimEnded(f"revops run ended (exit {proc.returncode}) before the kill point")
        if time.monotonic() > deadline:
            raise TimeoutError("the kill point was not reached in time")
        time.sleep(poll)


# --- kill points ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KillPoint:
    """Where to kill a run.

    ``step``: kill once this step has started (seen in the event log) and ``fraction`` of its
    duration in the reference run has passed. ``RUN_CREATED``: kill once the run exists,
    ``fraction`` of the reference's time from the run's creation to its first step later.
    For ``serving_snapshot`` a ``publish`` mode instead watches the publish's temp file:
    ``appear`` kills as soon as it exists, ``window`` kills ``fraction`` of the reference
    publish window (temp file created -> renamed) after it appeared, ``renamed`` kills as
    soon as it is gone (renamed over the snapshot).
    """

    name: str
    step: str
    fraction: float = 0.0
    publish: str | None = None  # None, "appear", "window", "renamed"


@dataclass
class Kill:
    point: KillPoint
    victim_seconds: float  # from start to the kill
    tmp_at_kill: list[str]  # publish temp files present right after the kill
    log: str  # the killed process's output


def kill_at(
    home: Path,
    drop: Path,
    point: KillPoint,
    *,
    step_seconds: Mapping[str, float],
    publish_window: float,
    log: Path,
) -> Kill:
    """Start ``revops run`` on ``home`` and SIGKILL it (and its children) at ``point``."""
    events = LiveEventLog(home)
    serving_dir = home / "serving"
    # A killed publish's leftovers are not this run's temp file (this run removes them first).
    before = set(_temp_files(serving_dir))

    def publishing() -> bool:
        return bool(set(_temp_files(serving_dir)) - before)

    started = time.perf_counter()
    proc = start_revops(home, drop, log)
    try:
        if point.step == RUN_CREATED:
            wait_until(proc, events.run_created, poll=0.02)
        else:
            wait_until(proc, lambda: point.step in events.started_steps(), poll=0.02)
        if point.publish is None:
            time.sleep(point.fraction * step_seconds[point.step])
        else:
            wait_until(proc, publishing, poll=0.0005, timeout=120)
            if point.publish == "window":
                # A fraction of the reference window, but never past the rename: a publish
                # faster than the reference's is killed just after it, not after the run ended.
                deadline = time.monotonic() + point.fraction * publish_window
                wait_until(
                    proc, lambda: time.monotonic() >= deadline or not publishing(), poll=0.0005
                )
            elif point.publish == "renamed":
                wait_until(proc, lambda: not publishing(), poll=0.0005)
        victim_seconds = time.perf_counter() - started
    finally:
        kill_group(proc)
    return Kill(
        point=point,
        victim_seconds=victim_seconds,
        tmp_at_kill=_temp_files(serving_dir),
        log=log.read_text(errors="replace"),
    )


def _temp_files(serving_dir: Path) -> list[str]:
    try:
        return sorted(n for n in os.listdir(serving_dir) if TMP_PATTERN.match(n))
    except FileNotFoundError:
        return []


class PublishWatch:
    """Watches a home's serving directory in a thread: when the publish temp file appeared and
    when it was gone (renamed), i.e. how long an uninterrupted publish takes."""

    def __init__(self, home: Path) -> None:
        self.serving_dir = home / "serving"
        self.appeared: float | None = None
        self.renamed: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> PublishWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.is_set():
            present = bool(_temp_files(self.serving_dir))
            now = time.perf_counter()
            if present and self.appeared is None:
                self.appeared = now
            elif not present and self.appeared is not None and self.renamed is None:
                self.renamed = now
            time.sleep(0.0005)

    @property
    def window(self) -> float | None:
        if self.appeared is None or self.renamed is None:
            return None
        return self.renamed - self.appeared


ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "crash"


def write_report(name: str, text: str, errors: list[str]) -> None:
    """Keep a campaign's report in ``test-artifacts/crash/<name>``, print it (``-s``), and fail
    on the errors its scenarios raised (their tracebacks)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_text(text, encoding="utf-8")
    print("\n" + text)
    assert not errors, "\n".join(errors)


def markdown_table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- the scenarios of both crash tests --------------------------------------------------------

AS_OF = datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)
NEXT_DAY = datetime(2026, 7, 1, 23, 59, 59, tzinfo=UTC)
COMPANY: dict[str, Any] = {"customers": 60, "months": 8, "seed": 5, "progress": False}

# Spread over every step of `refresh` (names as in its event log), each long step inside.
# A fraction is of the step's duration in the reference run, the first on a fresh home (its
# loads are slower than later ones: the raw fractions are small to land inside the step).
KILL_POINTS = [
    KillPoint("run created, not started", RUN_CREATED, 0.3),
    KillPoint("source_drop starts", "source_drop", 0.0),
    KillPoint("raw_netsuite at 40%", "raw_netsuite", 0.4),
    KillPoint("raw_salesforce at 25%", "raw_salesforce", 0.25),
    KillPoint("raw_stripe at 40%", "raw_stripe", 0.4),
    KillPoint("raw_meta__source_state starts", "raw_meta__source_state", 0.2),
    KillPoint("dbt_models at 15%", "dbt_models", 0.15),
    KillPoint("dbt_models at 60%", "dbt_models", 0.6),
    KillPoint("reconciliation half-way", "reconciliation", 0.5),
    KillPoint("exception_workflow half-way", "exception_workflow", 0.5),
    KillPoint("finance_report half-way", "finance_report", 0.5),
    KillPoint("publish half-written", "serving_snapshot", 0.5, publish="window"),
]
# The second run (a drop one day later) killed while it publishes, one kill after another on
# one home: each run is also the recovery of the kill before it.
PUBLISH_KILLS = [
    KillPoint("temp file just created", "serving_snapshot", publish="appear"),
    KillPoint("1/3 of the publish window", "serving_snapshot", 1 / 3, publish="window"),
    KillPoint("2/3 of the publish window", "serving_snapshot", 2 / 3, publish="window"),
    KillPoint("just renamed over the snapshot", "serving_snapshot", publish="renamed"),
]
# Relations with a row per run (per load, per check run): two runs on one home differ from
# one run only there (a run killed after its checks committed, then recovered, is two runs).
RUN_LOGS = {"recon.check_runs", "recon.check_entity_runs"}


@dataclass
class Reference:
    """An uninterrupted run on a fresh home: its fingerprint and its steps' times."""

    home: Path
    fingerprint: Fingerprint
    step_seconds: dict[str, float]
    steps: list[tuple[str, float, float]]  # step, start, seconds
    publish_window: float
    seconds: float
    stdout: str = ""  # what the run printed (its steps as they ran, then the summary)

    def to_json(self) -> str:
        return json.dumps(
            {
                "home": str(self.home),
                "fingerprint": self.fingerprint,
                "step_seconds": self.step_seconds,
                "steps": self.steps,
                "publish_window": self.publish_window,
                "seconds": self.seconds,
                "stdout": self.stdout,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Reference:
        data = json.loads(text)
        return cls(
            home=Path(data["home"]),
            fingerprint={k: (rows, digest) for k, (rows, digest) in data["fingerprint"].items()},
            step_seconds=data["step_seconds"],
            steps=[(key, start, seconds) for key, start, seconds in data["steps"]],
            publish_window=data["publish_window"],
            seconds=data["seconds"],
            stdout=data["stdout"],
        )


def require_success(finished: Finished, what: str) -> None:
    if finished.returncode != 0:
        raise AssertionError(f"{what} exited {finished.returncode}:\n{finished.tail()}")


def reference_run(home: Path, drop: Path) -> Reference:
    """An uninterrupted run on a fresh home, its publish watched, its steps read back."""
    with PublishWatch(home) as watch:
        finished = run_revops(home, drop)
    require_success(finished, "the reference run")
    (timeline,) = run_timelines(home)
    steps = [(s.key, s.start, s.seconds) for s in timeline.steps]
    # From the run's creation (its first event) to its first step.
    created = [(RUN_CREATED, 0.0, timeline.steps[0].start)]
    return Reference(
        home=home,
        fingerprint=home_fingerprint(home),
        step_seconds={key: seconds for key, _, seconds in created + steps},
        steps=steps,
        publish_window=watch.window or 0.05,
        seconds=finished.seconds,
        stdout=finished.stdout,
    )


@dataclass(frozen=True)
class SharedReference:
    """The crash tests' company: its drop, the next day's drop, and the reference run of the
    drop on a fresh home. Made once per test session (``tests/shared.py``) and never written
    after: tests that need a home with one completed run of it (the crash chains, the
    operator's walk-through, the UI story, the progress lines of a run...) copy ``ref.home``.
    """

    drop: Path
    next_drop: Path
    ref: Reference


def shared_reference(tmp_path_factory: pytest.TempPathFactory) -> SharedReference:
    """The session's ``SharedReference``, made by the first test (of any worker) to ask."""
    from shared import shared_build

    def build(root: Path) -> None:
        # One company through the next day, seen at the as-of and a day later (incremental).
        generate(root / "drop", as_of=AS_OF, through=NEXT_DAY, **COMPANY)
        generate(root / "drop-next-day", as_of=NEXT_DAY, through=NEXT_DAY, **COMPANY)
        ref = reference_run(root / "ref", root / "drop")
        (root / "reference.json").write_text(ref.to_json(), encoding="utf-8")

    root = shared_build(tmp_path_factory, "crash-reference", build)
    ref = Reference.from_json((root / "reference.json").read_text(encoding="utf-8"))
    return SharedReference(root / "drop", root / "drop-next-day", ref)
