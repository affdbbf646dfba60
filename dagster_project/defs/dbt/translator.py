"""How dbt resources appear in the Dagster asset graph.

- dbt source ``raw_<system>.<table>`` -> ``AssetKey(["raw_<system>", "<table>"])``: exactly the
  keys the raw multi-assets (``defs/raw/assets.py``) and ``raw_meta/source_state``
  (``defs/dbt/raw_meta.py``) materialize, so each model sits below the load that feeds it.
- dbt model -> ``AssetKey([<schema>, <name>])`` (``core/customers``, ``metrics/mrr_monthly``,
  ``staging/stg_stripe__invoices``), the relation it builds.
- group = layer (``staging``, ``intermediate``, ``core``, ``metrics``); owners by layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

LAYERS = ("staging", "intermediate", "core", "metrics")
OWNERS = {
    "staging": ["team:engineering"],
    "intermediate": ["team:engineering"],
    "core": ["team:revops"],
    "metrics": ["team:finance"],
}


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
        return layer_of(dbt_resource_props) or super().get_group_name(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        layer = layer_of(dbt_resource_props)
        return OWNERS[layer] if layer else super().get_owners(dbt_resource_props)
