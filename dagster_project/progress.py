"""What a ``revops run`` shows while it runs: each step as it starts and ends, from the run's
own events in the Dagster instance.

A watcher thread follows the run's event log (the same records the UI shows) and prints one
line when a step starts and one when it ends, with its elapsed time and what it did: records
loaded and quarantined for a raw load (the step's own log line), models and checks for dbt.
On a terminal the lines are coloured and a status line shows the step under way (rich);
otherwise plain lines, so logs and CI stay readable.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

import dagster as dg
from dagster._core.events import DagsterEventType

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

POLL_SECONDS = 0.3
# The raw loads end with "stripe: 1,234 records in, 1,230 loaded, 4 quarantined".
_LOAD_LINE = re.compile(r"^\w+: [\d,]+ records in, [\d,]+ loaded, [\d,]+ quarantined$")


@dataclass
class _Step:
    started: float
    materialized: int = 0
    checks: Counter[str] = field(default_factory=Counter)
    detail: str = ""


class RunProgress:
    """Follows one run's events and prints its steps (use as a context manager).

    Args:
        instance: The instance the run is recorded in.
        tag: (key, value) of a tag only this run carries; the watcher finds the run by it.
        out: Where the lines go (default stdout).
    """

    def __init__(
        self, instance: dg.DagsterInstance, tag: tuple[str, str], out: TextIO | None = None
    ) -> None:
        self._instance = instance
        self._tag = tag
        self._out = out or sys.stdout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="revops-progress", daemon=True)
        self._steps: dict[str, _Step] = {}
        self._cursor: str | None = None
        self._run_id: str | None = None
        self._started = time.monotonic()
        self._status: Status | None = None
        if self._out.isatty():
            from rich.console import Console

            self._console: Console | None = Console(file=self._out, highlight=False)
        else:
            self._console = None

    def __enter__(self) -> RunProgress:
        if self._console is not None:
            self._status = self._console.status("starting the run…")
            self._status.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()  # whatever arrived after the last tick
        if self._status is not None:
            self._status.stop()

    # --- following the event log ---------------------------------------------------------

    def _follow(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self._poll()
            except Exception:  # progress must never break the run it watches
                continue

    def _find_run(self) -> str | None:
        key, value = self._tag
        runs = self._instance.get_runs(filters=dg.RunsFilter(tags={key: value}), limit=1)
        return runs[0].run_id if runs else None

    def _poll(self) -> None:
        if self._run_id is None:
            self._run_id = self._find_run()
            if self._run_id is None:
                return
        while True:
            conn = self._instance.get_records_for_run(self._run_id, cursor=self._cursor, limit=500)
            for record in conn.records:
                self._on(record.event_log_entry)
            self._cursor = conn.cursor
            if not conn.has_more:
                break

    def _on(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        step = entry.step_key
        if event is None:
            if step in self._steps and _LOAD_LINE.match(entry.user_message or ""):
                self._steps[step].detail = entry.user_message
            return
        kind = event.event_type
        if kind == DagsterEventType.STEP_START and step:
            self._steps[step] = _Step(started=entry.timestamp)
            self._line(f"  ▸ {step:<24} started", style="dim")
            if self._status is not None:
                self._status.update(f"running {step}…")
        elif kind == DagsterEventType.ASSET_MATERIALIZATION and step in self._steps:
            self._steps[step].materialized += 1
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION and step in self._steps:
            passed = event.asset_check_evaluation_data.passed
            self._steps[step].checks["passed" if passed else "failed"] += 1
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE) and step:
            s = self._steps.get(step) or _Step(started=entry.timestamp)
            ok = kind == DagsterEventType.STEP_SUCCESS
            took = entry.timestamp - s.started
            what = s.detail or self._counts(s)
            mark, style = ("✓", "green") if ok else ("✗", "bold red")
            verb = "done" if ok else "FAILED"
            self._line(
                f"  {mark} {step:<24} {verb} in {took:6.1f} s" + (f"  ({what})" if what else ""),
                style=style,
            )

    @staticmethod
    def _counts(s: _Step) -> str:
        parts = []
        if s.materialized:
            parts.append(f"{s.materialized:,} assets")
        if s.checks:
            checks = f"{sum(s.checks.values()):,} checks"
            if s.checks["failed"]:
                checks += f", {s.checks['failed']:,} with findings"
            parts.append(checks)
        return ", ".join(parts)

    def _line(self, text: str, style: str) -> None:
        if self._console is not None:
            self._console.print(text, style=style)
        else:
            print(text, file=self._out, flush=True)
