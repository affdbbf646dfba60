"""Launch the ``refresh`` job as a real Dagster run on the local instance.

The run is recorded in ``$DAGSTER_HOME`` (``$REVOPS_HOME/dagster`` unless ``DAGSTER_HOME``
is set), so it appears in the UI's run history (``make dev``) like a run started there.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from dagster_project.definitions import REFRESH_JOB, refresh_job
from dagster_project.defs.resources import DEFAULT_HOME
from dagster_project.progress import RunProgress

SOURCE_DROP_STEP = "source_drop"


def revops_home() -> Path:
    """``$REVOPS_HOME`` (default ``./data``) as an absolute path."""
    return Path(os.environ.get("REVOPS_HOME") or DEFAULT_HOME).expanduser().resolve()


INSTANCE_YAML = """\
# Dagster instance of revops local runs (storage: SQLite files in this directory).
# No usage statistics leave the machine.
telemetry:
  enabled: false
# DuckDB allows one writer: every step that writes the warehouse is in pool
# "duckdb_warehouse", and no pool runs more than one step at a time, across runs too.
concurrency:
  pools:
    default_limit: 1
# A run launched by the UI, a schedule or the sensor whose process died is marked failed
# (and its pool slot freed) by the daemon; runs of the revops CLI are recovered by the next
# revops run, which holds the home's run lock (dagster_project/runlock.py).
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
"""


def write_instance_config(dagster_home: Path) -> None:
    """Write ``dagster.yaml`` (telemetry off, warehouse pool of one) unless one exists."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    instance_yaml = dagster_home / "dagster.yaml"
    if not instance_yaml.exists() or "run_monitoring:" not in instance_yaml.read_text():
        instance_yaml.write_text(INSTANCE_YAML, encoding="utf-8")


def use_local_instance(home: Path) -> Path:
    """Point ``REVOPS_HOME`` and ``DAGSTER_HOME`` at the runtime home; create the latter.

    ``REVOPS_HOME`` is exported so the ``settings`` resource reads the same absolute path
    through ``dg.EnvVar``. An explicitly set ``DAGSTER_HOME`` is kept.

    Returns:
        The Dagster home directory.
    """
    os.environ["REVOPS_HOME"] = str(home)
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home / "dagster").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    write_instance_config(dagster_home)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


# Statuses of a run that has not ended: a run of ours in one of them while we hold the run
# lock (dagster_project.runlock) was in a process that died.
UNFINISHED = (
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)
CLI_TAG = "revops/command"


def recover_dead_runs() -> list[str]:
    """Mark the runs a dead ``revops`` process left unfinished as failed and free their slots.

    Call only while holding the home's run lock: every ``revops run``/``demo`` holds it for
    its whole run, so a run it started that is still unfinished now lost its process (kill -9,
    OOM, reboot). Such a run would keep its ``duckdb_warehouse`` pool slot for ever and every
    later run would wait on it in silence.

    Returns:
        One line per run recovered, saying so.
    """
    lines = []
    with dg.DagsterInstance.get() as instance:
        runs = list(instance.get_runs(filters=dg.RunsFilter(statuses=list(UNFINISHED))))
        foreign = [r for r in runs if CLI_TAG not in r.tags]
        # A revops process killed after Dagster created its run but before the run started
        # (while it records the planned materializations) leaves it NOT_STARTED.
        runs += [
            r
            for r in instance.get_runs(
                filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.NOT_STARTED])
            )
            if CLI_TAG in r.tags
        ]
        if foreign:
            # Launched by the UI, a schedule or the sensor: their process is not ours to judge
            # (Dagster's run monitoring marks a dead one failed).
            from dagster_project.runlock import RunInProgressError

            how = foreign[0].tags.get("revops/trigger", "launched from the UI or a schedule")
            raise RunInProgressError(
                f"run {foreign[0].run_id} ({how}) is in progress on this home: wait for it to "
                "end, or terminate it in the UI (make dev) if its process is gone"
            )
        for run in runs:
            pid = run.tags.get("revops/pid", "?")
            instance.report_run_failed(
                run,
                f"the revops process (pid {pid}) that ran it ended without finishing the run "
                "(killed, out of memory or a reboot); marked failed by the next revops run",
            )
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            lines.append(
                f"run {run.run_id} (pid {pid}) was left unfinished by a process that died: "
                "marked failed and its warehouse slot freed"
            )
    return lines


