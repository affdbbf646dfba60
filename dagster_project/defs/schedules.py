"""When ``refresh`` runs by itself: every morning, and whenever a new source drop arrives.

No ``from __future__ import annotations``: Dagster reads these annotations at definition time.
"""

import os
from pathlib import Path

import dagster as dg

from connectors.inbox import find_drops
from dagster_project.defs.resources import DEFAULT_HOME
from dagster_project.runlock import held_by

REFRESH = "refresh"

daily_refresh = dg.ScheduleDefinition(
    name="daily_refresh",
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    job_name=REFRESH,
    description="Refresh everything every day at 06:00 UTC (after the nightly exports).",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


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
def new_source_drop(context: dg.SensorEvaluationContext):
    home = Path(os.environ.get("REVOPS_HOME") or DEFAULT_HOME).expanduser().resolve()
    busy = held_by(home)
    if busy:
        # One run per home: the drop waits for the next tick (the cursor is not moved).
        yield dg.SkipReason(f"{busy} is using {home}; new drops are picked up when it ends")
        return
    seen = set(filter(None, (context.cursor or "").split("\n")))
    drops = [d for d in find_drops(watched_directory()) if d.key not in seen]
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
    else:
        yield dg.SkipReason(f"no new drop in {watched_directory()}")
