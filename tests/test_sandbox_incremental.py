"""Incremental sandbox drops: one company (same seed, size and ``through``) seen at two instants.

Drop A is exported at ``A`` and drop B a day later, both generated through ``A + 3 days``:
B holds every record of A, most of them byte-identical, and what differs or is new in B
happened in ``(A, A + 1 day]``. A drop exported before its ``through`` is exact at its cut
(the truth checks of ``test_sandbox_drop`` / ``test_sandbox_truth`` hold), and the pipeline run
on A, then on B, finds exactly B's truth.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import test_sandbox_drop as sandbox_drop
import test_sandbox_truth as sandbox_truth
from dbt_build import dbt_build, differing, load, mrr_cells, truth_cells
from drops import Company, CompanyAt
from test_recon import open_set, score, truth_set

from connectors.load.warehouse import connect
from connectors.sandbox import generate
from reconciliation.run import run_checks

pytestmark = pytest.mark.integration

A = datetime(2026, 6, 16, 12, 0, tzinfo=UTC)  # a Tuesday in mid-month: a day with activity
B = A + timedelta(days=1)
THROUGH = A + timedelta(days=3)
COMPANY: Company = {"customers": 300, "months": 14, "seed": 11}
LO, HI = int(A.timestamp()), int(B.timestamp())

# Record key of each file whose records have no ``id`` / ``Id`` of their own.
KEYS = {
    "netsuite/transactionline.jsonl": ("transaction", "id"),
    "netsuite/transactionaccountingline.jsonl": ("transaction", "transactionline", "account"),
    "netsuite/previoustransactionlinelink.jsonl": ("previousdoc", "nextdoc"),
    "stripe/meter_events.jsonl": ("identifier",),
}

Lines = dict[Any, str]  # record key -> the raw JSON line


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Drop A (at A), drop B (a day later), both through A + 3 days; C: at through itself."""
    root = tmp_path_factory.mktemp("incremental")
    a, b, c = root / "a", root / "b", root / "c"
    generate(a, as_of=A, through=THROUGH, progress=False, **COMPANY)
    generate(b, as_of=B, through=THROUGH, progress=False, **COMPANY)
    generate(c, as_of=THROUGH, progress=False, **COMPANY)  # through defaults to as_of
    return a, b, c


def record_key(rel: str, rec: dict[str, Any]) -> Any:
    fields = KEYS.get(rel)
    if fields:
        return tuple(rec[f] for f in fields)
    return rec["id"] if "id" in rec else rec["Id"]


def lines_by_key(drop: Path, rel: str) -> Lines:
    path = drop / rel
    out: Lines = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key = record_key(rel, json.loads(line))
        assert key not in out, (rel, key)
        out[key] = line
    return out


def system_files(drop: Path) -> list[str]:
    return sorted(str(p.relative_to(drop)) for p in drop.glob("*/*.jsonl"))


def in_window(ts: int | None) -> bool:
    return ts is not None and LO < ts <= HI


def sf_instant(value: str) -> int:
    return int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.000%z").timestamp())


def ns_instant(value: str) -> int:
    return int(datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp())


def day_in_window(value: str) -> bool:
    """A ``YYYY-MM-DD`` date after A's UTC date and not after B's."""
    return A.date() < datetime.strptime(value, "%Y-%m-%d").date() <= B.date()


def load_file(drop: Path, rel: str) -> dict[Any, dict[str, Any]]:
    return {k: json.loads(v) for k, v in lines_by_key(drop, rel).items()}


def test_manifest_names_the_through_instant(drops: tuple[Path, Path, Path]) -> None:
    a, b, c = drops
    for drop, as_of in ((a, A), (b, B)):
        manifest = json.loads((drop / "manifest.json").read_text())
        assert manifest["exported_at"] == as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert manifest["through"] == THROUGH.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert manifest["files"] and manifest["seed"] == COMPANY["seed"]
    assert "through" not in json.loads((c / "manifest.json").read_text())


def test_nothing_disappears_and_most_lines_stay_identical(
    drops: tuple[Path, Path, Path],
) -> None:
    a, b, c = drops
    assert system_files(a) == system_files(b) == system_files(c)
    same = total = new = 0
    for rel in system_files(a):
        la, lb, lc = (lines_by_key(d, rel) for d in (a, b, c))
        assert la.keys() <= lb.keys(), (rel, sorted(la.keys() - lb.keys())[:5])
        assert lb.keys() <= lc.keys(), (rel, sorted(lb.keys() - lc.keys())[:5])
        same += sum(la[k] == lb[k] for k in la)
        total += len(la)
        new += len(lb.keys() - la.keys())
    print(f"\n{total} records in A, {same} identical in B, {new} new in B")
    assert same >= 0.97 * total
    for rel in ("stripe/invoices.jsonl", "stripe/charges.jsonl", "netsuite/transaction.jsonl"):
        assert lines_by_key(b, rel).keys() - lines_by_key(a, rel).keys(), f"no new {rel}"


