"""Assets of the ``sources`` group: the source drop a run reads.

No ``from __future__ import annotations`` here: Dagster inspects the annotations of an
asset function at definition time (the ``context`` type, resource parameters) and needs
real classes, not strings.
"""

import dagster as dg

from connectors.drop import inspect_drop, record_drop
from connectors.errors import SourceDropError
from dagster_project.defs.resources import RevopsSettings


@dg.asset(
    group_name="sources",
    owners=["team:engineering"],
    description=(
        "The source drop (files mode): manifest and every Salesforce, Stripe and NetSuite "
        "file, checked against the drop contract and counted."
    ),
)
def source_drop(
    context: dg.AssetExecutionContext, settings: RevopsSettings
) -> dg.MaterializeResult:
    """Check the drop directory and record its as-of instant and per-file record counts."""
    if settings.source == "api":
        # api mode has no drop: the raw assets extract from the vendors' APIs directly.
        return dg.MaterializeResult(metadata={"mode": "api"})
    try:
        inventory = inspect_drop(settings.source_path)
        record_drop(settings.home_path, inventory)
    except SourceDropError as err:
        # The message names the file and the fix; a traceback into the check adds nothing.
        raise dg.Failure(
            description=str(err),
            metadata={"path": dg.MetadataValue.path(str(err.path))},
            allow_retries=False,
        ) from None
    if inventory.absent:
        context.log.info("optional files absent (no records): %s", ", ".join(inventory.absent))
    metadata: dict[str, dg.RawMetadataValue] = {
        "exported_at": dg.MetadataValue.timestamp(inventory.exported_at),
        "source_dir": dg.MetadataValue.path(str(inventory.root)),
        "total_records": dg.MetadataValue.int(sum(inventory.counts.values())),
    }
    metadata.update({key: dg.MetadataValue.int(n) for key, n in inventory.counts.items()})
    metadata["files"] = dg.MetadataValue.md(inventory.to_markdown())
    return dg.MaterializeResult(metadata=metadata)
