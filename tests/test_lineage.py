"""The Definitions load as one connected lineage graph: source object to exception to snapshot.

The expectations come from the dbt manifest (``dbt/target/manifest.json``, ``make
dbt-prepare``): each model's asset sits below exactly the models and sources its SQL refs, the
check models below what they read, ``reconciliation`` below their union.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
import pytest
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph

from dagster_project.definitions import defs
from dagster_project.defs.dbt.project import manifest_path
from dagster_project.defs.dbt.translator import RevopsDbtTranslator
from reconciliation.catalog import POPULATIONS_MODEL, catalog, is_check_model
from reconciliation.publish import PUBLISHED_SCHEMAS

pytestmark = pytest.mark.unit

RECON = dg.AssetKey("reconciliation")


def downstream(graph: AssetGraph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, todo = set(), [key]
    while todo:
        for child in graph.get(todo.pop()).child_keys:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


@pytest.fixture(scope="module")
def graph() -> AssetGraph:
    return defs().resolve_asset_graph()


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads(manifest_path().read_text(encoding="utf-8"))


def models(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {u: n for u, n in manifest["nodes"].items() if n["resource_type"] == "model"}


def key_of(manifest: Mapping[str, Any], unique_id: str) -> dg.AssetKey:
    """The asset key of a model or source of the manifest (the project's translator)."""
    node = manifest["nodes"].get(unique_id) or manifest["sources"][unique_id]
    return RevopsDbtTranslator().get_asset_key(node)


def parents_in_sql(manifest: Mapping[str, Any], node: Mapping[str, Any]) -> set[dg.AssetKey]:
    """The models and sources a model's SQL refs (``depends_on.nodes``), as asset keys."""
    return {
        key_of(manifest, u)
        for u in node["depends_on"]["nodes"]
        if u.split(".")[0] in ("model", "source")
    }


def test_every_asset_is_materializable_no_orphan_sources(graph: AssetGraph) -> None:
    keys = graph.get_all_asset_keys()
    external = sorted(k.to_user_string() for k in keys if not graph.get(k).is_materializable)
    assert external == []  # every dbt source is a raw asset the pipeline loads


def test_every_dbt_source_has_its_raw_asset_upstream(graph: AssetGraph) -> None:
    staging = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "staging"]
    assert len(staging) >= 30
    for key in staging:
        parents = graph.get(key).parent_keys
        assert parents, key
        for parent in parents:
            assert parent.path[0].startswith("raw_"), (key, parent)
            assert graph.get(parent).group_name == "raw"


def test_every_model_sits_below_exactly_what_its_sql_refs(
    graph: AssetGraph, manifest: dict[str, Any]
) -> None:
    for node in models(manifest).values():
        key = key_of(manifest, node["unique_id"])
        assert graph.get(key).parent_keys == parents_in_sql(manifest, node), key


def test_each_check_model_reads_only_models_below_it(
    graph: AssetGraph, manifest: dict[str, Any]
) -> None:
    checks = {n["name"]: n for n in models(manifest).values() if is_check_model(n)}
    assert sorted(checks) == [c.check_id for c in catalog()]
    for name, node in checks.items():
        key = key_of(manifest, node["unique_id"])
        assert graph.get(key).group_name == "recon", key
        parents = graph.get(key).parent_keys
        assert parents == parents_in_sql(manifest, node) and parents, key
        for parent in parents:  # refs to models only: never a raw table or a source
            assert parent.path[0] in ("staging", "intermediate", "core", "metrics"), (name, parent)


def test_reconciliation_reads_the_union_of_the_checks(
    graph: AssetGraph, manifest: dict[str, Any]
) -> None:
    [union] = [n for n in models(manifest).values() if n["name"] == POPULATIONS_MODEL]
    union_key = key_of(manifest, union["unique_id"])
    assert graph.get(RECON).parent_keys == {union_key}
    check_keys = {key_of(manifest, u) for u, n in models(manifest).items() if is_check_model(n)}
    assert check_keys and check_keys <= graph.get(union_key).parent_keys
    # every model a check reads, however far up, is upstream of reconciliation
    for key in check_keys:
        for parent in graph.get(key).parent_keys:
            assert RECON in downstream(graph, parent), parent


def test_every_published_model_reaches_the_snapshot(
    graph: AssetGraph, manifest: dict[str, Any]
) -> None:
    published = [
        key_of(manifest, u) for u, n in models(manifest).items() if n["schema"] in PUBLISHED_SCHEMAS
    ]
    assert len(published) >= 17
    for key in [*published, RECON]:
        assert dg.AssetKey("serving_snapshot") in downstream(graph, key), key
    assert dg.AssetKey("finance_report") in downstream(graph, RECON)


def test_quarantine_reaches_its_check_and_the_snapshot(graph: AssetGraph) -> None:
    quarantines = [
        dg.AssetKey([f"raw_{s}", "quarantine"]) for s in ("salesforce", "stripe", "netsuite")
    ]
    check = dg.AssetKey(["recon_checks", "record_quarantined"])
    for key in quarantines:
        below = downstream(graph, key)
        assert check in below and RECON in below, key
        assert dg.AssetKey("serving_snapshot") in graph.get(key).child_keys, key  # published


def test_each_check_is_an_asset_check_and_every_asset_is_described(graph: AssetGraph) -> None:
    checks = {k.name for k in graph.get(RECON).check_keys}
    assert {c.check_id for c in catalog()} <= checks
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, key
        assert node.owners, key
        assert node.group_name, key
