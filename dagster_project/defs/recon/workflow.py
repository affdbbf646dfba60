"""The ``exception_workflow`` asset: people's state of the exceptions merged with this run's.

After ``reconciliation`` updated the queue, the workflow store (``reconciliation.workflow``)
learns what the data did: exceptions the data resolved are closed, accepted exceptions whose
amount or detail changed reopen, ended snoozes reopen. The work is in the library; this
module wires it and reports what changed. The store's URL may carry a password: only its
redacted form reaches metadata and logs.

No ``from __future__ import annotations``: Dagster reads these annotations at definition time.
"""

from datetime import UTC, datetime

import dagster as dg

from dagster_project.defs.recon.assets import reconciliation
from dagster_project.defs.resources import RevopsSettings
from reconciliation.workflow.merge import merge_run
from reconciliation.workflow.store import WorkflowStore, WorkflowStoreError
from reconciliation.workflow.targets import load_targets


@dg.asset(
    group_name="recon",
    deps=[reconciliation],
    owners=["team:finance"],
    kinds={"sqlalchemy"},
    pool="duckdb_warehouse",
    description="The exception workflow store (REVOPS_WORKFLOW_DB, default "
    "$REVOPS_HOME/workflow.sqlite): people's state of each exception (acknowledged, assigned, "
    "snoozed, accepted) merged with this run's findings, every change an audit row.",
)
def exception_workflow(
    context: dg.AssetExecutionContext, settings: RevopsSettings
) -> dg.MaterializeResult:
    try:
        store = WorkflowStore(settings.workflow_url)
    except WorkflowStoreError as err:
        raise dg.Failure(description=str(err), allow_retries=False) from None
    try:
        states = store.states()
        with settings.warehouse(read_only=True) as con:
            published = load_targets(con, states.keys())
        summary = merge_run(store, published, run_id=context.run.run_id, now=datetime.now(UTC))
    except WorkflowStoreError as err:
        raise dg.Failure(description=str(err), allow_retries=False) from None
    finally:
        store.close()
    return dg.MaterializeResult(
        metadata={
            "store": store.where,
            "exceptions_with_people_state": dg.MetadataValue.int(len(states)),
            "changed_by_this_run": dg.MetadataValue.int(summary.total),
            **{action: dg.MetadataValue.int(n) for action, n in sorted(summary.changes.items())},
        }
    )