# How a new record of each file shows the instant it was created at.
CREATED: dict[str, Callable[[dict[str, Any]], bool]] = {
    "salesforce/Account.jsonl": lambda r: in_window(sf_instant(r["CreatedDate"])),
    "salesforce/Opportunity.jsonl": lambda r: in_window(sf_instant(r["CreatedDate"])),
    "salesforce/Contract.jsonl": lambda r: in_window(sf_instant(r["ActivatedDate"])),
    "stripe/meter_events.jsonl": lambda r: in_window(r["timestamp"]),
    "stripe/credit_notes.jsonl": lambda r: in_window(r["effective_at"]),
    "netsuite/customer.jsonl": lambda r: in_window(ns_instant(r["datecreated"])),
    "netsuite/transaction.jsonl": lambda r: in_window(ns_instant(r["createddate"])),
    "netsuite/currencyrate.jsonl": lambda r: day_in_window(r["effectivedate"]),
}


CHILDREN = {
    "netsuite/transactionline.jsonl",
    "netsuite/transactionaccountingline.jsonl",
    "netsuite/previoustransactionlinelink.jsonl",
    "salesforce/OpportunityLineItem.jsonl",
}


def test_every_new_record_was_created_in_the_window(drops: tuple[Path, Path, Path]) -> None:
    a, b, _ = drops
    new_tx = set()
    new_opps = set()
    for rel in system_files(a):
        before, after = lines_by_key(a, rel), load_file(b, rel)
        fresh = {k: r for k, r in after.items() if k not in before}
        if rel == "netsuite/transaction.jsonl":
            new_tx = {r["id"] for r in fresh.values()}
        if rel == "salesforce/Opportunity.jsonl":
            new_opps = set(fresh)
        if rel in CHILDREN:
            continue  # checked below, against their parents
        for key, rec in fresh.items():
            if rel in CREATED:
                assert CREATED[rel](rec), (rel, key)
            else:
                assert rel.startswith("stripe/"), (rel, key, "records of this file are never new")
                assert in_window(rec["created"]), (rel, key)
    # Children are new only with a new parent.
    lines = load_file(b, "netsuite/transactionline.jsonl")
    old_lines = lines_by_key(a, "netsuite/transactionline.jsonl")
    assert all(k[0] in new_tx for k in lines if k not in old_lines)
    acct = load_file(b, "netsuite/transactionaccountingline.jsonl")
    old_acct = lines_by_key(a, "netsuite/transactionaccountingline.jsonl")
    assert all(k[0] in new_tx for k in acct if k not in old_acct)
    links = load_file(b, "netsuite/previoustransactionlinelink.jsonl")
    old_links = lines_by_key(a, "netsuite/previoustransactionlinelink.jsonl")
    # A payment is applied once both postings exist: the later of the two is new.
    assert all(k[0] in new_tx or k[1] in new_tx for k in links if k not in old_links)
    items = load_file(b, "salesforce/OpportunityLineItem.jsonl")
    old_items = lines_by_key(a, "salesforce/OpportunityLineItem.jsonl")
    assert all(r["OpportunityId"] in new_opps for k, r in items.items() if k not in old_items)


def _invoice_events(inv: dict[str, Any]) -> list[int | None]:
    return [inv["created"], *inv["status_transitions"].values()]


