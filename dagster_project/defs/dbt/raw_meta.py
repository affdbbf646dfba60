"""``raw_meta/source_state``: which exports the warehouse holds, whence its as-of instant.

Every raw load appends the drop's ``exported_at`` to ``raw_meta.source_state``; the dbt model
``intermediate/int_as_of`` derives the as-of instant from it (the newest ``exported_at``), the
one definition the models, the checks and ``reconciliation.run`` read, and its materialization
shows it (``figures``). This asset makes the table a node of the lineage graph, below the
three raw loads and above dbt, counts its loads, and fails a run that loaded nothing.

No ``from __future__ import annotations``: Dagster reads these annotations at definition time.
"""

import dagster as dg

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
    "system load); the newest exported_at is the as-of instant of MRR and of every SLA "
    "(intermediate/int_as_of).",
)
def source_state(settings: RevopsSettings) -> dg.MaterializeResult:
    with settings.warehouse() as con:
        [(loads, exported)] = con.sql(
            "SELECT count(*), count(exported_at) FROM raw_meta.source_state"
        ).fetchall()
    if not exported:
        raise dg.Failure(
            description="raw_meta.source_state is empty: no source was loaded, so the warehouse "
            "has no as-of instant; load a drop (revops run) first",
            allow_retries=False,
        )
    return dg.MaterializeResult(metadata={"loads": dg.MetadataValue.int(int(loads))})
