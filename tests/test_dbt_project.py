"""The dbt project around the models: raw tables it may create, and its Dagster wiring.

- The sources yml declare every raw table with the loader's exact columns and types, and the
  on-run-start hook recreates a missing raw table with them (so a system that was never
  loaded is an empty table, not a failed build).
- Dagster: each dbt source is the raw asset that loads it, models are grouped by layer,
  dbt build runs in the warehouse pool, dbt tests are asset checks, and a missing manifest
  says how to prepare it.
- ``revops run`` runs the load and ``dbt build`` in one Dagster run.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from crash import SharedReference
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dbt_build import DBT_PROJECT, dbt, dbt_build, differing, load, mrr_cells, truth_cells
from shared import copy_home

from connectors.load.warehouse import connect, ensure_system_tables
from connectors.sandbox import generate
from connectors.schemas import SPECS
from dagster_project.definitions import defs
from dagster_project.defs.dbt.project import DbtManifestMissing, manifest_path, require_manifest
from dagster_project.defs.dbt.translator import RevopsDbtTranslator

RAW_SCHEMAS = ("raw_meta", "raw_salesforce", "raw_stripe", "raw_netsuite")
LAYERS = ("staging", "intermediate", "core", "metrics")


def raw_columns(warehouse: Path) -> dict[tuple[str, str], list[tuple[str, str]]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            f"WHERE schema_name IN {RAW_SCHEMAS} ORDER BY schema_name, table_name, column_index"
        ).fetchall()
    finally:
        con.close()
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, data_type in rows:
        out.setdefault((schema, table), []).append((column.lower(), data_type))
    return out


def dbt_sources() -> list[dict]:
    manifest = json.loads(manifest_path().read_text(encoding="utf-8"))
    return list(manifest["sources"].values())


@pytest.mark.integration
def test_hook_creates_missing_raw_tables_with_the_loaders_ddl(tmp_path: Path) -> None:
    loader_home, hook_home = tmp_path / "loader", tmp_path / "hook"
    con = connect(loader_home / "warehouse.duckdb")
    for system in SPECS:
        ensure_system_tables(con, system)
    con.close()
    hook_home.mkdir()

    proc = dbt(hook_home, "run-operation", "create_missing_raw_tables")

    assert proc.returncode == 0, proc.stdout[-3000:]
    by_loader, by_hook = (
        raw_columns(loader_home / "warehouse.duckdb"),
        raw_columns(hook_home / "warehouse.duckdb"),
    )
    bookkeeping = {("raw_meta", "batches"), ("raw_meta", "cursors"), ("raw_meta", "object_specs")}
    loaded = {k for k in by_loader if k not in bookkeeping}  # the quarantines too
    assert set(by_hook) == loaded  # every raw table the loader writes is a dbt source
    assert {k: by_hook[k] for k in loaded} == {k: by_loader[k] for k in loaded}


@pytest.mark.integration
def test_build_passes_when_optional_raw_tables_were_never_created(tmp_path: Path) -> None:
    drop, home = tmp_path / "drop", tmp_path / "home"
    generate(drop, progress=False, customers=60, seed=5)
    load(drop, home)
    absent = ("raw_stripe.refunds", "raw_stripe.meter_events", "raw_salesforce.contract")
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    for table in absent:
        con.execute(f"DROP TABLE {table}")
    con.close()

    proc = dbt_build(home)

    for table in absent:
        assert f"raw table {table} does not exist" in proc.stdout
    assert differing(truth_cells(drop), mrr_cells(home)) == []


@pytest.fixture(scope="module")
def graph() -> AssetGraph:
    return defs().resolve_asset_graph()


@pytest.mark.unit
def test_every_dbt_source_is_the_raw_asset_that_loads_it(graph: AssetGraph) -> None:
    translator = RevopsDbtTranslator()
    keys = {translator.get_asset_key(s) for s in dbt_sources()}
    for key in keys:
        assert key.path[0] in RAW_SCHEMAS, key
        node = graph.get(key)
        assert node.is_materializable and node.group_name == "raw", key
    loaded = {
        dg.AssetKey([f"raw_{spec.system}", table])
        for system, specs in SPECS.items()
        for spec in specs
        for table in (spec.table, *(child.table for child in spec.children))
    }
    quarantines = {dg.AssetKey([f"raw_{system}", "quarantine"]) for system in SPECS}
    assert keys == loaded | quarantines | {dg.AssetKey(["raw_meta", "source_state"])}


@pytest.mark.unit
def test_models_are_grouped_by_layer_and_built_in_the_warehouse_pool(graph: AssetGraph) -> None:
    dbt_keys = [k for k in graph.get_all_asset_keys() if k.path[0] in LAYERS]
    assert len(dbt_keys) == 62
    for key in dbt_keys:
        node = graph.get(key)
        assert node.group_name == key.path[0] and node.owners, key
        assert node.pools == {"duckdb_warehouse"}, key
    checks = {(c.asset_key.path[-1], c.name) for c in graph.asset_check_keys}
    assert ("mrr_bridge", "assert_mrr_bridge_closes") in checks
    assert ("mrr_monthly", "assert_mrr_movements_match_changes") in checks
    assert ("saas_metrics", "assert_retention_bounds") in checks
    assert ("customers", "unique_customers_customer_id") in checks


@pytest.mark.unit
def test_a_missing_manifest_says_how_to_prepare_it(tmp_path: Path) -> None:
    with pytest.raises(DbtManifestMissing, match="make dbt-prepare"):
        require_manifest(tmp_path / "target" / "manifest.json")
    assert manifest_path() == DBT_PROJECT / "target" / "manifest.json"


@pytest.mark.e2e
def test_revops_run_loads_and_builds_in_one_dagster_run(
    tmp_path: Path, reference_company: SharedReference
) -> None:
    """``revops run`` of a sandbox drop on a fresh home (exit 0): the session's reference run
    of the crash tests' company (``crash.shared_reference``), its home copied to read."""
    drop = reference_company.drop
    home = copy_home(reference_company.ref.home, tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        [run] = instance.get_runs()
        materialized = {
            e.get_dagster_event().asset_key
            for e in instance.all_logs(
                run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            )
        }
        evaluations = [
            e.get_dagster_event().asset_check_evaluation_data
            for e in instance.all_logs(
                run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
        ]
    assert run.status == dg.DagsterRunStatus.SUCCESS
    for key in (
        ["raw_stripe", "invoices"],
        ["raw_meta", "source_state"],
        ["core", "customers"],
        ["metrics", "mrr_monthly"],
        ["reconciliation"],
    ):
        assert dg.AssetKey(key) in materialized, key
    dbt_checks = [e for e in evaluations if e.asset_key.path[0] in LAYERS]
    assert len(dbt_checks) >= 140 and all(e.passed for e in dbt_checks)
    assert differing(truth_cells(drop), mrr_cells(home)) == []
