"""Quarantined records are exceptions, and explain the exceptions they cause, on real files.

A sandbox drop gets three broken lines in ``stripe/invoices.jsonl`` (invoices NetSuite has
posted, so their postings would read as orphans) and one broken NetSuite invoice posting
(its Stripe invoice would read as never posted). The real pipeline runs on it: load, ``dbt
build``, the checks, the serving snapshot. Then:

- each broken record is a ``record_quarantined`` exception for engineering, high (an invoice),
  naming the file, the line and the rule, with the amount its payload gives;
- the postings of the quarantined invoices, and the invoice of the quarantined posting, say
  the counterpart was quarantined instead of claiming it does not exist;
- ``discrepancy_at`` is the source event (an unposted invoice's ``finalized_at``), and the
  aging reads it;
- the serving snapshot holds the three quarantine tables;
- the corrected drop resolves them all.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_build import dbt_build, load
from drops import sync_manifest

from connectors.load.warehouse import connect
from connectors.sandbox import generate
from reconciliation import metrics
from reconciliation.publish import publish_snapshot
from reconciliation.run import EXCEPTION_COLUMNS, ensure_tables, run_checks

pytestmark = pytest.mark.integration

COMPANY: dict[str, Any] = {"customers": 120, "months": 12, "seed": 5, "anomaly_rate": 0.05}
# How each of the three invoice lines is broken (the JSON stays valid), and the loader's rule.
INVOICE_BREAKS = (
    ("status", "finalised", "status 'finalised' is not a value the vendor defines"),
    ("created", "2026-01-01", "created must be a Unix timestamp in whole seconds"),
    ("customer", "cust-broken", "customer 'cust-broken' does not match the id format"),
)
POSTING_BREAK = ("trandate", "31/01/2026", "trandate must be a date written YYYY-MM-DD")
# Files of records held with an invoice or a NetSuite transaction (their loader holds).
HELD_FILES = (
    "stripe/invoice_payments.jsonl",
    "stripe/credit_notes.jsonl",
    "netsuite/transactionline.jsonl",
    "netsuite/transactionaccountingline.jsonl",
    "netsuite/previoustransactionlinelink.jsonl",
)
QUARANTINES = ("raw_salesforce.quarantine", "raw_stripe.quarantine", "raw_netsuite.quarantine")


@dataclass(frozen=True)
class Broken:
    """A record broken on purpose: its line (1-based), its record as generated, the rule."""

    line: int
    record: dict[str, Any]
    rule: str


@dataclass(frozen=True)
class Run:
    drop: Path
    clean: Path  # the drop as generated
    home: Path
    invoices: tuple[Broken, ...]  # three lines of stripe/invoices.jsonl
    posting: Broken  # one CustInvc of netsuite/transaction.jsonl
    exported_at: datetime


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def break_drop(drop: Path) -> tuple[tuple[Broken, ...], Broken]:
    """Break three posted invoices and one posting of another invoice, as an exporter might."""
    exported_at = _exported_at(drop)
    invoices_path = drop / "stripe" / "invoices.jsonl"
    tx_path = drop / "netsuite" / "transaction.jsonl"
    invoices, txs = _records(invoices_path), _records(tx_path)
    postings: dict[str, list[dict[str, Any]]] = {}
    for t in txs:
        if t["type"] == "CustInvc" and t.get("voided") != "T" and t.get("externalid"):
            postings.setdefault(t["externalid"], []).append(t)
    cutoff = (exported_at - timedelta(days=3)).timestamp()
    candidates = [
        index
        for index, inv in enumerate(invoices)
        if len(postings.get(inv["id"], [])) == 1
        and inv["status"] == "paid"
        and inv["currency"] in ("usd", "eur", "gbp")
        and inv["total"] > 0
        and inv["status_transitions"]["finalized_at"] <= cutoff
    ]
    assert len(candidates) >= 4
    broken = []
    for index, (field, value, rule) in zip(candidates[:3], INVOICE_BREAKS, strict=True):
        broken.append(Broken(index + 1, dict(invoices[index]), rule))
        invoices[index] = {**invoices[index], field: value}
    # the posting of a fourth invoice: the invoice itself stays whole
    posting = postings[invoices[candidates[3]]["id"]][0]
    tx_index = txs.index(posting)
    field, value, rule = POSTING_BREAK
    txs[tx_index] = {**posting, field: value}
    _write(invoices_path, invoices)
    _write(tx_path, txs)
    sync_manifest(drop)
    return tuple(broken), Broken(tx_index + 1, posting, rule)


def _exported_at(drop: Path) -> datetime:
    manifest = json.loads((drop / "manifest.json").read_text(encoding="utf-8"))
    return datetime.fromisoformat(manifest["exported_at"].replace("Z", "+00:00"))


def pipeline(drop: Path, home: Path, run_id: str) -> Path:
    """Load, build, reconcile and publish ``drop`` into ``home``; the serving snapshot."""
    load(drop, home)
    dbt_build(home)
    con = connect(home / "warehouse.duckdb")
    try:
        run_checks(con, run_id=run_id)
    finally:
        con.close()
    serving = home / "serving" / "revenue.duckdb"
    publish_snapshot(home / "warehouse.duckdb", serving)
    return serving


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("quarantine")
    clean, drop, home = root / "clean", root / "drop", root / "home"
    generate(clean, progress=False, **COMPANY)
    shutil.copytree(clean, drop)
    invoices, posting = break_drop(drop)
    pipeline(drop, home, "run-1")
    return Run(drop, clean, home, invoices, posting, _exported_at(drop))


def exceptions(warehouse: Path, check_id: str, status: str = "open") -> list[dict[str, Any]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rel = con.execute(
            "SELECT * FROM recon.exceptions WHERE check_id = ? AND status = ? ORDER BY record_id",
            [check_id, status],
        )
        names = [d[0] for d in rel.description]
        return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
    finally:
        con.close()


def test_each_broken_invoice_line_is_a_high_exception_for_engineering(run: Run) -> None:
    found = exceptions(run.home / "warehouse.duckdb", "record_quarantined")
    mine = {e["record_id"]: e for e in found if e["detail"].startswith("stripe/invoices.jsonl ")}
    assert sorted(mine) == sorted(b.record["id"] for b in run.invoices)
    for broken in run.invoices:
        invoice = broken.record
        e = mine[invoice["id"]]
        assert (e["owner"], e["severity"], e["record_system"]) == ("engineering", "high", "stripe")
        assert e["detail"].startswith(f"stripe/invoices.jsonl line {broken.line} ")
        assert broken.rule in e["detail"]
        assert e["detail"].endswith("correct the record in the export and run again")
        # the amount at risk is the payload's total, minor units in major, in its currency
        assert e["currency"] == invoice["currency"].upper()
        assert e["amount_local"] == Decimal(invoice["total"]) / 100
        assert e["amount_at_risk_reporting"] is not None
        assert e["discrepancy_at"] == run.exported_at  # the export that brought it
        assert e["first_seen_run_id"] == "run-1"
    # every other quarantined Stripe record waits for one of them (its invoice payments)
    held = [e for e in found if e["record_id"] not in mine and e["record_system"] == "stripe"]
    assert held
    for e in held:
        assert any(f"held with invoices {i}," in e["detail"] for i in mine), e["detail"]


def test_the_broken_posting_is_a_high_exception_naming_its_file_and_line(run: Run) -> None:
    found = exceptions(run.home / "warehouse.duckdb", "record_quarantined")
    posting = run.posting.record
    [e] = [e for e in found if e["record_id"] == posting["id"]]
    assert (e["record_system"], e["severity"]) == ("netsuite", "high")  # a CustInvc
    assert e["detail"].startswith(
        f"netsuite/transaction.jsonl line {run.posting.line} ({posting['id']}): "
    )
    assert run.posting.rule in e["detail"]
    assert e["amount_local"] == abs(Decimal(posting["foreigntotal"]))


def test_postings_of_quarantined_invoices_say_so_instead_of_orphan_claims(run: Run) -> None:
    orphans = exceptions(run.home / "warehouse.duckdb", "erp_orphan_posting")
    tx = _records(run.drop / "netsuite" / "transaction.jsonl")
    for broken in run.invoices:
        invoice_id = broken.record["id"]
        [posting] = [t for t in tx if t["type"] == "CustInvc" and t["externalid"] == invoice_id]
        [e] = [e for e in orphans if e["record_id"] == str(posting["id"])]
        assert f"{invoice_id} was quarantined: {broken.rule}" in e["detail"]
        assert e["detail"].endswith(f"(stripe/invoices.jsonl line {broken.line})")
    claims = [e["detail"] for e in orphans if "which names no Stripe invoice" in e["detail"]]
    assert not [d for d in claims for b in run.invoices if b.record["id"] in d]


def test_an_invoice_whose_posting_is_quarantined_says_so(run: Run) -> None:
    posting = run.posting.record
    [e] = [
        e
        for e in exceptions(run.home / "warehouse.duckdb", "invoice_not_posted")
        if e["record_id"] == posting["externalid"]
    ]
    assert e["detail"].endswith(
        f": NetSuite CustInvc {posting['id']} was quarantined: "
        + e["detail"].split(" was quarantined: ", 1)[1]
    )
    assert run.posting.rule in e["detail"]
    assert e["detail"].endswith(f"(netsuite/transaction.jsonl line {run.posting.line})")
    assert " after " not in e["detail"]  # no claim it was never posted


def test_an_unposted_invoice_dates_its_discrepancy_at_its_finalization(run: Run) -> None:
    finalized = {
        i["id"]: datetime.fromtimestamp(i["status_transitions"]["finalized_at"], UTC)
        for i in _records(run.drop / "stripe" / "invoices.jsonl")
        if isinstance(i["status_transitions"].get("finalized_at"), int)
    }
    found = exceptions(run.home / "warehouse.duckdb", "invoice_not_posted")
    assert found
    for e in found:
        assert e["discrepancy_at"] == finalized[e["record_id"]], e["record_id"]
        assert e["first_seen_at"] == run.exported_at


def test_the_aging_is_the_discrepancys_not_the_queues(run: Run) -> None:
    con = duckdb.connect(str(run.home / "serving" / "revenue.duckdb"), read_only=True)
    try:
        by_age = metrics.open_by_owner_and_age(con)
        by_queue = metrics.open_by_owner_and_queue_age(con)
        [(old,)] = con.execute(
            "SELECT count(*) FROM recon.exceptions WHERE status = 'open' "
            "AND date_diff('day', coalesce(discrepancy_at, first_seen_at), ?) > 30",
            [run.exported_at],
        ).fetchall()
    finally:
        con.close()
    assert old > 0  # one run: nothing has waited in the queue, much is old
    assert sum(r["exceptions"] for r in by_age if r["age_bucket"] == "> 30 days") == old
    assert {r["age_bucket"] for r in by_queue} == {"0-2 days"}
    assert all(r["max_days_in_queue"] == 0 for r in by_age)


def test_the_serving_snapshot_holds_the_quarantine_tables(run: Run) -> None:
    con = duckdb.connect(str(run.home / "serving" / "revenue.duckdb"), read_only=True)
    try:
        tables = {
            f"{s}.{t}"
            for s, t in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables()"
            ).fetchall()
        }
        lines = con.execute(
            "SELECT line FROM raw_stripe.quarantine WHERE object = 'invoices' ORDER BY line"
        ).fetchall()
    finally:
        con.close()
    assert set(QUARANTINES) <= tables
    assert [line for (line,) in lines] == sorted(b.line for b in run.invoices)


def test_the_corrected_drop_resolves_them(run: Run, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(run.home, home)
    drop = tmp_path / "drop"
    shutil.copytree(run.clean, drop)
    # The corrected export. The records held with the broken ones load when their files come
    # again (an identical file is a batch already loaded): here in another order.
    for held in HELD_FILES:
        _write(drop / held, _records(drop / held)[::-1])
    sync_manifest(drop)
    pipeline(drop, home, "run-2")
    warehouse = home / "warehouse.duckdb"
    assert exceptions(warehouse, "record_quarantined") == []
    resolved = {e["record_id"] for e in exceptions(warehouse, "record_quarantined", "resolved")}
    assert {b.record["id"] for b in run.invoices} | {str(run.posting.record["id"])} <= resolved
    open_ids = {e["record_id"] for e in exceptions(warehouse, "invoice_not_posted")}
    assert run.posting.record["externalid"] not in open_ids
    orphans = exceptions(warehouse, "erp_orphan_posting")
    assert not [e for e in orphans if "was quarantined" in e["detail"]]


def test_an_older_queue_gets_the_new_columns(tmp_path: Path) -> None:
    """A warehouse an older revops created keeps working: its recon.exceptions gets the new
    columns (first_seen_run_id filled from the history) instead of failing."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        con.execute("CREATE SCHEMA recon")
        con.execute(
            """CREATE TABLE recon.exceptions (
            exception_id VARCHAR, check_id VARCHAR, record_system VARCHAR, record_id VARCHAR,
            customer_id VARCHAR, entity VARCHAR, owner VARCHAR, severity VARCHAR,
            amount_at_risk_reporting DECIMAL(18,2), currency VARCHAR, amount_local DECIMAL(18,2),
            detail VARCHAR, status VARCHAR, first_seen_at TIMESTAMPTZ, last_seen_at TIMESTAMPTZ,
            resolved_at TIMESTAMPTZ, times_reopened INTEGER, last_run_id VARCHAR)"""
        )
        con.execute(
            """CREATE TABLE recon.exception_events (
            exception_id VARCHAR, check_id VARCHAR, record_id VARCHAR, event VARCHAR,
            event_at TIMESTAMPTZ, run_id VARCHAR, detail VARCHAR)"""
        )
        con.execute(
            "INSERT INTO recon.exceptions VALUES ('x', 'invoice_not_posted', 'stripe', 'in_1', "
            "NULL, 'US', 'finance', 'low', 1, 'USD', 1, 'd', 'open', '2026-01-01', "
            "'2026-02-01', NULL, 0, 'run-b')"
        )
        con.execute(
            "INSERT INTO recon.exception_events VALUES "
            "('x', 'invoice_not_posted', 'in_1', 'opened', '2026-01-01', 'run-a', 'd'), "
            "('x', 'invoice_not_posted', 'in_1', 'resolved', '2026-01-15', 'run-c', 'd'), "
            "('x', 'invoice_not_posted', 'in_1', 'reopened', '2026-02-01', 'run-b', 'd')"
        )
        ensure_tables(con)
        ensure_tables(con)  # idempotent
        columns = [
            c
            for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'recon' "
                "AND table_name = 'exceptions' ORDER BY column_index"
            ).fetchall()
        ]
        row = con.execute(
            "SELECT first_seen_run_id, discrepancy_at, severity_override FROM recon.exceptions"
        ).fetchall()
    finally:
        con.close()
    assert columns == list(EXCEPTION_COLUMNS)
    assert row == [("run-a", None, None)]
