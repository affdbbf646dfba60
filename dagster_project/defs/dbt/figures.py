"""What the UI shows on each dbt asset once ``dbt build`` ends: rows, and the business figures.

dbt holds the warehouse for the whole build (DuckDB has one writer per file), so no model can
be read while it runs. dagster-dbt's ``.fetch_row_counts()`` knows that (on DuckDB it waits
for dbt to exit, then reads through dbt's adapter) but it skips views, and the whole staging
layer is views. So the step keeps dbt's events until dbt exits, then opens the warehouse once,
read-only, and attaches to each model's materialization event:

- ``dagster/row_count`` (the catalog's "Rows" column and the asset's row-count plot), for
  tables and views alike;
- on the metric models, the headline of the latest month of entity ``ALL`` (MRR, ARR, active
  customers; the MRR bridge's movements), as numbers, so the asset's Plots tab draws their
  history run after run;
- on ``intermediate/int_as_of``, the as-of instant of the build (a timestamp), as dbt derived
  it: the one definition the models, the checks and ``reconciliation.run`` read.

A figure that cannot be read (a model that failed, an amount null for want of an FX rate) is
left out with a warning in the run's log; it never fails the step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from connectors.load.warehouse import connect

# The headline of each metric model: one row, the latest month of the whole company.
HEADLINES: dict[tuple[str, str], str] = {
    ("metrics", "saas_metrics"): """
        SELECT month, mrr, arr, active_customers, arpa, nrr_12m, grr_12m
        FROM metrics.saas_metrics WHERE entity = 'ALL' ORDER BY month DESC LIMIT 1""",
    ("metrics", "mrr_bridge"): """
        SELECT month, starting_mrr, new AS new_mrr, expansion AS expansion_mrr,
               contraction AS contraction_mrr, churn AS churned_mrr,
               reactivation AS reactivation_mrr, fx AS fx_mrr, ending_mrr,
               active_customers, new_customers, churned_customers
        FROM metrics.mrr_bridge WHERE entity = 'ALL' ORDER BY month DESC LIMIT 1""",
    ("metrics", "mrr_monthly"): """
        SELECT month, sum(mrr_reporting) AS mrr,
               count(DISTINCT customer_id) FILTER (WHERE is_active) AS active_customers
        FROM metrics.mrr_monthly
        WHERE month = (SELECT max(month) FROM metrics.mrr_monthly)
        GROUP BY month""",
    ("intermediate", "int_as_of"): "SELECT as_of_at AS as_of FROM intermediate.int_as_of",
}
# Counts are whole numbers; every other figure is an amount or a ratio.
COUNTS = {"active_customers", "new_customers", "churned_customers"}

ModelEvent = dg.Output | dg.AssetMaterialization


def headline_metadata(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, dg.MetadataValue]:
    """The headline row of ``sql`` as metadata: ``month`` as text, each figure as a number."""
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    if row is None:
        return {}
    out: dict[str, dg.MetadataValue] = {}
    for name, value in zip(names, row, strict=True):
        if value is None:
            continue
        if name == "month":
            out["month"] = dg.MetadataValue.text(f"{value:%Y-%m}")
        elif isinstance(value, datetime):
            out[name] = dg.MetadataValue.timestamp(value)
        elif name in COUNTS:
            out[name] = dg.MetadataValue.int(int(value))
        else:
            out[name] = dg.MetadataValue.float(float(value))
    return out


def model_figures(
    warehouse: Path,
    models: Mapping[str, Mapping[str, Any]],
    log: logging.Logger | dg.DagsterLogManager,
) -> dict[str, dict[str, dg.MetadataValue]]:
    """Metadata by dbt ``unique_id``: rows of every model, headline of the metric models.

    Args:
        warehouse: The DuckDB file dbt built (dbt has exited: it is free to read).
        models: The manifest's nodes of the models built, by ``unique_id``.
        log: Where a figure that could not be read is said.
    """
    figures: dict[str, dict[str, dg.MetadataValue]] = {}
    if not models or not warehouse.is_file():
        return figures
    con = connect(warehouse, read_only=True)
    try:
        for unique_id, node in models.items():
            schema, name = node["schema"], node.get("alias") or node["name"]
            meta: dict[str, dg.MetadataValue] = {}
            try:
                [(rows,)] = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchall()
                meta["dagster/row_count"] = dg.MetadataValue.int(int(rows))
                sql = HEADLINES.get((schema, node["name"]))
                if sql:
                    meta |= headline_metadata(con, sql)
            except duckdb.Error as err:
                log.warning(f"no figures for {schema}.{name}: {' '.join(str(err).split())}")
            figures[unique_id] = meta
    finally:
        con.close()
    return figures


def with_figures(
    events: Iterable[Any],
    manifest: Mapping[str, Any],
    warehouse: Path,
    log: logging.Logger | dg.DagsterLogManager,
) -> Iterator[Any]:
    """dbt's events, each model's materialization with its figures attached (others as is)."""
    events = list(events)
    nodes = manifest.get("nodes", {})
    built = {
        uid: nodes[uid]
        for uid in (_unique_id(e) for e in events if isinstance(e, ModelEvent))
        if uid is not None and uid in nodes and nodes[uid].get("resource_type") == "model"
    }
    figures = model_figures(warehouse, built, log)
    for event in events:
        uid = _unique_id(event) if isinstance(event, ModelEvent) else None
        extra = figures.get(uid) if uid else None
        yield event.with_metadata({**event.metadata, **extra}) if extra else event


def _unique_id(event: ModelEvent) -> str | None:
    value: object = event.metadata.get("unique_id")
    if isinstance(value, dg.TextMetadataValue):
        return value.text
    return value if isinstance(value, str) else None
