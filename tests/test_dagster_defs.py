"""The Dagster code location: definitions load, ``refresh`` wires ``source_drop``."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from dagster_project.definitions import defs, refresh_job
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
def test_settings_defaults(tmp_path: Path) -> None:
    settings = RevopsSettings(home=str(tmp_path))

    assert settings.source_path == tmp_path.resolve() / "sandbox"
    assert settings.reporting_currency == "USD"


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
    description = failure.step_failure_data.user_failure_data.description
    assert str(missing.resolve()) in description
    assert "re-export" in description
