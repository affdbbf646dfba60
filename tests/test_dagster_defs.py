"""The Dagster code location: definitions load, ``refresh`` wires ``source_drop``; what the
UI shows on the assets (row counts, the MRR headline, freshness of the published assets)."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.definitions.freshness import TimeWindowFreshnessPolicy

from dagster_project.definitions import defs, refresh_job
from dagster_project.defs.dbt.figures import with_figures
from dagster_project.defs.resources import RevopsSettings
from dagster_project.defs.sources.assets import source_drop


def _settings(home: Path, drop: Path) -> RevopsSettings:
    return RevopsSettings(home=str(home), source_dir=str(drop))


@pytest.mark.unit
def test_definitions_load() -> None:
    definitions = defs()

    assert isinstance(definitions, dg.Definitions)
    assert "settings" in (definitions.resources or {})
    keys = {spec.key for spec in definitions.resolve_all_asset_specs()}
    assert dg.AssetKey("source_drop") in keys


@pytest.mark.unit
def test_refresh_job_selects_source_drop_in_process() -> None:
    job = refresh_job()

    assert job.name == "refresh"
    assert job.executor_def.name == "in_process"
    assert dg.AssetKey("source_drop") in job.asset_layer.executable_asset_keys


@pytest.mark.unit
def test_settings_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REVOPS_SOURCE_DIR", raising=False)
    settings = RevopsSettings(home=str(tmp_path))

    # The product's default drop is where an export is placed, not the simulator's.
    assert settings.source_path == tmp_path.resolve() / "drop"
    assert settings.reporting_currency == "USD"
    monkeypatch.setenv("REVOPS_SOURCE_DIR", str(tmp_path / "exports" / "today"))
    assert settings.source_path == tmp_path.resolve() / "exports" / "today"


@pytest.mark.integration
def test_source_drop_materialises_counts(tmp_path: Path, minimal_drop: Path) -> None:
    result = dg.materialize(
        [source_drop], resources={"settings": _settings(tmp_path, minimal_drop)}
    )

    assert result.success
    [materialization] = result.asset_materializations_for_node("source_drop")
    metadata = materialization.metadata
    assert metadata["stripe/invoices.jsonl"].value == 1
    assert metadata["netsuite/currencyrate.jsonl"].value == 0
    assert metadata["total_records"].value == 11  # one record per required file
    assert metadata["source_dir"].value == str(minimal_drop.resolve())
    assert isinstance(metadata["files"], dg.MarkdownMetadataValue)
    assert "stripe/invoices.jsonl" in metadata["files"].value


@pytest.mark.integration
def test_source_drop_fails_naming_the_file(tmp_path: Path, minimal_drop: Path) -> None:
    missing = minimal_drop / "salesforce" / "Opportunity.jsonl"
    missing.unlink()

    result = dg.materialize(
        [source_drop],
        resources={"settings": _settings(tmp_path, minimal_drop)},
        raise_on_error=False,
    )

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    user_failure = failure.step_failure_data.user_failure_data
    assert user_failure is not None
    description = user_failure.description
    assert description is not None
    assert str(missing.resolve()) in description
    assert "re-export" in description


@pytest.mark.unit
def test_published_assets_are_stale_after_a_day() -> None:
    graph = defs().resolve_asset_graph()

    for name in ("finance_report", "serving_snapshot"):
        policy = graph.get(dg.AssetKey(name)).freshness_policy
        assert isinstance(policy, dg.FreshnessPolicy), name
        assert isinstance(policy, TimeWindowFreshnessPolicy), name  # FreshnessPolicy.time_window
        assert policy.fail_window.to_timedelta() == timedelta(days=1), name
    assert graph.get(dg.AssetKey(["metrics", "saas_metrics"])).freshness_policy is None


def _model(schema: str, name: str, materialized: str = "table") -> dict:
    return {
        "unique_id": f"model.revops.{name}",
        "resource_type": "model",
        "schema": schema,
        "name": name,
        "alias": name,
        "config": {"materialized": materialized},
    }


@pytest.mark.unit
def test_dbt_events_get_row_counts_and_the_mrr_headline(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA raw_x; CREATE SCHEMA staging; CREATE SCHEMA metrics")
    con.execute("CREATE TABLE raw_x.t AS SELECT * FROM range(7) r(i)")
    con.execute("CREATE VIEW staging.stg_x AS SELECT * FROM raw_x.t WHERE i < 5")
    con.execute(
        "CREATE TABLE metrics.saas_metrics AS SELECT * FROM (VALUES "
        "(DATE '2026-05-01', 'ALL', 90.00::DECIMAL(18,2), 1080.00::DECIMAL(18,2), 3, 30.0, "
        "NULL::DOUBLE, NULL::DOUBLE), "
        "(DATE '2026-06-01', 'ALL', 100.50::DECIMAL(18,2), 1206.00::DECIMAL(18,2), 4, 25.125, "
        "NULL, NULL), "
        "(DATE '2026-06-01', 'US', 60.00::DECIMAL(18,2), 720.00::DECIMAL(18,2), 2, 30.0, "
        "NULL, NULL)) "
        "v(month, entity, mrr, arr, active_customers, arpa, nrr_12m, grr_12m)"
    )
    con.close()
    nodes = {
        m["unique_id"]: m
        for m in (_model("staging", "stg_x", "view"), _model("metrics", "saas_metrics"))
    }
    events = [
        dg.Output(None, output_name="stg_x", metadata={"unique_id": "model.revops.stg_x"}),
        dg.Output(None, output_name="saas", metadata={"unique_id": "model.revops.saas_metrics"}),
        dg.AssetCheckResult(passed=True, asset_key=dg.AssetKey("x"), check_name="c"),
    ]

    out = list(with_figures(events, {"nodes": nodes}, warehouse, logging.getLogger("t")))

    assert out[2] is events[2]
    assert out[0].metadata["dagster/row_count"] == dg.MetadataValue.int(5)  # a view, counted
    saas = out[1].metadata
    assert saas["dagster/row_count"] == dg.MetadataValue.int(3)
    assert saas["month"] == dg.MetadataValue.text("2026-06")
    assert saas["mrr"] == dg.MetadataValue.float(100.5)
    assert saas["arr"] == dg.MetadataValue.float(1206.0)
    assert saas["active_customers"] == dg.MetadataValue.int(4)
    assert "nrr_12m" not in saas  # null (under a year of history): left out, not plotted as 0
    assert saas["unique_id"].value == "model.revops.saas_metrics"  # dbt's metadata kept


@pytest.mark.unit
def test_a_model_that_cannot_be_read_keeps_its_event(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    nodes = {"model.revops.gone": _model("core", "gone")}
    event = dg.Output(None, output_name="gone", metadata={"unique_id": "model.revops.gone"})

    [out] = with_figures([event], {"nodes": nodes}, warehouse, logging.getLogger("t"))

    assert "dagster/row_count" not in out.metadata
