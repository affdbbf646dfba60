"""Jobs of the code location."""

from __future__ import annotations

import dagster as dg

# The refresh pipeline is the whole asset graph: source drop -> raw load -> dbt models
# -> reconciliation -> publish. Selecting every asset (and, with it, every asset check)
# means assets added by later modules join the job without touching this file.
#
# In-process executor: every step that writes the warehouse shares one DuckDB file,
# and DuckDB allows a single writer process ("Could not set lock on file" otherwise).
refresh_job = dg.define_asset_job(
    name="refresh",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Refresh everything: load the source drop, build the marts, reconcile, publish.",
)
