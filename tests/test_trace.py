"""``revops trace ID`` on a real sandbox company, through the console script.

One home is built for the module by ``revops demo`` (a small company with a raised anomaly
rate, the real pipeline); every expectation is read from the drop's files and ``truth/`` or
from the serving snapshot, never written down here.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reconciliation.trace import MAX_INVOICES_SHOWN, money, render, salesforce_id_18, trace

pytestmark = pytest.mark.e2e

REVOPS = Path(sys.executable).parent / "revops"
WIDE = 250  # COLUMNS for the table layout: every cell on as few lines as it needs


def _env(home: Path, columns: int = WIDE) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    return {**env, "REVOPS_HOME": str(home), "COLUMNS": str(columns)}


def revops(home: Path, *args: str, columns: int = WIDE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REVOPS), *args],
        cwd=home,
        env=_env(home, columns),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a serving snapshot, built by ``revops demo`` (drop in ``home/sandbox``)."""
    root = tmp_path_factory.mktemp("trace-home")
    args = ("--customers", "120", "--months", "12", "--seed", "17", "--anomaly-rate", "0.05")
    proc = revops(root, "demo", *args)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (root / "serving" / "revenue.duckdb").is_file()
    return root


@dataclass(frozen=True)
class LatePaid:
    """A late-posted, paid invoice as the drop's files say, with every record on its path."""

    opportunity: dict[str, Any]
    subscription: dict[str, Any]
    invoice: dict[str, Any]
    posting: dict[str, Any]  # NetSuite CustInvc
    charge: dict[str, Any]
    payment_posting: dict[str, Any]  # NetSuite CustPymt
    application: dict[str, Any]  # previoustransactionlinelink

    @property
    def lag_days(self) -> float:
        posted = datetime.fromisoformat(self.posting["createddate"]).replace(tzinfo=UTC)
        finalized = self.invoice["status_transitions"]["finalized_at"]
        return (posted.timestamp() - finalized) / 86400