# Settings a run reads from the environment when it is set (as the resource binds them).
SETTINGS_FROM_ENV = {
    "reporting_currency": "REVOPS_REPORTING_CURRENCY",
    "salesforce_org_currency": "REVOPS_SALESFORCE_ORG_CURRENCY",
    "workflow_db": "REVOPS_WORKFLOW_DB",
}


@dataclass(frozen=True)
class RunOutcome:
    """What a ``refresh`` run did, read back from its event log.

    Attributes:
        run_id: The Dagster run id.
        success: Whether the run succeeded.
        status: The run status as recorded by the instance (``SUCCESS``, ``FAILURE``...).
        source_counts: Records per drop file (``stripe/invoices.jsonl`` -> n), if loaded.
        exported_at: The drop's as-of instant, if the source drop was read.
        failure: One sentence naming what failed and what to do; ``None`` on success.
        failure_detail: The unexpected error's full text (stack included), if any.
        quarantined: Records this run quarantined, per drop file (only files with some).
    """

    run_id: str
    success: bool
    status: str
    source_counts: Mapping[str, int] = field(default_factory=dict)
    exported_at: datetime | None = None
    failure: str | None = None
    failure_detail: str | None = None
    quarantined: Mapping[str, int] = field(default_factory=dict)

    def records_by_system(self) -> dict[str, int]:
        """Records per source system, summed over the drop files."""
        totals: dict[str, int] = {}
        for key, count in self.source_counts.items():
            system = key.split("/", 1)[0]
            totals[system] = totals.get(system, 0) + count
        return totals


def _one_line(text: str) -> str:
    return " ".join(text.split())


def failure_detail(events: Sequence[dg.DagsterEvent]) -> str | None:
    """The full error (with its stack) of the first failed step, unless it raised ``dg.Failure``.

    A ``dg.Failure`` is an expected, explained failure: its one-sentence description is the
    whole story. Anything else is a bug or an environment problem, where the stack helps.
    """
    for event in events:
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        if data.user_failure_data is None and data.error is not None:
            return data.error.to_string()
        return None
    return None


def failure_sentence(events: Sequence[dg.DagsterEvent], run_id: str) -> str:
    """One sentence naming the failed step and what to do, from a run's events.

    A step that raised ``dg.Failure`` (how assets report contract errors such as a
    ``SourceDropError``) already says what to do; any other error is named by its first
    line and points at the run's full log in the UI.
    """
    ui_hint = f"see run {run_id} in the Dagster UI (make dev) for the full log"
    for event in events:
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        step = event.step_key or "unknown step"
        if data.user_failure_data is not None and data.user_failure_data.description:
            return _one_line(f"step {step} failed: {data.user_failure_data.description}")
        if data.error is not None:
            first = data.error.message.strip().splitlines()[0] if data.error.message else ""
            return _one_line(f"step {step} failed: {first or data.error.cls_name}; {ui_hint}")
        return _one_line(f"step {step} failed; {ui_hint}")
    for event in events:
        if event.event_type == dg.DagsterEventType.RUN_FAILURE:
            return _one_line(f"run {run_id} failed before any step: {event.message}; {ui_hint}")
    return _one_line(f"run {run_id} did not succeed; {ui_hint}")