def test_every_changed_record_had_an_event_in_the_window(
    drops: tuple[Path, Path, Path],
) -> None:
    """A line that differs belongs to a record something happened to in (A, A + 1 day]."""
    a, b, _ = drops
    stripe = {name: load_file(b, f"stripe/{name}.jsonl") for name in ("invoices", "refunds")}
    notes = load_file(b, "stripe/credit_notes.jsonl").values()
    refunded_in_window = {
        r["charge"] for r in stripe["refunds"].values() if in_window(r["created"])
    }
    credited_in_window = {n["invoice"] for n in notes if in_window(n["created"])}
    sub_events: dict[str, bool] = {}
    for inv in stripe["invoices"].values():
        parent = inv["parent"]
        if parent is not None:
            sub = parent["subscription_details"]["subscription"]
            sub_events[sub] = sub_events.get(sub, False) or any(
                map(in_window, _invoice_events(inv))
            )
    stripe_invoice_events = {
        i: any(map(in_window, _invoice_events(inv))) for i, inv in stripe["invoices"].items()
    }
    new_customers = {
        c["id"] for c in load_file(b, "stripe/customers.jsonl").values() if in_window(c["created"])
    }
    linked_new_customers = {
        c["metadata"].get("salesforce_account_id")
        for c in load_file(b, "stripe/customers.jsonl").values()
        if c["id"] in new_customers
    }

    def subscription_event(old: dict[str, Any], sub: dict[str, Any]) -> bool:
        instants = [sub[k] for k in ("canceled_at", "ended_at", "trial_end")]
        item, old_item = sub["items"]["data"][0], old["items"]["data"][0]
        instants += [item["current_period_start"]]
        # A seat or plan change carries no instant on the object: only its items change.
        changed_item = (item["quantity"], item["price"]["id"]) != (
            old_item["quantity"],
            old_item["price"]["id"],
        )
        return sub_events.get(sub["id"], False) or any(map(in_window, instants)) or changed_item

    explain: dict[str, Callable[[dict[str, Any], dict[str, Any]], bool]] = {
        "stripe/invoices.jsonl": lambda old, new: (
            stripe_invoice_events[new["id"]] or new["id"] in credited_in_window
        ),
        "stripe/charges.jsonl": lambda old, new: new["id"] in refunded_in_window,
        "stripe/subscriptions.jsonl": subscription_event,
        "salesforce/Opportunity.jsonl": lambda old, new: in_window(
            sf_instant(new["SystemModstamp"])
        ),
        "salesforce/OpportunityLineItem.jsonl": lambda old, new: in_window(
            sf_instant(new["SystemModstamp"])
        ),
        "salesforce/Account.jsonl": lambda old, new: (
            in_window(sf_instant(new["SystemModstamp"])) or new["Id"] in linked_new_customers
        ),
        # A period closes when the month after it ends (A and B in one month: never).
        "netsuite/accountingperiod.jsonl": lambda old, new: (
            (old["closed"], new["closed"]) == ("F", "T") and (A.year, A.month) != (B.year, B.month)
        ),
        # A posting changes when its Stripe invoice is voided or paid.
        "netsuite/transaction.jsonl": lambda old, new: stripe_invoice_events.get(
            new.get("externalid"), False
        ),
    }
    changed: dict[str, int] = {}
    for rel in system_files(a):
        before, after = lines_by_key(a, rel), lines_by_key(b, rel)
        keys = [k for k in before if before[k] != after[k]]
        if keys:
            changed[rel] = len(keys)
        for key in keys:
            old, new = json.loads(before[key]), json.loads(after[key])
            assert rel in explain, (rel, key, "changed, but records of this file never change")
            assert explain[rel](old, new), (rel, key, before[key][:300], after[key][:300])
    print(f"\nchanged records: {changed}")
    assert changed.get("stripe/invoices.jsonl", 0) > 0


# Drops exported 10 days before their horizon's end: the existing truth checks hold at the cut.
CUT_CONFIGS: dict[str, CompanyAt] = {
    "mid_month": {
        "customers": 250,
        "months": 14,
        "seed": 11,
        "as_of": datetime(2026, 3, 17, 9, 30, tzinfo=UTC),
    },
    "month_end": {"customers": 300, "months": 14, "seed": 42},
}


@pytest.fixture(scope="module", params=sorted(CUT_CONFIGS))
def cut_drop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = CUT_CONFIGS[request.param]
    as_of = config.get("as_of", datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC))
    out = tmp_path_factory.mktemp(f"cut-{request.param}")
    generate(
        out,
        progress=False,
        **(config | {"as_of": as_of}),
        through=as_of + timedelta(days=10),
    )
    return out


@pytest.mark.parametrize(
    "check",
    [
        sandbox_drop.test_references_inside_each_system_always_resolve,
        sandbox_drop.test_broken_crm_links_are_exactly_the_injected_ones,
        sandbox_drop.test_unprovisioned_deals_are_exactly_the_injected_ones,
        sandbox_drop.test_missing_postings_are_exactly_the_injected_ones,
        sandbox_drop.test_orphan_postings_are_exactly_the_injected_ones,
        sandbox_truth.test_truth_equals_a_loop_over_the_subscription_timeline,
        sandbox_truth.test_truth_equals_invoice_based_mrr_of_the_exported_drop,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
def test_truth_is_exact_at_the_cut(cut_drop: Path, check: Callable[[Path], None]) -> None:
    nothing_later = int(sandbox_truth.as_of_of(cut_drop).timestamp())
    for rel in ("stripe/invoices.jsonl", "stripe/charges.jsonl", "stripe/meter_events.jsonl"):
        assert all(r["created"] <= nothing_later for r in sandbox_drop.records(cut_drop / rel))
    check(cut_drop)


def _run(drop: Path, home: Path, run_id: str) -> None:
    """Load ``drop`` into ``home``'s warehouse, build the marts, reconcile."""
    load(drop, home)
    dbt_build(home)
    con = connect(home / "warehouse.duckdb")
    try:
        run_checks(con, run_id=run_id)
    finally:
        con.close()


def test_pipeline_on_a_then_b_finds_b_truth(drops: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a, b, _ = drops
    home = tmp_path / "home"
    for run_id, drop in (("run-a", a), ("run-b", b)):
        _run(drop, home, run_id)
        found, truth = open_set(home), truth_set(drop)
        scores = score(found, truth)
        print(f"\n{run_id}: {len(found)} open, {len(truth)} in truth")
        assert found == truth, {c: s for c, s in scores.items() if s[:2] != (1.0, 1.0)}
        diff = differing(truth_cells(drop), mrr_cells(home))
        assert not diff, diff[:10]
    assert truth_cells(a) != truth_cells(b)  # the day moved MRR: B's truth is not A's
