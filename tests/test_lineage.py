"""The Definitions load as one connected lineage graph: source object to exception to snapshot."""

from __future__ import annotations

import dagster as dg
import pytest

from dagster_project.definitions import defs
from reconciliation.catalog import catalog

pytestmark = pytest.mark.unit

PUBLISHED = [
    ["core", name]
    for name in (
        "customers",
        "customer_identities",
        "entities",
        "products",
        "contracts",
        "subscriptions",
        "invoices",
        "invoice_lines",
        "payments",
        "credit_notes",
        "usage",
        "erp_transactions",
        "fx_rates",
        "revenue_schedule",
    )
] + [["metrics", name] for name in ("mrr_monthly", "mrr_bridge", "saas_metrics")]


def downstream(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, todo = set(), [key]
    while todo:
        for child in graph.get(todo.pop()).child_keys:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


@pytest.fixture(scope="module")
def graph():
    return defs().resolve_asset_graph()


def test_every_asset_is_materializable_no_orphan_sources(graph) -> None:
    keys = graph.get_all_asset_keys()
    external = sorted(k.to_user_string() for k in keys if not graph.get(k).is_materializable)
    assert external == []  # every dbt source is a raw asset the pipeline loads


def test_every_dbt_source_has_its_raw_asset_upstream(graph) -> None:
    staging = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "staging"]
    assert len(staging) >= 30
    for key in staging:
        parents = graph.get(key).parent_keys
        assert parents, key
        for parent in parents:
            assert parent.path[0].startswith("raw_"), (key, parent)
            assert graph.get(parent).group_name == "raw"


def test_every_published_model_reaches_reconciliation_and_the_snapshot(graph) -> None:
    recon = dg.AssetKey("reconciliation")
    for path in PUBLISHED:
        below = downstream(graph, dg.AssetKey(path))
        assert recon in below, path
        assert dg.AssetKey("serving_snapshot") in below, path
    assert dg.AssetKey("finance_report") in downstream(graph, recon)


def test_each_check_is_an_asset_check_and_every_asset_is_described(graph) -> None:
    checks = {k.name for k in graph.get(dg.AssetKey("reconciliation")).check_keys}
    assert {c.check_id for c in catalog()} <= checks
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, key
        assert node.owners, key
        assert node.group_name, key
