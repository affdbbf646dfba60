"""Assets of the ``recon`` and ``publish`` groups: checks, the finance report, the snapshot.

The checks are dbt models (``dbt/models/reconciliation/``: dbt assets of group ``recon``,
each below exactly the models it reads); ``reconciliation`` reads their union
(``recon_checks/check_populations``), which runs them, and updates the exception queue. Every
check of ``reconciliation.catalog`` is also an asset check on ``reconciliation`` (severity
WARN: an exception is a finding for a team, not a broken pipeline), with its figures of the
run. The work is ``reconciliation``; this module only wires it and reports figures as metadata.

The figures a person follows run after run are numbers (``MetadataValue.int``/``float``), so
the asset's Plots tab draws their history: open exceptions and the amount at risk on
``reconciliation``. The published assets (the finance report, the serving snapshot) carry a
freshness policy: the UI flags them when their last materialization is more than a day old
(the daily schedule missed, or its runs failing).

No ``from __future__ import annotations``: Dagster reads these annotations at definition time.
"""

from collections.abc import Iterator
from datetime import timedelta

import dagster as dg
import duckdb
from dagster_dbt import get_asset_key_for_model

from dagster_project.defs.dbt.assets import dbt_models
from dagster_project.defs.resources import RevopsSettings
from reconciliation import metrics
from reconciliation.catalog import POPULATIONS_MODEL, catalog
from reconciliation.publish import PUBLISHED_RAW_TABLES, PUBLISHED_SCHEMAS, publish_snapshot
from reconciliation.report import write_report
from reconciliation.run import ReconError, run_checks

# The union of the check models: the asset below reads it (and so runs every check).
POPULATIONS = get_asset_key_for_model([dbt_models], POPULATIONS_MODEL)
# The serving snapshot copies every table of the published schemas: each dbt model there.
PUBLISHED_MODELS = sorted(
    (k for k in dbt_models.keys if k.path[0] in PUBLISHED_SCHEMAS),
    key=lambda k: k.to_user_string(),
)
# ... and each system's quarantine, as its raw load writes it.
PUBLISHED_RAW = [dg.AssetKey(table.qualified.split(".")) for table in PUBLISHED_RAW_TABLES]

CHECK_SPECS = [
    dg.AssetCheckSpec(
        name=check.check_id,
        asset="reconciliation",
        description=f"{check.title} ({' vs '.join(check.compares)}; owner: {check.owner})"
        if len(check.compares) == 2
        else f"{check.title} ({', '.join(check.compares)}; owner: {check.owner})",
        blocking=False,
    )
    for check in catalog()
]

# Published once a day by the daily schedule; older than a day means a day was missed.
PUBLISHED_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(days=1))


def _worst_ten(con: duckdb.DuckDBPyConnection, check_id: str) -> str:
    rows = con.execute(
        "SELECT record_id, severity, amount_at_risk_reporting, detail FROM recon.exceptions "
        "WHERE status = 'open' AND check_id = ? "
        "ORDER BY amount_at_risk_reporting DESC NULLS LAST, record_id LIMIT 10",
        [check_id],
    ).fetchall()
    if not rows:
        return "No open exceptions."
    lines = ["| record | severity | at risk | detail |", "|---|---|---|---|"]
    lines += [f"| {r} | {s} | {a or 0:,.2f} | {d.replace('|', '/')} |" for r, s, a, d in rows]
    return "\n".join(lines)


@dg.asset(
    group_name="recon",
    deps=[POPULATIONS],
    check_specs=CHECK_SPECS,
    owners=["team:finance"],
    kinds={"duckdb"},
    pool="duckdb_warehouse",
    description="Runs every reconciliation check in the warehouse (reads their union, "
    "recon_checks.check_populations) and updates the exception queue (recon.exceptions, "
    "recon.exception_events, recon.check_runs).",
)
def reconciliation(
    context: dg.AssetExecutionContext, settings: RevopsSettings
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    with settings.warehouse() as con:
        try:
            summaries = run_checks(con, run_id=context.run.run_id)
        except ReconError as err:
            raise dg.Failure(description=str(err), allow_retries=False) from None
        by_owner = metrics.summary_by_owner(con)
        open_total = sum(s.exceptions_open for s in summaries)
        at_risk = sum(s.amount_at_risk_reporting for s in summaries)
        yield dg.MaterializeResult(
            metadata={
                "open_exceptions": dg.MetadataValue.int(int(open_total)),
                "amount_at_risk_reporting": dg.MetadataValue.float(round(float(at_risk), 2)),
                "high_severity_open": dg.MetadataValue.int(sum(int(o["high"]) for o in by_owner)),
                "new_exceptions": dg.MetadataValue.int(
                    int(sum(s.exceptions_new for s in summaries))
                ),
                "resolved_exceptions": dg.MetadataValue.int(
                    int(sum(s.exceptions_resolved for s in summaries))
                ),
                "by_owner": dg.MetadataValue.md(
                    "| owner | open | at risk |\n|---|---|---|\n"
                    + "\n".join(
                        f"| {o['owner']} | {o['open_exceptions']} | "
                        f"{float(o['amount_at_risk']):,.2f} |"
                        for o in by_owner
                    )
                ),
            }
        )
        for s in summaries:
            yield dg.AssetCheckResult(
                check_name=s.check_id,
                passed=s.exceptions_open == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "records_checked": dg.MetadataValue.int(int(s.records_checked)),
                    "open": dg.MetadataValue.int(int(s.exceptions_open)),
                    "new": dg.MetadataValue.int(int(s.exceptions_new)),
                    "resolved": dg.MetadataValue.int(int(s.exceptions_resolved)),
                    "amount_at_risk_reporting": dg.MetadataValue.float(
                        float(s.amount_at_risk_reporting)
                    ),
                    "owner": s.owner,
                    "worst_ten": dg.MetadataValue.md(_worst_ten(con, s.check_id)),
                },
            )


@dg.asset(
    group_name="publish",
    deps=[
        reconciliation,
        dg.AssetKey(["metrics", "mrr_bridge"]),
        dg.AssetKey(["metrics", "saas_metrics"]),
    ],
    owners=["team:finance"],
    kinds={"html"},
    freshness_policy=PUBLISHED_FRESHNESS,
    pool="duckdb_warehouse",
    description="The finance report of this run: one self-contained HTML file under "
    "$REVOPS_HOME/reports/ (and reports/latest.html).",
)
def finance_report(
    context: dg.AssetExecutionContext, settings: RevopsSettings
) -> dg.MaterializeResult:
    with settings.warehouse(read_only=True) as con:
        path = write_report(
            con, settings.home_path / "reports", context.run.run_id, settings.reporting_currency
        )
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path))})


@dg.asset(
    group_name="publish",
    deps=[reconciliation, finance_report, *PUBLISHED_MODELS, *PUBLISHED_RAW],
    owners=["team:engineering"],
    kinds={"duckdb"},
    freshness_policy=PUBLISHED_FRESHNESS,
    pool="duckdb_warehouse",
    description="serving/revenue.duckdb: core, metrics and recon of the last complete build "
    "and each system's quarantine, replaced atomically (readers of the old file keep working; "
    "a failed run keeps it).",
)
def serving_snapshot(settings: RevopsSettings) -> dg.MaterializeResult:
    home = settings.home_path
    counts = publish_snapshot(settings.warehouse_path, home / "serving" / "revenue.duckdb")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(home / "serving" / "revenue.duckdb")),
            "tables": dg.MetadataValue.int(len(counts)),
            "rows": dg.MetadataValue.int(int(sum(counts.values()))),
        }
    )
