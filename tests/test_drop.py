"""The source-drop contract: connectors/drop.py on handmade drops in tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.drop import (
    OPTIONAL_FILES,
    REQUIRED_FILES,
    count_lines,
    inspect_drop,
    read_manifest,
)
from connectors.errors import ConnectorError, SourceDropError

pytestmark = pytest.mark.unit

MakeDrop = Callable[..., Path]


def test_contract_names_match_architecture() -> None:
    assert set(REQUIRED_FILES) == set(OPTIONAL_FILES) == {"salesforce", "stripe", "netsuite"}
    assert REQUIRED_FILES["salesforce"] == ("Account.jsonl", "Opportunity.jsonl")
    assert "invoices.jsonl" in REQUIRED_FILES["stripe"]
    assert "transaction.jsonl" in REQUIRED_FILES["netsuite"]
    assert "subsidiary.jsonl" in OPTIONAL_FILES["netsuite"]
    assert "meter_events.jsonl" in OPTIONAL_FILES["stripe"]
    for system, names in REQUIRED_FILES.items():
        assert not set(names) & set(OPTIONAL_FILES[system])


def test_minimal_drop_counts(minimal_drop: Path) -> None:
    (minimal_drop / "stripe" / "invoices.jsonl").write_text('{"id": "in_1"}\n{"id": "in_2"}\n')
    (minimal_drop / "stripe" / "charges.jsonl").write_text('{"id": "ch_1"}\n{"id": "ch_2"}')

    inventory = inspect_drop(minimal_drop)

    assert inventory.exported_at == datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)
    assert inventory.counts["stripe/invoices.jsonl"] == 2
    assert inventory.counts["stripe/charges.jsonl"] == 2  # last line without newline
    assert inventory.counts["salesforce/Account.jsonl"] == 1
    # subsidiary.jsonl is optional (a NetSuite account without OneWorld has none)
    assert inventory.records_by_system() == {"salesforce": 2, "stripe": 8, "netsuite": 4}
    assert "| `stripe/invoices.jsonl` | yes | 2 |" in inventory.to_markdown()


def test_missing_optional_file_counts_zero(minimal_drop: Path) -> None:
    inventory = inspect_drop(minimal_drop)

    assert inventory.counts["netsuite/currencyrate.jsonl"] == 0
    assert "netsuite/currencyrate.jsonl" in inventory.absent
    assert "salesforce/Account.jsonl" not in inventory.absent


def test_manifest_without_exported_at(make_drop: MakeDrop) -> None:
    drop = make_drop(exported_at=None)

    with pytest.raises(SourceDropError, match="exported_at") as info:
        inspect_drop(drop)

    assert info.value.path == drop.resolve() / "manifest.json"
    assert "manifest.json" in str(info.value)


@pytest.mark.parametrize("value", ["yesterday", "2026-06-30T23:59:59", 1751327999])
def test_manifest_exported_at_must_be_utc_instant(make_drop: MakeDrop, value: object) -> None:
    drop = make_drop()
    (drop / "manifest.json").write_text(json.dumps({"exported_at": value}))

    with pytest.raises(SourceDropError, match="ISO-8601 UTC instant"):
        read_manifest(drop)


def test_manifest_offset_is_normalised_to_utc(make_drop: MakeDrop) -> None:
    manifest = read_manifest(make_drop(exported_at="2026-07-01T01:59:59+02:00"))

    assert manifest.exported_at == datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)
    assert manifest.data["company"] == "Handmade Co"


def test_manifest_missing_or_not_json(tmp_path: Path, make_drop: MakeDrop) -> None:
    drop = make_drop()
    (drop / "manifest.json").unlink()
    with pytest.raises(SourceDropError, match=r"manifest\.json is missing"):
        read_manifest(drop)

    (drop / "manifest.json").write_text("{not json")
    with pytest.raises(SourceDropError, match="not valid JSON"):
        read_manifest(drop)


def test_missing_required_file_is_named(minimal_drop: Path) -> None:
    target = minimal_drop / "stripe" / "invoices.jsonl"
    target.unlink()

    with pytest.raises(SourceDropError) as info:
        inspect_drop(minimal_drop)

    assert info.value.path == target.resolve()
    assert str(target.resolve()) in str(info.value)
    assert "missing" in str(info.value)
    assert "re-export" in str(info.value)
    assert isinstance(info.value, ConnectorError)


def test_empty_required_file_is_named(minimal_drop: Path) -> None:
    target = minimal_drop / "netsuite" / "transaction.jsonl"
    target.write_bytes(b"")

    with pytest.raises(SourceDropError) as info:
        inspect_drop(minimal_drop)

    assert info.value.path == target.resolve()
    assert str(target.resolve()) in str(info.value)
    assert "empty" in str(info.value)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceDropError, match="does not exist"):
        inspect_drop(tmp_path / "nowhere")


def test_count_lines_large_file(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    line = b'{"id": "x", "pad": "' + b"a" * 200 + b'"}\n'
    path.write_bytes(line * 20_000 + b'{"id": "last"}')

    assert count_lines(path) == 20_001
