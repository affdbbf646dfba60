"""Bad drops never load silently: each case ends with its sentence or its quarantine.

A real sandbox drop is damaged the way transfers and exporters damage files — cut short while
the manifest still counts the whole file, a manifest key written twice, a record naming its
id twice, a link leading out of the drop, a date in year 9999 — and loaded into a real
warehouse.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from connectors.drop import inspect_drop
from connectors.errors import SourceDropError
from connectors.load.files_mode import load_drop
from connectors.load.warehouse import connect
from connectors.sandbox.generate import generate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    drop = tmp_path_factory.mktemp("clean") / "drop"
    generate(drop, customers=40, months=6, seed=4, progress=False)
    shutil.rmtree(drop / "truth")
    return drop


@pytest.fixture
def drop(clean: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(clean, tmp_path / "drop"))


def load(drop: Path, home: Path) -> duckdb.DuckDBPyConnection:
    con = connect(home / "warehouse.duckdb")
    load_drop(con, home, drop)
    return con


def quarantine(con: duckdb.DuckDBPyConnection, system: str) -> list[tuple]:
    return con.sql(f"SELECT file, line, record_id, rule FROM raw_{system}.quarantine").fetchall()


def test_a_file_cut_short_stops_the_run_naming_it_and_both_counts(drop: Path) -> None:
    path = drop / "stripe" / "invoices.jsonl"
    lines = path.read_bytes().split(b"\n")[:-1]
    declared = json.loads((drop / "manifest.json").read_text())["files"]["stripe/invoices.jsonl"]
    assert declared == len(lines)
    path.write_bytes(b"".join(line + b"\n" for line in lines[: len(lines) // 2]))
    with pytest.raises(SourceDropError) as err:
        inspect_drop(drop)
    assert str(err.value) == (
        f"stripe/invoices.jsonl holds {len(lines) // 2:,} records but manifest.json says "
        f"{declared:,}: the file is incomplete or not the one exported; copy the drop again "
        "or re-export it"
    )


def test_a_checksum_in_the_manifest_must_match(drop: Path) -> None:
    manifest = json.loads((drop / "manifest.json").read_text())
    n = manifest["files"]["stripe/customers.jsonl"]
    manifest["files"]["stripe/customers.jsonl"] = {"records": n, "sha256": "0" * 64}
    (drop / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        SourceDropError, match=re.escape("stripe/customers.jsonl does not match the sha256")
    ):
        inspect_drop(drop)


def test_a_manifest_with_a_key_twice_is_refused_naming_the_key(drop: Path) -> None:
    text = (drop / "manifest.json").read_text()
    (drop / "manifest.json").write_text(
        text.replace('"exported_at"', '"exported_at": "2030-01-01T00:00:00Z", "exported_at"', 1)
    )
    with pytest.raises(SourceDropError, match="has the key 'exported_at' twice"):
        inspect_drop(drop)


def test_a_link_leaving_the_drop_is_refused_naming_it(drop: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.jsonl"
    shutil.copy(drop / "stripe" / "refunds.jsonl", outside)
    (drop / "stripe" / "refunds.jsonl").unlink()
    (drop / "stripe" / "refunds.jsonl").symlink_to(outside)
    with pytest.raises(SourceDropError) as err:
        load(drop, tmp_path / "home")
    assert f"leads outside the source drop (to {outside.resolve()})" in str(err.value)
    assert not (tmp_path / "home" / "landing").exists()  # nothing was landed


def test_a_record_naming_its_id_twice_is_quarantined_with_the_key(
    drop: Path, tmp_path: Path
) -> None:
    path = drop / "stripe" / "customers.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    lines[0] = lines[0].replace('{"id":', '{"id":"cus_Impostor0000","id":', 1)
    path.write_text("\n".join(lines) + "\n")
    con = load(drop, tmp_path / "home")
    rows = quarantine(con, "stripe")
    assert [(r[1], r[2]) for r in rows] == [(1, "cus_Impostor0000")], rows
    assert "the record names the key 'id' twice" in rows[0][3]
    loaded = con.sql(
        "SELECT count(*) FROM raw_stripe.customers WHERE id IN "
        f"('cus_Impostor0000', '{first['id']}')"
    ).fetchall()
    assert loaded == [(0,)]


def test_a_date_in_year_9999_is_quarantined_with_the_rule(drop: Path, tmp_path: Path) -> None:
    path = drop / "netsuite" / "transaction.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[2])
    record["trandate"] = "9999-12-31"
    lines[2] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    con = load(drop, tmp_path / "home")
    rows = [r for r in quarantine(con, "netsuite") if r[0].endswith("transaction.jsonl")]
    assert [(r[1], r[2]) for r in rows] == [(3, record["id"])]
    # its lines, accounting lines and payment links wait with it
    held = [r for r in quarantine(con, "netsuite") if r not in rows]
    assert held and all(r[3].startswith(f"held with transaction {record['id']}") for r in held)
    assert rows[0][3].startswith(
        "trandate 9999-12-31 is not a plausible date (must be within 50 years of the export's as-of"
    )


def test_a_quarantined_customer_holds_its_dependants_and_the_build_passes(
    drop: Path, tmp_path: Path
) -> None:
    from dbt_build import dbt

    customers = drop / "stripe" / "customers.jsonl"
    lines = customers.read_bytes().split(b"\n")[:-1]
    subscribed = {
        json.loads(line)["customer"]
        for line in (drop / "stripe" / "subscriptions.jsonl").read_bytes().splitlines()
    }
    index = next(i for i, line in enumerate(lines) if json.loads(line)["id"] in subscribed)
    victim = json.loads(lines[index])["id"]
    # A raw NUL byte inside the name: not valid JSON, so the customer is quarantined.
    lines[index] = lines[index].replace(b'"name":"', b'"name":"\x00', 1)
    customers.write_bytes(b"".join(line + b"\n" for line in lines))
    home = tmp_path / "home"
    con = load(drop, home)
    rows = quarantine(con, "stripe")
    con.close()
    by_file: dict[str, list[tuple]] = {}
    for file, line, record_id, rule in rows:
        by_file.setdefault(file.rsplit("/", 1)[-1], []).append((line, record_id, rule))
    assert [(line, rid) for line, rid, _ in by_file["customers.jsonl"]] == [(index + 1, victim)]
    held = by_file["subscriptions.jsonl"]
    assert held and all(
        rule.startswith(
            f"held with customers {victim}, which is quarantined "
            f"(stripe/customers.jsonl line {index + 1}: line is not valid JSON"
        )
        for _, _, rule in held
    )
    assert "invoices.jsonl" in by_file  # the customer's invoices wait with it
    proc = dbt(home, "build")
    assert proc.returncode == 0, proc.stdout[-4000:]
