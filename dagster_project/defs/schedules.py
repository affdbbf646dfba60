"""When ``refresh`` runs by itself: every morning, and whenever a new source drop arrives.

No ``from __future__ import annotations``: Dagster reads these annotations at definition time.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from connectors.drop import check_same_company, default_drop_dir, inspect_drop
from connectors.errors import SourceDropError
from connectors.inbox import find_drops
from dagster_project.defs.resources import DEFAULT_HOME
from dagster_project.runlock import held_by

REFRESH = "refresh"


@dg.schedule(
    name="daily_refresh",
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    job_name=REFRESH,
    description="Refresh everything every day at 06:00 UTC (after the nightly exports); a "
    "tick whose drop breaks its contract is skipped with the reason, launching nothing.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def daily_refresh(context: dg.ScheduleEvaluationContext) -> dg.SkipReason | dg.RunRequest:
    home = Path(os.environ.get("REVOPS_HOME") or DEFAULT_HOME).expanduser().resolve()
    drop = default_drop_dir(home)  # the drop the settings resource reads by default
    if os.environ.get("REVOPS_SOURCE", "files") == "files":
        try:
            check_same_company(home, inspect_drop(drop).manifest)
        except SourceDropError as bad:
            return dg.SkipReason(f"not run, the drop breaks its contract: {bad}")
    return dg.RunRequest()


def watched_directory() -> Path:
    """REVOPS_INBOX, default $REVOPS_HOME/inbox: where exports drop their directories."""
    home = Path(os.environ.get("REVOPS_HOME") or DEFAULT_HOME).expanduser().resolve()
    return Path(os.environ.get("REVOPS_INBOX") or home / "inbox").expanduser().resolve()


@dg.sensor(
    name="new_source_drop",
    job_name=REFRESH,
    minimum_interval_seconds=30,
    description="Starts one refresh run per new source drop (a directory with manifest.json) "
    "in REVOPS_INBOX (default $REVOPS_HOME/inbox).",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def new_source_drop(
    context: dg.SensorEvaluationContext,
) -> Iterator[dg.SkipReason | dg.RunRequest]:
    home = Path(os.environ.get("REVOPS_HOME") or DEFAULT_HOME).expanduser().resolve()
    busy = held_by(home)
    if busy:
        # One run per home: the drop waits for the next tick (the cursor is not moved).
        yield dg.SkipReason(f"{busy} is using {home}; new drops are picked up when it ends")
        return
    seen = set(filter(None, (context.cursor or "").split("\n")))
    drops, refused = [], []
    for drop in find_drops(watched_directory()):
        if drop.key in seen:
            continue
        try:
            # pre-flight: a bad drop, or another company's, never launches a run
            check_same_company(home, inspect_drop(drop.path).manifest)
        except SourceDropError as bad:
            refused.append(f"{drop.path}: {bad}")  # looked at again next tick (still arriving?)
            continue
        drops.append(drop)
    for reason in refused:
        context.log.warning("not run: %s", reason)
    for drop in drops:
        yield dg.RunRequest(
            run_key=drop.key,
            run_config={
                "resources": {
                    "settings": {
                        "config": {"source_dir": str(drop.path), "home": {"env": "REVOPS_HOME"}}
                    }
                }
            },
            tags={"revops/source_dir": str(drop.path), "revops/trigger": "new_source_drop"},
        )
    if drops:
        context.update_cursor("\n".join(sorted(seen | {d.key for d in drops})))
    elif refused:
        yield dg.SkipReason("not run, the drop breaks its contract: " + "; ".join(refused))
    else:
        yield dg.SkipReason(f"no new drop in {watched_directory()}")
