"""The check catalogue is the dbt project's: one model per check, its meta in the yml."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reconciliation.catalog import (
    DBT_PROJECT_DIR,
    MANIFEST,
    OWNERS,
    PER_RECORD,
    POPULATIONS_MODEL,
    CatalogError,
    catalog,
    checks_in,
    is_check_model,
    read_manifest,
)

pytestmark = pytest.mark.unit

CHECKS_DIR = DBT_PROJECT_DIR / "models" / "reconciliation"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return read_manifest()


def test_each_check_is_one_model_of_the_folder_named_by_its_id() -> None:
    models = sorted(p.stem for p in CHECKS_DIR.glob("*.sql") if p.stem != POPULATIONS_MODEL)
    assert [c.check_id for c in catalog()] == models
    assert len(models) == 14
    for check in catalog():
        assert check.owner in OWNERS and check.title and check.description, check
        assert all(isinstance(v, float) for v in check.params.values()), check


def test_the_union_reads_every_check_and_nothing_else(manifest: dict[str, Any]) -> None:
    nodes = manifest["nodes"]
    [union] = [n for n in nodes.values() if n["name"] == POPULATIONS_MODEL]
    checks = {u for u, n in nodes.items() if is_check_model(n)}
    refs = set(union["depends_on"]["nodes"])
    assert checks <= refs
    assert {nodes[u]["name"] for u in refs - checks} == {"int_as_of", "int_fx_rates"}


def test_a_check_without_its_meta_is_refused_naming_it(manifest: dict[str, Any]) -> None:
    broken = copy.deepcopy(manifest)
    node = broken["nodes"]["model.revops.posting_late"]
    del node["config"]["meta"]["title"]
    with pytest.raises(CatalogError, match=r"posting_late.*title"):
        checks_in(broken)
    node["config"]["meta"]["title"] = "Invoice posted late"
    node["config"]["meta"]["owner"] = "sales"
    with pytest.raises(CatalogError, match="posting_late: owner 'sales'"):
        checks_in(broken)


def test_a_check_of_records_of_every_system_says_so_per_record(
    manifest: dict[str, Any],
) -> None:
    node = manifest["nodes"]["model.revops.record_quarantined"]
    [check] = [c for c in catalog() if c.check_id == "record_quarantined"]
    assert (check.owner, check.record_system) == ("engineering", PER_RECORD)
    assert set(check.compares) == {"salesforce", "stripe", "netsuite"}
    # the union reads its own record_system and severity, and every check's discrepancy_at
    assert {"record_system", "severity", "discrepancy_at"} <= set(node["columns"])
    broken = copy.deepcopy(manifest)
    del broken["nodes"]["model.revops.record_quarantined"]["columns"]["record_system"]
    with pytest.raises(CatalogError, match="record_quarantined: record_system is 'per_record'"):
        checks_in(broken)
    other = copy.deepcopy(manifest)
    other["nodes"]["model.revops.posting_late"]["config"]["meta"]["record_system"] = "erp"
    with pytest.raises(CatalogError, match="posting_late: unknown system"):
        checks_in(other)


def test_a_missing_manifest_says_how_to_prepare_it(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="make dbt-prepare"):
        read_manifest(tmp_path / "manifest.json")
    assert MANIFEST == DBT_PROJECT_DIR / "target" / "manifest.json"
    json.loads(MANIFEST.read_text(encoding="utf-8"))  # prepared: the suite runs dbt-prepare
