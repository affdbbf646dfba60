"""Parity with dbt-labs/mrr-playbook (docs/revenue-metrics.md, "Parity with mrr-playbook").

The playbook's ``subscription_periods.csv`` (its seed, with its outputs ``mrr.csv`` and
``mrr_monthly_bridge.csv``, in ``tests/fixtures/mrr-playbook/``) is expressed as a Stripe
drop: per subscription a licensed monthly price of ``monthly_amount`` (unit_amount =
monthly_amount * 100, quantity 1) and one paid invoice per month of
``[start_date, end_date)`` whose line's period is that month; plus the minimal Salesforce
and NetSuite files a drop needs (an Account and a won Opportunity per customer, one
subsidiary, currency, period and NetSuite customer, one posting). It is loaded with
``connectors.load.files_mode.load_drop`` and built with the real ``dbt build``.

How the two outputs correspond (the playbook's ``mrr.csv``):

- A playbook month M is active for a subscription when ``start_date <= M < end_date``; our
  invoice for M has the period [M, M+1), which covers exactly the snapshot of M (the first
  instant of M+1), so the MRR of every (customer, month) it reports is ours.
- Movements: its ``new``, ``churn``, ``reactivation`` are ours; ``upgrade`` is ``expansion``,
  ``downgrade`` is ``contraction``, and its null (no change, or 0 -> 0) is ``none``.
- Its month spine starts at 2018-01-01: customers 2, 3 and 4, whose subscriptions all fall
  in 2017, are absent from its output; we report them from their first month (2017).
- It emits a customer's rows from the first active month to the month after the last active
  one (the churn row), where it stops; ours continue to the as-of month (2020-02) with
  MRR 0 and movement ``none``. Every subscription of the seed ends by 2020-02-01, so the
  playbook's churn rows are real churn here (its defect is a churn row for customers still
  active at the spine's end).
- Its monthly bridge from 2018-01 is our ``metrics.mrr_bridge`` for ``ALL`` (USD only: no fx).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_build import dbt_build, load

from connectors.sandbox.ids import salesforce_checksum

pytestmark = pytest.mark.integration

PLAYBOOK = Path(__file__).resolve().parent / "fixtures" / "mrr-playbook"
AS_OF = "2020-02-29T23:59:59Z"
MOVEMENTS = {
    "new": "new",
    "churn": "churn",
    "reactivation": "reactivation",
    "upgrade": "expansion",
    "downgrade": "contraction",
    "": "none",
}
ABSENT_FROM_PLAYBOOK = {"2", "3", "4"}

# What the build made: (customer, month) -> (mrr, movement) of metrics.mrr_monthly, and month
# -> the rest of the row of metrics.mrr_bridge (flows, ending MRR, active customers).
Built = tuple[dict[tuple[str, str], tuple[Decimal, str]], dict[str, tuple[Any, ...]]]


def sfid(prefix: str, n: int) -> str:
    """A valid 18-character Salesforce id (key prefix, pod, 10 characters, checksum)."""
    body = f"{prefix}8dPLAYBK{n:04d}"
    return body + salesforce_checksum(body)


def epoch(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def months(start: date, end: date) -> list[date]:
    out, m = [], start
    while m < end:
        out.append(m)
        m = next_month(m)
    return out


def read_csv(name: str) -> list[dict[str, str]]:
    with (PLAYBOOK / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def price(amount_minor: int) -> dict:
    return {
        "id": f"price_pb{amount_minor}",
        "object": "price",
        "product": "prod_playbook",
        "currency": "usd",
        "unit_amount": amount_minor,
        "unit_amount_decimal": str(amount_minor),
        "type": "recurring",
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "active": True,
        "created": epoch(date(2017, 1, 1)),
    }


def write_playbook_drop(root: Path) -> dict[str, str]:
    """The seed as a source drop; returns Salesforce account id -> playbook customer id."""
    periods = read_csv("subscription_periods.csv")
    customers = sorted({int(p["customer_id"]) for p in periods})
    created = epoch(date(2017, 1, 1))
    account = {c: sfid("001", c) for c in customers}
    first_start = {
        c: min(p["start_date"] for p in periods if int(p["customer_id"]) == c) for c in customers
    }
    write_jsonl(
        root / "salesforce" / "Account.jsonl",
        [
            {
                "attributes": {"type": "Account"},
                "Id": account[c],
                "Name": f"Playbook customer {c}",
                "CurrencyIsoCode": "USD",
                "IsDeleted": False,
                "CreatedDate": "2017-01-01T00:00:00.000+0000",
                "SystemModstamp": "2017-01-01T00:00:00.000+0000",
            }
            for c in customers
        ],
    )
    write_jsonl(
        root / "salesforce" / "Opportunity.jsonl",
        [
            {
                "attributes": {"type": "Opportunity"},
                "Id": sfid("006", c),
                "AccountId": account[c],
                "Name": f"Playbook customer {c} - New Business",
                "Type": "New Business",
                "StageName": "Closed Won",
                "IsClosed": True,
                "IsWon": True,
                "CloseDate": first_start[c],
                "CurrencyIsoCode": "USD",
            }
            for c in customers
        ],
    )
    write_jsonl(
        root / "stripe" / "customers.jsonl",
        [
            {
                "id": f"cus_pb{c}",
                "object": "customer",
                "created": created,
                "currency": "usd",
                "email": f"billing@customer{c}.example.com",
                "name": f"Playbook customer {c}",
                "metadata": {"salesforce_account_id": account[c]},
            }
            for c in customers
        ],
    )
    write_jsonl(
        root / "stripe" / "products.jsonl",
        [{"id": "prod_playbook", "object": "product", "name": "Plan", "created": created}],
    )
    amounts = sorted({int(Decimal(p["monthly_amount"]) * 100) for p in periods})
    write_jsonl(root / "stripe" / "prices.jsonl", [price(a) for a in amounts])
    subscriptions: list[dict[str, Any]] = []
    invoices: list[dict[str, Any]] = []
    for p in periods:
        sid, cus = p["subscription_id"], f"cus_pb{p['customer_id']}"
        start, end = date.fromisoformat(p["start_date"]), date.fromisoformat(p["end_date"])
        amount = int(Decimal(p["monthly_amount"]) * 100)
        subscriptions.append(
            {
                "id": f"sub_pb{sid}",
                "object": "subscription",
                "customer": cus,
                "status": "canceled",
                "currency": "usd",
                "created": epoch(start),
                "start_date": epoch(start),
                "canceled_at": epoch(end),
                "ended_at": epoch(end),
                "metadata": {},
                "items": {
                    "object": "list",
                    "has_more": False,
                    "data": [{"id": f"si_pb{sid}", "price": price(amount), "quantity": 1}],
                },
            }
        )
        for m in months(start, end):
            tag = f"{sid}m{m:%Y%m}"
            invoices.append(
                {
                    "id": f"in_pb{tag}",
                    "object": "invoice",
                    "customer": cus,
                    "status": "paid",
                    "billing_reason": "subscription_cycle",
                    "currency": "usd",
                    "created": epoch(m),
                    "period_start": epoch(m),
                    "period_end": epoch(m),
                    "subtotal": amount,
                    "total": amount,
                    "amount_due": amount,
                    "amount_paid": amount,
                    "amount_remaining": 0,
                    "status_transitions": {"finalized_at": epoch(m), "paid_at": epoch(m)},
                    "parent": {
                        "type": "subscription_details",
                        "subscription_details": {"subscription": f"sub_pb{sid}"},
                    },
                    "lines": {
                        "object": "list",
                        "has_more": False,
                        "data": [
                            {
                                "id": f"il_pb{tag}",
                                "object": "line_item",
                                "amount": amount,
                                "currency": "usd",
                                "quantity": 1,
                                "period": {"start": epoch(m), "end": epoch(next_month(m))},
                                "discount_amounts": [],
                                "taxes": [],
                                "pricing": {
                                    "type": "price_details",
                                    "price_details": {
                                        "price": f"price_pb{amount}",
                                        "product": "prod_playbook",
                                    },
                                    "unit_amount_decimal": str(amount),
                                },
                                "parent": {
                                    "type": "subscription_item_details",
                                    "subscription_item_details": {
                                        "subscription": f"sub_pb{sid}",
                                        "subscription_item": f"si_pb{sid}",
                                        "proration": False,
                                    },
                                },
                            }
                        ],
                    },
                }
            )
    write_jsonl(root / "stripe" / "subscriptions.jsonl", subscriptions)
    write_jsonl(root / "stripe" / "invoices.jsonl", invoices)
    ns = root / "netsuite"
    write_jsonl(
        ns / "subsidiary.jsonl",
        [{"links": [], "id": "1", "name": "Playbook Inc.", "currency": "1", "country": "US"}],
    )
    write_jsonl(
        ns / "currency.jsonl",
        [{"links": [], "id": "1", "symbol": "USD", "name": "US Dollar", "isbasecurrency": "T"}],
    )
    write_jsonl(
        ns / "accountingperiod.jsonl",
        [
            {
                "links": [],
                "id": "1",
                "periodname": "FY 2017-2020",
                "startdate": "2017-01-01",
                "enddate": "2020-12-31",
                "closed": "F",
                "isadjust": "F",
                "isquarter": "F",
                "isyear": "T",
            }
        ],
    )
    write_jsonl(
        ns / "customer.jsonl",
        [
            {
                "links": [],
                "id": str(1000 + c),
                "companyname": f"Playbook customer {c}",
                "externalid": f"cus_pb{c}",
                "subsidiary": "1",
                "currency": "1",
                "datecreated": "2017-01-01 00:00:00",
                "lastmodifieddate": "2017-01-01 00:00:00",
            }
            for c in customers
        ],
    )
    first = invoices[0]
    write_jsonl(
        ns / "transaction.jsonl",
        [
            {
                "links": [],
                "id": "5000",
                "tranid": "INV5000",
                "type": "CustInvc",
                "trandate": datetime.fromtimestamp(first["created"], UTC).strftime("%Y-%m-%d"),
                "postingperiod": "1",
                "entity": str(1000 + int(first["customer"].removeprefix("cus_pb"))),
                "currency": "1",
                "exchangerate": "1",
                "foreigntotal": str(first["total"] // 100),
                "status": "B",
                "externalid": first["id"],
                "memo": first["id"],
                "posting": "T",
                "voided": "F",
            }
        ],
    )
    (root / "manifest.json").write_text(
        json.dumps({"exported_at": AS_OF, "company": "mrr-playbook seed"}), encoding="utf-8"
    )
    return {account[c]: str(c) for c in customers}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("playbook")
    drop, home = root / "drop", root / "home"
    customer_of = write_playbook_drop(drop)
    load(drop, home)
    dbt_build(home)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        quarantined = sum(
            con.sql(f"SELECT count(*) FROM raw_{s}.quarantine").fetchall()[0][0]
            for s in ("salesforce", "stripe", "netsuite")
        )
        assert quarantined == 0  # the drop speaks the vendors' wire formats
        rows = con.sql(
            "SELECT crm_account_id, strftime(month, '%Y-%m-%d'), mrr, movement "
            "FROM metrics.mrr_monthly"
        ).fetchall()
        bridge = con.sql(
            "SELECT strftime(month, '%Y-%m-%d'), starting_mrr, new, expansion, reactivation, "
            "contraction, churn, fx, ending_mrr, active_customers "
            "FROM metrics.mrr_bridge WHERE entity = 'ALL'"
        ).fetchall()
    finally:
        con.close()
    ours = {(customer_of[a], m): (mrr, movement) for a, m, mrr, movement in rows}
    return ours, {r[0]: r[1:] for r in bridge}


def test_mrr_and_movements_equal_the_playbook(built: Built) -> None:
    ours, _ = built
    theirs = read_csv("mrr.csv")
    mismatches = []
    for row in theirs:
        key = (row["customer_id"], row["date_month"])
        expected = (Decimal(row["mrr"]), MOVEMENTS[row["change_category"]])
        got = ours.get(key)
        if got is None or (Decimal(got[0]), got[1]) != expected:
            mismatches.append((key, expected, got))
    print(f"\nplaybook rows {len(theirs)}, compared {len(theirs)}, differing {len(mismatches)}")
    assert len(theirs) == 410
    assert mismatches == []


def test_rows_the_playbook_does_not_report(built: Built) -> None:
    """Customers 2-4 (before its spine) are ours; after its last row ours are 0 and none."""
    ours, _ = built
    last_reported: dict[str, str] = defaultdict(str)
    for row in read_csv("mrr.csv"):
        last_reported[row["customer_id"]] = max(
            last_reported[row["customer_id"]], row["date_month"]
        )
    assert ABSENT_FROM_PLAYBOOK.isdisjoint(last_reported)
    for customer in ABSENT_FROM_PLAYBOOK:
        history = sorted((m, v) for (c, m), v in ours.items() if c == customer)
        assert history[0][0].startswith("2017-") and history[0][1][1] == "new"
        assert history[-1][0] == "2020-02-01"
    beyond = [v for (c, m), v in ours.items() if c in last_reported and m > last_reported[c]]
    assert beyond and all(mrr == 0 and movement == "none" for mrr, movement in beyond)


def test_bridge_equals_the_playbook_bridge(built: Built) -> None:
    _, bridge = built
    for row in read_csv("mrr_monthly_bridge.csv"):
        flows = ("new_mrr", "expansion_mrr", "reactivation_mrr", "contraction_mrr", "churned_mrr")
        expected = (
            Decimal(row["starting_mrr"]),
            *(Decimal(row[c]) for c in flows),
            Decimal(0),  # fx: everything is in USD
            Decimal(row["ending_mrr"]),
            int(row["active_customers"]),
        )
        assert bridge[row["date_month"]] == expected, row["date_month"]