def truth(drop: Path) -> dict[str, set[str]]:
    """truth/exceptions.csv: the record ids of every check."""
    out: dict[str, set[str]] = {}
    with (drop / "truth" / "exceptions.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["check_id"], set()).add(row["record_id"])
    return out


@pytest.fixture(scope="module")
def late_paid(home: Path) -> LatePaid:
    """The first invoice (by id) that truth says was posted late, that is paid, whose charge
    was posted and applied (no other anomaly on it), and whose subscription names its won
    opportunity."""
    drop = home / "sandbox"
    checks = truth(drop)
    other_trouble = checks["payment_not_posted"] | checks["payment_unapplied"]
    invoices = {i["id"]: i for i in read_jsonl(drop / "stripe" / "invoices.jsonl")}
    subscriptions = {s["id"]: s for s in read_jsonl(drop / "stripe" / "subscriptions.jsonl")}
    opportunities = {o["Id"]: o for o in read_jsonl(drop / "salesforce" / "Opportunity.jsonl")}
    charges = {c["id"]: c for c in read_jsonl(drop / "stripe" / "charges.jsonl")}
    paid_by = {
        p["invoice"]: p["payment"]["charge"]
        for p in read_jsonl(drop / "stripe" / "invoice_payments.jsonl")
        if p["status"] == "paid"
    }
    txns = list(read_jsonl(drop / "netsuite" / "transaction.jsonl"))
    by_external = {(t["type"], t.get("externalid")): t for t in txns if t["voided"] == "F"}
    links = {
        (x["previousdoc"], x["nextdoc"]): x
        for x in read_jsonl(drop / "netsuite" / "previoustransactionlinelink.jsonl")
    }
    for invoice_id in sorted(checks["posting_late"]):
        invoice = invoices[invoice_id]
        sub = subscriptions.get(invoice.get("subscription") or _parent_sub(invoice))
        opp_id = ((sub or {}).get("metadata") or {}).get("salesforce_opportunity_id")
        charge_id = paid_by.get(invoice_id)
        if invoice["status"] != "paid" or opp_id not in opportunities or charge_id is None:
            continue
        if charge_id in other_trouble or sub is None:
            continue
        posting = by_external[("CustInvc", invoice_id)]
        payment_posting = by_external[("CustPymt", charge_id)]
        return LatePaid(
            opportunity=opportunities[opp_id],
            subscription=sub,
            invoice=invoice,
            posting=posting,
            charge=charges[charge_id],
            payment_posting=payment_posting,
            application=links[(posting["id"], payment_posting["id"])],
        )
    raise AssertionError("the drop has no late-posted, paid invoice with a clean payment")


def _parent_sub(invoice: dict[str, Any]) -> str | None:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    sub = details.get("subscription")
    return str(sub) if sub is not None else None


def major(minor: int) -> Decimal:
    """A Stripe amount in minor units as major units (the sandbox's currencies have cents)."""
    return Decimal(minor) / 100


def trace_json(home: Path, record_id: str) -> dict[str, Any]:
    proc = revops(home, "trace", record_id, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def hops_by_key(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {h["key"]: h for h in data["hops"]}


# --- (1) the table: every hop of a late-posted, paid invoice ------------------------------


def test_a_late_posted_paid_invoice_shows_every_hop(home: Path, late_paid: LatePaid) -> None:
    t = late_paid
    proc = revops(home, "trace", t.invoice["id"])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    currency = t.invoice["currency"].upper()
    posted_day = t.posting["createddate"][:10]
    expected = [
        t.opportunity["Id"],
        t.opportunity["StageName"],
        t.subscription["id"],
        t.invoice["id"],
        t.invoice["number"],
        money(major(t.invoice["total"]), currency),
        t.posting["id"],
        f"CustInvc {t.posting['tranid']}",
        f"posted {posted_day}",
        f"{t.lag_days:.1f} days after finalization",
        t.charge["id"],
        money(major(t.charge["amount"]), t.charge["currency"].upper()),
        t.payment_posting["id"],
        f"CustPymt {t.payment_posting['tranid']} → CustInvc {t.posting['tranid']}",
        "posting_late",
    ]
    missing = [text for text in expected if text not in out]
    assert not missing, f"not in the table: {missing}\n{out}"
    assert t.lag_days > 2  # truth's late posting is late
    # the hops in path order, each under the one before (in the table, after the header)
    table = out[out.index("\nhop ") :]
    order = [
        table.index(s)
        for s in (t.opportunity["Id"], t.subscription["id"], t.invoice["id"], t.posting["id"])
    ]
    assert order == sorted(order)
    assert table.index(t.charge["id"]) < table.index(t.payment_posting["id"])
    assert max(len(line) for line in out.splitlines()) <= WIDE


@pytest.mark.parametrize("columns", [80, 130])
def test_the_table_fits_the_terminal(home: Path, late_paid: LatePaid, columns: int) -> None:
    proc = revops(home, "trace", late_paid.invoice["id"], columns=columns)
    assert proc.returncode == 0, proc.stderr
    assert max(len(line) for line in proc.stdout.splitlines()) <= columns
    assert "posting_late" in proc.stdout and late_paid.posting["id"] in proc.stdout


# --- (2) json: the same hops --------------------------------------------------------------


def test_json_carries_the_same_hops(home: Path, late_paid: LatePaid) -> None:
    t = late_paid
    data = trace_json(home, t.invoice["id"])
    hops = hops_by_key(data)
    assert data["resolution"]["kind"] == "invoice"
    path = [
        ("opportunity", t.opportunity["Id"], None, 0),
        ("subscription", t.subscription["id"], f"opportunity:{t.opportunity['Id']}", 1),
        ("invoice", t.invoice["id"], f"subscription:{t.subscription['id']}", 2),
        ("posting", t.posting["id"], f"invoice:{t.invoice['id']}", 3),
        ("payment", t.charge["id"], f"invoice:{t.invoice['id']}", 3),
        ("posting", t.payment_posting["id"], f"payment:{t.charge['id']}", 4),
    ]
    for kind, record_id, parent, depth in path:
        hop = hops[f"{kind}:{record_id}"]
        assert (hop["parent"], hop["depth"]) == (parent, depth), hop
        assert hop["match"], hop  # every hop says how it was linked
    link = t.application
    app = hops[
        f"application:{link['previousdoc']}:{link['previousline']}>"
        f"{link['nextdoc']}:{link['nextline']}"
    ]
    assert app["parent"] == f"posting:{t.payment_posting['id']}"
    assert Decimal(app["amount"]) == Decimal(link["foreignamount"])

    invoice = hops[f"invoice:{t.invoice['id']}"]
    assert Decimal(invoice["amount"]) == major(t.invoice["total"])
    assert invoice["currency"] == t.invoice["currency"].upper()
    assert invoice["status"] == "paid"
    assert "posting_late" in invoice["exceptions"]
    posting = hops[f"posting:{t.posting['id']}"]
    assert posting["dates"]["posted"] == t.posting["createddate"][:10]
    assert posting["dates"]["dated"] == t.posting["trandate"]
    assert posting["lag_days"] == pytest.approx(t.lag_days, abs=0.01)
    assert Decimal(posting["amount"]) == Decimal(t.posting["foreigntotal"])
    assert posting["label"] == f"CustInvc {t.posting['tranid']}"
    charge = hops[f"payment:{t.charge['id']}"]
    assert (charge["status"], Decimal(charge["amount"])) == (
        t.charge["status"],
        major(t.charge["amount"]),
    )
    opportunity = hops[f"opportunity:{t.opportunity['Id']}"]
    assert opportunity["dates"]["closed"] == t.opportunity["CloseDate"]

    late = [e for e in data["exceptions"] if e["check_id"] == "posting_late"]
    assert [(e["record_id"], e["hop"], e["status"]) for e in late] == [
        (t.invoice["id"], f"invoice:{t.invoice['id']}", "open")
    ]
    assert t.posting["id"] in late[0]["detail"]
    # the table shows the same hops
    table = revops(home, "trace", t.invoice["id"]).stdout
    assert all(h["record_id"] in table for h in data["hops"])


def test_every_exception_on_the_path_is_listed(home: Path, late_paid: LatePaid) -> None:
    """The json's exceptions are exactly the snapshot's rows whose record is a hop."""
    data = trace_json(home, late_paid.invoice["id"])
    ids = [h["record_id"] for h in data["hops"]]
    ids += [i["source_id"] for i in data["customer"]["identities"]]
    con = duckdb.connect(str(home / "serving" / "revenue.duckdb"), read_only=True)
    rows = con.execute(
        "select exception_id from recon.exceptions where list_contains($ids, record_id) "
        "or list_contains($ids, split_part(record_id, ':', 1))",
        {"ids": ids},
    ).fetchall()
    con.close()
    assert {e["exception_id"] for e in data["exceptions"]} == {r[0] for r in rows}


# --- (3) other kinds of id ----------------------------------------------------------------


def test_a_15_character_opportunity_id_resolves(home: Path, late_paid: LatePaid) -> None:
    opp_id = late_paid.opportunity["Id"]
    data = trace_json(home, opp_id[:15])
    assert data["resolution"]["kind"] == "opportunity"
    assert data["resolution"]["record_ids"] == [opp_id]
    hops = hops_by_key(data)
    assert f"subscription:{late_paid.subscription['id']}" in hops
    assert f"invoice:{late_paid.invoice['id']}" in hops  # everything below the opportunity
    # a wrong-case 18-character id finds the same record (its checksum restores the case)
    assert trace_json(home, opp_id.swapcase())["resolution"]["record_ids"] == [opp_id]


def test_netsuite_ids_resolve(home: Path, late_paid: LatePaid) -> None:
    posting = late_paid.posting
    for ident in (posting["id"], posting["tranid"]):
        data = trace_json(home, ident)
        assert data["resolution"]["kind"] == "posting"
        assert data["resolution"]["record_ids"] == [posting["id"]]
        hops = hops_by_key(data)
        # from the posting to the Stripe invoice its externalid names, and up to the deal
        assert hops[f"posting:{posting['id']}"]["parent"] == f"invoice:{posting['externalid']}"
        assert f"opportunity:{late_paid.opportunity['Id']}" in hops
        # only that invoice: not the subscription's other invoices
        assert [h for h in data["hops"] if h["kind"] == "invoice"] == [
            hops[f"invoice:{posting['externalid']}"]
        ]
    # the payment's NetSuite id leads to the same invoice through its charge
    data = trace_json(home, late_paid.payment_posting["id"])
    assert f"invoice:{late_paid.invoice['id']}" in hops_by_key(data)


def test_a_customer_id_traces_all_its_records(home: Path, late_paid: LatePaid) -> None:
    con = duckdb.connect(str(home / "serving" / "revenue.duckdb"), read_only=True)
    customer_id = con.execute(
        "select customer_id from core.subscriptions where subscription_id = ?",
        [late_paid.subscription["id"]],
    ).fetchall()[0][0]
    subscriptions = {
        r[0]
        for r in con.execute(
            "select subscription_id from core.subscriptions where customer_id = ?", [customer_id]
        ).fetchall()
    }
    per_subscription = dict(
        con.execute(
            "select subscription_id, count(*) from core.invoices where customer_id = ? "
            "group by all",
            [customer_id],
        ).fetchall()
    )
    con.close()
    invoices = sum(per_subscription.values())

    data = trace_json(home, customer_id)
    assert (data["resolution"]["kind"], data["customer"]["customer_id"]) == (
        "customer",
        customer_id,
    )
    kinds: dict[str, set[str]] = {}
    for hop in data["hops"]:
        kinds.setdefault(hop["kind"], set()).add(hop["record_id"])
    assert kinds["subscription"] == subscriptions
    assert len(kinds["invoice"]) == invoices
    assert late_paid.opportunity["Id"] in kinds["opportunity"]

    table = revops(home, "trace", customer_id)
    assert table.returncode == 0, table.stderr
    assert customer_id in table.stdout
    # the table caps the invoices it prints per subscription, and says how many it left out
    shown = sum(i in table.stdout for i in kinds["invoice"])
    capped = {s: n - MAX_INVOICES_SHOWN for s, n in per_subscription.items()}
    left_out = sum(n for n in capped.values() if n > 0)
    assert shown == invoices - left_out
    notes = re.findall(r"(\d+) more invoices not shown", table.stdout)
    assert sorted(int(n) for n in notes) == sorted(n for n in capped.values() if n > 0)
    summary = re.search(r"(\d+) hops \((\d+) not shown\)", table.stdout)
    assert summary is not None, table.stdout
    assert (int(summary.group(1)), int(summary.group(2)) > 0) == (len(data["hops"]), left_out > 0)
    # the Salesforce Account and the Stripe customer lead to the same customer
    account = late_paid.opportunity["AccountId"]
    for ident in (account, account[:15], late_paid.subscription["customer"]):
        assert trace_json(home, ident)["customer"]["customer_id"] == customer_id


def test_an_id_of_two_kinds_says_which_it_traced(
    home: Path, late_paid: LatePaid, tmp_path: Path
) -> None:
    """NetSuite internal ids are per record type: give another customer a NetSuite customer
    whose id is the late posting's (in a copy of the snapshot). The trace follows the posting
    and says how to trace the customer instead."""
    copy = tmp_path / "revenue.duckdb"
    shutil.copy(home / "serving" / "revenue.duckdb", copy)
    con = duckdb.connect(str(copy))
    other = con.execute(
        "select min(customer_id) from core.customers where customer_id <> "
        "(select customer_id from core.invoices where invoice_id = ?)",
        [late_paid.invoice["id"]],
    ).fetchall()[0][0]
    con.execute(
        "insert into core.customer_identities (customer_id, system, source_id, match_method) "
        "values (?, 'netsuite', ?, 'netsuite_externalid')",
        [other, late_paid.posting["id"]],
    )
    found = trace(con, late_paid.posting["id"])
    con.close()
    assert (found.resolution.kind, found.resolution.record_ids) == (
        "posting",
        (late_paid.posting["id"],),
    )
    assert [a for a in found.resolution.also if f"revops trace {other}" in a]
    assert f"revops trace {other}" in render(found, width=200)


# --- (4) an unknown id -------------------------------------------------------------------


@pytest.mark.parametrize("record_id", ["in_NoSuchInvoice000000000000", "0068d000000000Z", "4242"])
def test_an_unknown_id_fails_with_one_sentence(home: Path, record_id: str) -> None:
    proc = revops(home, "trace", record_id)
    assert proc.returncode == 1
    assert proc.stdout == ""
    last = [line for line in proc.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("revops: ") and record_id in last, proc.stderr
    assert last.count(". ") == 0  # one sentence


def test_trace_does_not_import_dagster(home: Path, late_paid: LatePaid) -> None:
    code = "import sys; from dagster_project.cli import main; sys.exit(main())"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, "trace", late_paid.invoice["id"]],
        cwd=home,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "reconciliation.trace" in imported
    assert not {m for m in imported if m == "dagster" or m.startswith(("dagster.", "dbt"))}


def test_salesforce_ids_of_the_drop_round_trip(home: Path) -> None:
    ids = [o["Id"] for o in read_jsonl(home / "sandbox" / "salesforce" / "Opportunity.jsonl")]
    assert ids
    assert all(salesforce_id_18(i[:15]) == i for i in ids)
    assert all(salesforce_id_18(i.lower()) == i for i in ids)
