"""The dbt models as Dagster assets: ``dbt build`` in one step, tests as asset checks.

The step runs in pool ``duckdb_warehouse`` (DuckDB has one writer, like the raw loads) and
hands dbt the run's home and currencies as dbt vars (``--vars``: ``revops_home`` for the
profile, ``reporting_currency``, ``salesforce_org_currency``). dbt's console log goes to
``console.log`` beside its other artifacts (run_results.json, dbt.log) in
``$REVOPS_HOME/dbt/<run id>/``, not to the terminal or the event log.

No ``from __future__ import annotations``: Dagster reads these annotations at definition time.
"""

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from dagster_project.defs.dbt.figures import with_figures
from dagster_project.defs.dbt.project import (
    RevopsDbtCliResource,
    dbt_executable,
    dbt_project,
    manifest_path,
)
from dagster_project.defs.dbt.translator import RevopsDbtTranslator
from dagster_project.defs.resources import RevopsSettings
from reconciliation.source_gaps import explain_failed_tests


def dbt_vars(settings: RevopsSettings) -> dict[str, str]:
    """The run's configuration as dbt vars (``--vars``): the home ``dbt/profiles.yml`` points
    at and the currencies ``dbt_project.yml`` declares, given to the invocation instead of
    written into this process's environment."""
    return {
        "revops_home": str(settings.home_path),
        "reporting_currency": settings.reporting_currency,
        "salesforce_org_currency": settings.salesforce_org_currency or settings.reporting_currency,
    }


CONSOLE_LOG = "console.log"  # dbt's console output of the step, in its target directory
KEEP_RUNS = 5  # dbt artifacts (run_results, logs, compiled SQL) of the latest runs are kept


def prune_artifacts(root: Path, keep: int) -> None:
    """Delete all but the ``keep`` most recent per-run dbt target directories under ``root``."""
    runs = sorted((d for d in root.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime)
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


PARSE_CACHE = "partial_parse.msgpack"  # dbt's parse of the project, kept per home


def reuse_parse(home_dbt: Path, target: Path) -> None:
    """Start ``target`` from the home's last parse of the project, when there is one.

    dbt re-parses the whole project when the profile differs from the parse it is given (the
    warehouse path is in the profile, so the parse ``make dbt-prepare`` wrote never fits a
    home); the home's own last parse does, and dbt still re-reads every file that changed.
    """
    cached = home_dbt / PARSE_CACHE
    if cached.is_file():
        shutil.copyfile(cached, target / PARSE_CACHE)


def keep_parse(target: Path, home_dbt: Path) -> None:
    """Keep this invocation's parse as the home's (written whole, then renamed into place)."""
    fresh = target / PARSE_CACHE
    if fresh.is_file():
        partial = home_dbt / f".{PARSE_CACHE}.{os.getpid()}.tmp"
        shutil.copyfile(fresh, partial)
        os.replace(partial, home_dbt / PARSE_CACHE)


def failed_nodes(target: Path) -> list[str]:
    """Names of the nodes that errored or failed, from the invocation's run_results.json."""
    results = target / "run_results.json"
    if not results.is_file():
        return []
    names = []
    for result in json.loads(results.read_text(encoding="utf-8")).get("results", []):
        if result.get("status") in ("error", "fail"):
            # model.revops.<name>, test.revops.<name>.<hash>, unit_test.revops.<model>.<name>
            parts = result["unique_id"].split(".")
            names.append(".".join(parts[2:4]) if parts[0] == "unit_test" else parts[2])
    return names


@dbt_assets(
    manifest=manifest_path(),
    project=dbt_project(),
    dagster_dbt_translator=RevopsDbtTranslator(),
    pool="duckdb_warehouse",
    name="dbt_models",
)
def dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: RevopsSettings
) -> Iterator[Any]:
    """``dbt build``: staging, intermediate, core and metrics, with every test and unit test.

    dbt's events are held until dbt exits (it holds the warehouse until then), then yielded
    with each model's row count and the metric models' MRR, ARR and customers attached
    (``figures``); the models that were built keep their materialization when others fail.
    """
    target = settings.home_path / "dbt" / context.run.run_id
    events: list[Any] = []
    manifest: Mapping[str, Any] = {}
    try:
        target.mkdir(parents=True, exist_ok=True)
        reuse_parse(target.parent, target)
        # dbt's console lines go to a file beside dbt.log, not to the event log: one event per
        # line cost a run several seconds, and dbt.log holds the same lines with their detail.
        args = ["build", "--vars", json.dumps(dbt_vars(settings))]
        with (
            (target / CONSOLE_LOG).open("w", encoding="utf-8") as console,
            redirect_stdout(console),
        ):
            invocation = dbt.cli(args, context=context, target_path=target)
            manifest = invocation.manifest
            events.extend(invocation.stream())
        keep_parse(target, target.parent)
        prune_artifacts(target.parent, keep=KEEP_RUNS)
    except DagsterDbtCliRuntimeError as err:
        yield from with_figures(events, manifest, settings.warehouse_path, context.log)
        failed = failed_nodes(target)
        # A test that failed for want of source data is said as a sentence about the source.
        warehouse = str(settings.warehouse_path)
        gaps = explain_failed_tests(warehouse, failed, settings.reporting_currency)
        if gaps:
            raise dg.Failure(description="; ".join(gaps), allow_retries=False) from err
        what = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        raise dg.Failure(
            description=f"dbt build failed ({what or err}); see {target / 'dbt.log'} for the "
            "failing SQL and rows, fix the data or the model, then run again",
            allow_retries=False,
        ) from err
    yield from with_figures(events, manifest, settings.warehouse_path, context.log)


@dg.definitions
def dbt_definitions() -> dg.Definitions:
    """The dbt assets and the ``dbt`` resource (this environment's dbt, project in ``dbt/``)."""
    return dg.Definitions(
        assets=[dbt_models],
        resources={
            "dbt": RevopsDbtCliResource(
                # DbtCliResource.__init__ takes a DbtProject, but mypy types a subclass's
                # constructor from the fields (dagster's config classes are a dataclass
                # transform), where project_dir is a str.
                project_dir=dbt_project(),  # type: ignore[arg-type]
                dbt_executable=dbt_executable(),
            )
        },
    )
