"""Files-mode landing and loading on real drops and a real DuckDB warehouse.

The bad-input suite mutates one thing in a clean sandbox drop and checks the outcome the
quarantine rules of docs/architecture.md ("Quarantine") give: the record quarantined while
the load succeeds, a clear error naming the file, or a clean load; and that every batch's
accounting closes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from drops import sync_manifest

from connectors.errors import SourceDropError
from connectors.load.files_mode import load_drop, replay
from connectors.load.warehouse import connect
from connectors.sandbox import generate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clean_drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(out, customers=60, months=6, seed=3, progress=False)
    return out


def copy_drop(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("truth"))
    return dst


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    sync_manifest(path.parents[1])  # the exporter's manifest counts what it wrote


def edit_record(rel: str, index: int, change: Callable[[dict], object]) -> Callable[[Path], None]:
    """A mutation that edits record ``index`` of ``rel`` (parsed, changed, written back)."""

    def mutate(drop: Path) -> None:
        path = drop / rel
        lines = lines_of(path)
        record = json.loads(lines[index])
        change(record)
        lines[index] = json.dumps(record).encode()
        write_lines(path, lines)

    return mutate


def edit_lines(rel: str, change: Callable[[list[bytes]], list[bytes]]) -> Callable[[Path], None]:
    def mutate(drop: Path) -> None:
        path = drop / rel
        write_lines(path, change(lines_of(path)))

    return mutate


def first_line(change: Callable[[dict], None]) -> Callable[[dict], None]:
    """Apply ``change`` to the first invoice line of an invoice record."""
    return lambda r: change(r["lines"]["data"][0])


def set_item(**values: object) -> Callable[[dict], None]:
    return lambda r: r.update(values)


def delete(key: str) -> Callable[[dict], None]:
    return lambda r: r.pop(key)


def flip_checksum(r: dict) -> None:
    r["Id"] = r["Id"][:15] + ("B" if r["Id"][15] != "B" else "C") + r["Id"][16:]


def duplicate_changed(lines: list[bytes]) -> list[bytes]:
    twin = json.loads(lines[0])
    twin["amount_refunded"] = twin["amount_refunded"] + 100
    return [*lines, json.dumps(twin).encode()]


def ten_megabyte_description(r: dict) -> None:
    r["description"] = "x" * (10 * 1024 * 1024)


QUARANTINE = {
    # case: (mutation, file, rule fragment, quarantined count)
    "truncated JSON": (
        edit_lines("stripe/invoices.jsonl", lambda ls: [*ls[:-1], ls[-1][:120]]),
        "stripe/invoices.jsonl",
        "not valid JSON",
        1,
    ),
    "non-UTF-8 bytes": (
        edit_lines(
            "stripe/customers.jsonl",
            lambda ls: [ls[0].replace(b'"name":"', b'"name":"\xff\xfe'), *ls[1:]],
        ),
        "stripe/customers.jsonl",
        "not valid UTF-8",
        1,
    ),
    "a JSON array, not an object": (
        edit_lines("netsuite/customer.jsonl", lambda ls: [*ls, b'["2001", "CUST"]']),
        "netsuite/customer.jsonl",
        "not an object",
        1,
    ),
    "missing id": (
        edit_record("stripe/customers.jsonl", 1, delete("id")),
        "stripe/customers.jsonl",
        "id is required",
        1,
    ),
    "wrong type": (
        edit_record(
            "stripe/subscriptions.jsonl", 0, lambda r: r["items"]["data"][0].update(quantity="3")
        ),
        "stripe/subscriptions.jsonl",
        "quantity must be an integer",
        1,
    ),
    "unknown enum value": (
        edit_record("stripe/invoices.jsonl", 2, set_item(status="pending")),
        "stripe/invoices.jsonl",
        "not a value the vendor defines",
        1,
    ),
    "unknown currency": (
        edit_record("stripe/charges.jsonl", 0, set_item(currency="xyz")),
        "stripe/charges.jsonl",
        "not a known ISO 4217 currency",
        1,
    ),
    "negative quantity": (
        edit_record("stripe/invoices.jsonl", 3, first_line(set_item(quantity=-2))),
        "stripe/invoices.jsonl",
        "quantity must not be below 0",
        1,
    ),
    "a price that does not resolve": (
        edit_record(
            "stripe/subscriptions.jsonl",
            1,
            lambda r: r["items"]["data"][0]["price"].update(id="price_DoesNotExist0001"),
        ),
        "stripe/subscriptions.jsonl",
        "does not resolve to any prices record",
        1,
    ),
    "duplicate ids with different content": (
        edit_lines("stripe/charges.jsonl", duplicate_changed),
        "stripe/charges.jsonl",
        "appears 2 times in this batch with different content",
        2,
    ),
    "timestamp without zone": (
        edit_record("salesforce/Account.jsonl", 0, set_item(CreatedDate="2026-04-01T12:34:56")),
        "salesforce/Account.jsonl",
        "must be a datetime with its UTC offset",
        1,
    ),
    "Stripe amount as a decimal string": (
        edit_record("stripe/invoices.jsonl", 4, set_item(total="1200.00")),
        "stripe/invoices.jsonl",
        "total must be an integer",
        1,
    ),
    "NetSuite date in a locale format": (
        edit_record("netsuite/transaction.jsonl", 0, set_item(trandate="03/31/2026")),
        "netsuite/transaction.jsonl",
        "must be a date written YYYY-MM-DD",
        1,
    ),
    "NetSuite boolean not T/F": (
        edit_record("netsuite/transaction.jsonl", 1, set_item(voided="N")),
        "netsuite/transaction.jsonl",
        "voided must be 'T' or 'F'",
        1,
    ),
    "impossible date": (
        edit_record("salesforce/Opportunity.jsonl", 0, set_item(CloseDate="2026-02-30")),
        "salesforce/Opportunity.jsonl",
        "CloseDate must be a date",
        1,
    ),
    "Salesforce id failing its checksum": (
        edit_record("salesforce/Opportunity.jsonl", 1, flip_checksum),
        "salesforce/Opportunity.jsonl",
        "fails the Salesforce id checksum",
        1,
    ),
}


def remove_currencyrate(d: Path) -> None:
    """Remove the optional netsuite/currencyrate.jsonl from the drop ``d``."""
    (d / "netsuite" / "currencyrate.jsonl").unlink()
    sync_manifest(d)  # an export without the file does not list it


CLEAN = {
    "empty optional file": edit_lines("stripe/refunds.jsonl", lambda ls: []),
    "missing optional file": remove_currencyrate,
    "duplicate ids with identical content": edit_lines(
        "stripe/charges.jsonl", lambda ls: [*ls, ls[0]]
    ),
    "an extra unknown field": edit_record(
        "stripe/invoices.jsonl", 0, set_item(brand_new_field={"a": 1})
    ),
    "a 10 MB line": edit_record("stripe/customers.jsonl", 0, ten_megabyte_description),
    "blank lines between records": edit_lines(
        "stripe/products.jsonl", lambda ls: [ls[0], b"", b"   ", *ls[1:]]
    ),
}

FAILS = {
    "empty required file": (
        edit_lines("stripe/invoices.jsonl", lambda ls: []),
        "stripe/invoices.jsonl",
    ),
    "missing required file": (
        lambda d: (d / "salesforce" / "Account.jsonl").unlink(),
        "salesforce/Account.jsonl",
    ),
    "manifest without exported_at": (
        lambda d: (d / "manifest.json").write_text(json.dumps({"company": "x"})),
        "manifest.json",
    ),
}


def load(drop: Path, home: Path) -> duckdb.DuckDBPyConnection:
    con = connect(home / "warehouse.duckdb")
    load_drop(con, home, drop)
    return con


def assert_accounting_closes(con: duckdb.DuckDBPyConnection, drop: Path) -> None:
    batches = con.sql(
        "SELECT system, object, records_in, loaded, quarantined FROM raw_meta.batches"
    ).fetchall()
    assert batches
    for system, obj, records_in, loaded, quarantined in batches:
        assert records_in == loaded + quarantined, (system, obj)
        raw = (drop / system / f"{obj}.jsonl").read_bytes()
        assert records_in == sum(1 for line in raw.split(b"\n") if line.strip()), (system, obj)


def quarantine_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.sql(
        " UNION ALL ".join(
            f"SELECT '{s}', file, line, record_id, rule, payload, batch_id FROM raw_{s}.quarantine"
            for s in ("salesforce", "stripe", "netsuite")
        )
    ).fetchall()


@pytest.mark.parametrize("case", sorted(QUARANTINE))
def test_bad_record_is_quarantined_and_the_rest_loads(
    case: str, clean_drop: Path, tmp_path: Path
) -> None:
    mutate, rel, fragment, count = QUARANTINE[case]
    drop = copy_drop(clean_drop, tmp_path / "drop")
    mutate(drop)
    con = load(drop, tmp_path / "home")
    every = quarantine_rows(con)
    rows = [r for r in every if r[1].endswith(rel)]
    assert len(rows) == count, every
    # What belongs to a quarantined record (a transaction's lines...) is held with it.
    assert all(r[4].startswith("held with ") for r in every if r not in rows)
    for system, file, line, _record_id, rule, payload, batch_id in rows:
        assert file.endswith(rel) and system == rel.split("/")[0]
        assert fragment in rule, rule
        assert line >= 1 and payload and batch_id
    assert_accounting_closes(con, drop)


@pytest.mark.parametrize("case", sorted(CLEAN))
def test_valid_input_loads_cleanly(case: str, clean_drop: Path, tmp_path: Path) -> None:
    drop = copy_drop(clean_drop, tmp_path / "drop")
    CLEAN[case](drop)
    con = load(drop, tmp_path / "home")
    assert quarantine_rows(con) == []
    assert_accounting_closes(con, drop)


def test_an_unresolved_product_quarantines_its_price_and_what_uses_it(
    clean_drop: Path, tmp_path: Path
) -> None:
    drop = copy_drop(clean_drop, tmp_path / "drop")
    edit_record("stripe/prices.jsonl", 0, set_item(product="prod_Nope00000000"))(drop)
    price_id = json.loads(lines_of(drop / "stripe" / "prices.jsonl")[0])["id"]
    con = load(drop, tmp_path / "home")
    rows = quarantine_rows(con)
    price_rows = [r for r in rows if r[1].endswith("stripe/prices.jsonl")]
    assert [(r[3], "prod_Nope00000000" in r[4]) for r in price_rows] == [(price_id, True)]
    users = [
        r
        for r in rows
        if f"{price_id} does not resolve to any prices record" in r[4]
        and not r[4].startswith("held with ")
    ]
    # Every subscription and invoice billed at that price follows it into quarantine.
    expected_users = sum(
        price_id in line.decode()
        for rel in ("stripe/subscriptions.jsonl", "stripe/invoices.jsonl")
        for line in lines_of(drop / rel)
    )
    assert len(users) == expected_users > 0
    # ... and what belongs to those (a held subscription's other invoices, their payments).
    assert all(r[4].startswith("held with ") for r in rows if r not in price_rows + users)
    assert_accounting_closes(con, drop)


def test_identical_duplicates_load_as_one_row(clean_drop: Path, tmp_path: Path) -> None:
    drop = copy_drop(clean_drop, tmp_path / "drop")
    CLEAN["duplicate ids with identical content"](drop)
    con = load(drop, tmp_path / "home")
    n_lines = len(lines_of(drop / "stripe" / "charges.jsonl"))
    assert con.sql("SELECT count(*), count(DISTINCT id) FROM raw_stripe.charges").fetchall() == [
        (n_lines - 1, n_lines - 1)
    ]


def test_unknown_fields_are_kept_in_the_payload(clean_drop: Path, tmp_path: Path) -> None:
    drop = copy_drop(clean_drop, tmp_path / "drop")
    CLEAN["an extra unknown field"](drop)
    con = load(drop, tmp_path / "home")
    first_id = json.loads(lines_of(drop / "stripe" / "invoices.jsonl")[0])["id"]
    got = con.execute(
        "SELECT _payload->>'$.brand_new_field.a' FROM raw_stripe.invoices WHERE id = ?", [first_id]
    ).fetchall()
    assert got == [("1",)]


@pytest.mark.parametrize("case", sorted(FAILS))
def test_broken_drop_fails_naming_the_file(case: str, clean_drop: Path, tmp_path: Path) -> None:
    mutate, rel = FAILS[case]
    drop = copy_drop(clean_drop, tmp_path / "drop")
    mutate(drop)
    with pytest.raises(SourceDropError) as err:
        load(drop, tmp_path / "home")
    assert rel in str(err.value)
    assert str(err.value).endswith(".") or "re-export" in str(err.value)


def raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        f"{s}.{t}"
        for s, t in con.sql(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name LIKE 'raw\\_%' ESCAPE '\\' "
            "AND schema_name <> 'raw_meta' ORDER BY 1, 2"
        ).fetchall()
    ]


def assert_same_raw_tables(a: Path, b: Path) -> None:
    con = duckdb.connect(str(a), read_only=True)
    con.execute(f"ATTACH '{b}' AS other (READ_ONLY)")
    tables = raw_tables(con)
    assert len(tables) == 32  # 26 objects, 3 nested lists, 1 quarantine per system
    for t in tables:
        cols = ", ".join(
            f'"{c}"'
            for (c,) in con.sql(
                "SELECT column_name FROM duckdb_columns() "
                "WHERE database_name = current_database() "
                f"AND schema_name || '.' || table_name = '{t}' "
                "AND column_name <> 'quarantined_at'"
            ).fetchall()
        )
        diff = con.sql(
            f"(SELECT {cols} FROM {t} EXCEPT ALL SELECT {cols} FROM other.{t}) UNION ALL "
            f"(SELECT {cols} FROM other.{t} EXCEPT ALL SELECT {cols} FROM {t})"
        ).fetchall()
        assert diff == [], t


def test_loading_twice_and_replaying_give_identical_raw_tables(
    clean_drop: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    con = connect(home / "warehouse.duckdb")
    first = load_drop(con, home, clean_drop)
    assert all(not r.already_loaded for r in first.results)
    con.execute("CHECKPOINT")  # the file alone holds everything before it is copied
    shutil.copy(home / "warehouse.duckdb", tmp_path / "after_first.duckdb")
    second = load_drop(con, home, clean_drop)
    assert all(r.already_loaded for r in second.results)
    con.close()
    assert_same_raw_tables(tmp_path / "after_first.duckdb", home / "warehouse.duckdb")
    rebuilt = connect(tmp_path / "replayed.duckdb")
    results = replay(rebuilt, home)
    rebuilt.close()
    assert len(results) == len(first.results)
    assert_same_raw_tables(home / "warehouse.duckdb", tmp_path / "replayed.duckdb")


def test_latest_version_wins_by_modification_time(clean_drop: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    con = connect(home / "warehouse.duckdb")
    load_drop(con, home, clean_drop)
    rel = "stripe/invoices.jsonl"
    records = [json.loads(x) for x in lines_of(clean_drop / rel)]
    target = next(r for r in records if r["status"] == "paid")
    # A later drop: the invoice was refunded into void-like state later in time (newer).
    newer = copy_drop(clean_drop, tmp_path / "newer")
    edit = edit_record(
        rel,
        records.index(target),
        lambda r: (
            r.update(status="void"),
            r["status_transitions"].update(voided_at=r["status_transitions"]["paid_at"] + 86400),
        ),
    )
    edit(newer)
    load_drop(con, home, newer)
    status = "SELECT status FROM raw_stripe.invoices WHERE id = ?"
    assert con.execute(status, [target["id"]]).fetchall() == [("void",)]
    # Re-sending the older version later changes nothing: it is older than what we hold.
    older = copy_drop(clean_drop, tmp_path / "older")
    write_lines(older / rel, [json.dumps(target).encode()])
    load_drop(con, home, older)
    assert con.execute(status, [target["id"]]).fetchall() == [("void",)]
    assert con.sql("SELECT count(*) FROM raw_stripe.invoices").fetchall()[0][0] == len(records)


def test_a_repeated_full_export_writes_only_what_changed(clean_drop: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    con = connect(home / "warehouse.duckdb")
    first = {(r.system, r.obj): r for r in load_drop(con, home, clean_drop).results}
    # The next day's export: every record again, one invoice changed, one charge new.
    later = copy_drop(clean_drop, tmp_path / "later")
    manifest = json.loads((later / "manifest.json").read_text())
    exported = datetime.fromisoformat(manifest["exported_at"].replace("Z", "+00:00"))
    manifest["exported_at"] = (exported + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (later / "manifest.json").write_text(json.dumps(manifest))
    invoices = [json.loads(x) for x in lines_of(later / "stripe" / "invoices.jsonl")]
    changed = invoices[3]["id"]
    edit_record("stripe/invoices.jsonl", 3, lambda r: r.update(description="credit hold"))(later)
    charges = lines_of(later / "stripe" / "charges.jsonl")
    new_charge = json.loads(charges[0]) | {"id": "ch_1NewOneTheNextDay"}
    write_lines(later / "stripe" / "charges.jsonl", [*charges, json.dumps(new_charge).encode()])
    # NetSuite keys are typed integers: one changed customer, the others skipped all the same.
    ns_customers = lines_of(later / "netsuite" / "customer.jsonl")
    edit_record("netsuite/customer.jsonl", 0, lambda r: r.update(comments="moved to EU"))(later)
    second = {(r.system, r.obj): r for r in load_drop(con, home, later).results}
    ns = second[("netsuite", "customer")]
    assert (ns.loaded, ns.unchanged) == (len(ns_customers), len(ns_customers) - 1)

    inv, chg = second[("stripe", "invoices")], second[("stripe", "charges")]
    assert (inv.records_in, inv.loaded, inv.unchanged) == (
        len(invoices),
        len(invoices),
        len(invoices) - 1,
    )
    assert (chg.records_in, chg.loaded, chg.unchanged) == (
        len(charges) + 1,
        len(charges) + 1,
        len(charges),
    )
    assert not inv.already_loaded and second[("stripe", "customers")].already_loaded
    # The batch's cursor is the same as if every record had been merged again.
    assert inv.cursor_max == first[("stripe", "invoices")].cursor_max
    # Only the changed and the new record come from the second batch; the rest keep their
    # first batch (lineage), and the raw layer holds the later export exactly.
    from_second = con.execute(
        "SELECT id FROM raw_stripe.invoices WHERE _batch_id = ? UNION ALL "
        "SELECT id FROM raw_stripe.charges WHERE _batch_id = ? ORDER BY 1",
        [inv.batch_id, chg.batch_id],
    ).fetchall()
    assert from_second == sorted([(changed,), ("ch_1NewOneTheNextDay",)])
    assert con.execute(
        "SELECT _payload->>'$.description' FROM raw_stripe.invoices WHERE id = ?", [changed]
    ).fetchall() == [("credit hold",)]
    assert con.sql("SELECT count(*) FROM raw_stripe.invoices").fetchall() == [(len(invoices),)]
    con.close()
    # Replaying both exports from landing gives the same raw layer, lineage included.
    rebuilt = connect(tmp_path / "replayed.duckdb")
    replay(rebuilt, home)
    rebuilt.close()
    assert_same_raw_tables(home / "warehouse.duckdb", tmp_path / "replayed.duckdb")