def _source_metadata(
    events: Sequence[dg.DagsterEvent],
) -> tuple[dict[str, int], datetime | None]:
    counts: dict[str, int] = {}
    exported_at: datetime | None = None
    for event in events:
        if not event.is_step_materialization or event.step_key != SOURCE_DROP_STEP:
            continue
        for key, value in event.step_materialization_data.materialization.metadata.items():
            if "/" in key and isinstance(value, dg.IntMetadataValue) and value.value is not None:
                counts[key] = value.value
            elif key == "exported_at" and isinstance(value, dg.TimestampMetadataValue):
                exported_at = datetime.fromtimestamp(value.value, tz=UTC)
    return counts, exported_at


def _quarantined(events: Sequence[dg.DagsterEvent]) -> dict[str, int]:
    """Records quarantined by this run's raw loads, per drop file (``stripe/invoices.jsonl``),
    from the ``quarantined`` figure each object's raw table materialization carries."""
    from connectors.schemas import SPECS

    files: dict[tuple[str, ...], str] = {
        (f"raw_{system}", spec.table): f"{system}/{spec.file_name}"
        for system, specs in SPECS.items()
        for spec in specs
    }
    out: dict[str, int] = {}
    for event in events:
        if not event.is_step_materialization:
            continue
        materialization = event.step_materialization_data.materialization
        value = materialization.metadata.get("quarantined")
        path = tuple(materialization.asset_key.path)
        if isinstance(value, dg.IntMetadataValue) and value.value and path in files:
            out[files[path]] = out.get(files[path], 0) + value.value
    return dict(sorted(out.items()))


def run_refresh(
    *,
    source_dir: Path | None = None,
    source: str = "files",
    tags: Mapping[str, str] | None = None,
    log_level: str = "CRITICAL",
    progress: bool = False,
) -> RunOutcome:
    """Execute ``refresh`` on the local instance (``$DAGSTER_HOME`` must be set).

    Uses ``dg.execute_job(dg.reconstructable(refresh_job), instance=...)``: the run is
    stored with a code pointer to ``dagster_project.definitions``, like a launched run.

    Args:
        source_dir: The drop directory; ``None`` keeps the resource default
            (``$REVOPS_SOURCE_DIR``, else ``$REVOPS_HOME/drop``).
        source: ``files`` (a drop) or ``api`` (the vendors' APIs, credentials from the
            environment).
        tags: Extra run tags.
        log_level: Level of Dagster's console log; the default silences it (the run's event
            log in the instance keeps everything).
        progress: Print each step as it starts and ends (``dagster_project.progress``).

    Returns:
        The outcome, read back from the run's events.
    """
    run_config: dict[str, object] = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    # Run config replaces the resource's whole config, so every field is given: the ones the
    # command does not set are read from the environment at run time, as the resource binds.
    settings: dict[str, object] = {"home": {"env": "REVOPS_HOME"}, "source": source}
    if source_dir is not None:
        settings["source_dir"] = str(source_dir.expanduser().resolve())
    for name, variable in SETTINGS_FROM_ENV.items():
        if variable in os.environ:
            settings[name] = {"env": variable}
    run_config["resources"] = {"settings": {"config": settings}}
    launch = uuid.uuid4().hex  # finds this run in the instance while it runs
    all_tags = {
        "revops/job": REFRESH_JOB,
        "revops/pid": str(os.getpid()),
        "revops/launch": launch,
        **(tags or {}),
    }
    with dg.DagsterInstance.get() as instance:
        follow = ("revops/launch", launch)
        watch = RunProgress(instance, follow) if progress else contextlib.nullcontext()
        with watch:
            result = dg.execute_job(
                dg.reconstructable(refresh_job),
                instance=instance,
                run_config=run_config,
                tags=all_tags,
            )
        run = instance.get_run_by_id(result.run_id)
        status = run.status.value if run is not None else ("SUCCESS" if result.success else "?")
    events = list(result.all_events)
    counts, exported_at = _source_metadata(events)
    return RunOutcome(
        run_id=result.run_id,
        success=result.success,
        status=status,
        source_counts=counts,
        exported_at=exported_at,
        failure=None if result.success else failure_sentence(events, result.run_id),
        failure_detail=None if result.success else failure_detail(events),
        quarantined=_quarantined(events),
    )
