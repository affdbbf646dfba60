"""How dbt resources appear in the Dagster asset graph.

- dbt source ``raw_<system>.<table>`` -> ``AssetKey(["raw_<system>", "<table>"])``: exactly the
  keys the raw multi-assets (``defs/raw/assets.py``) and ``raw_meta/source_state``
  (``defs/dbt/raw_meta.py``) materialize, so each model sits below the load that feeds it.
- dbt model -> ``AssetKey([<schema>, <name>])`` (``core/customers``, ``metrics/mrr_monthly``,
  ``staging/stg_stripe__invoices``), the relation it builds.
- group = layer (``staging``, ``intermediate``, ``core``, ``metrics``); owners by layer.
- the reconciliation checks (``models/reconciliation/``, schema ``recon_checks``) are in group
  ``recon`` beside the ``reconciliation`` asset that reads them, each owned by the team its
  exceptions go to (``config.meta.owner``), their union by finance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

LAYERS = ("staging", "intermediate", "core", "metrics", "reconciliation")
OWNERS = {
    "staging": ["team:engineering"],
    "intermediate": ["team:engineering"],
    "core": ["team:revops"],
    "metrics": ["team:finance"],
    "reconciliation": ["team:finance"],
}
# A layer's Dagster group, where it is not the layer's name.
GROUPS = {"reconciliation": "recon"}


def layer_of(dbt_resource_props: Mapping[str, Any]) -> str | None:
    """The model's layer: its first folder under ``models/`` (``None`` for other resources)."""
    fqn = dbt_resource_props.get("fqn") or []
    if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2 and fqn[1] in LAYERS:
        return fqn[1]
    return None


class RevopsDbtTranslator(DagsterDbtTranslator):
    """Keys that line up with the raw assets, groups by layer, owners by layer."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        if dbt_resource_props["resource_type"] == "model":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        layer = layer_of(dbt_resource_props)
        if layer:
            return GROUPS.get(layer, layer)
        return super().get_group_name(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        layer = layer_of(dbt_resource_props)
        if not layer:
            return super().get_owners(dbt_resource_props)
        meta = (dbt_resource_props.get("config") or {}).get("meta") or {}
        if layer == "reconciliation" and meta.get("owner"):
            return [f"team:{meta['owner']}"]
        return OWNERS[layer]
