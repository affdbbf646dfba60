"""``raw_meta/source_state``: which exports the warehouse holds, and so its as-of instant.

Every raw load appends the drop's ``exported_at`` to ``raw_meta.source_state``; the dbt
models read the as-of instant (the newest ``exported_at``) from it through the source
``raw_meta.source_state``. This asset makes that table a node of the lineage graph, below
the three raw loads and above dbt, and reports the as-of instant.

No ``from __future__ import annotations``: Dagster reads these annotations at definition time.
"""

import dagster as dg

from connectors.load.warehouse import connect
from dagster_project.defs.raw.assets import raw_table_keys
from dagster_project.defs.resources import RevopsSettings

# One key of each system's raw multi-asset: the whole load of a system is one step.
RAW_LOADS = [raw_table_keys(system)[0][0] for system in ("salesforce", "stripe", "netsuite")]


@dg.asset(
    key=dg.AssetKey(["raw_meta", "source_state"]),
    deps=RAW_LOADS,
    group_name="raw",
    owners=["team:engineering"],
    kinds={"duckdb"},
    pool="duckdb_warehouse",
    description="raw_meta.source_state: the exports loaded into the warehouse (one row per "
    "system load); the newest exported_at is the as-of instant of MRR and of every SLA.",
)
def source_state(settings: RevopsSettings) -> dg.MaterializeResult:
    con = connect(settings.home_path / "warehouse.duckdb")
    try:
        as_of, loads = con.sql(
            "SELECT max(exported_at), count(*) FROM raw_meta.source_state"
        ).fetchall()[0]
    finally:
        con.close()
    if as_of is None:
        raise dg.Failure(
            description="raw_meta.source_state is empty: no source was loaded, so the warehouse "
            "has no as-of instant; load a drop (revops run) first",
            allow_retries=False,
        )
    return dg.MaterializeResult(
        metadata={"as_of": dg.MetadataValue.timestamp(as_of), "loads": loads}
    )
