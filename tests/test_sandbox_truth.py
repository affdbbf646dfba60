"""``truth/mrr.csv`` against two independent recomputations, cell by cell.

1. From the generator's subscription timeline (``truth/subscription_segments.csv``) with a
   plain loop over months: checks the vectorised truth code.
2. From the exported Stripe invoices alone, by the invoice-based rules of
   docs/revenue-metrics.md ("MRR of an invoice line"): checks that the drop bills exactly
   the state truth describes, so an invoice-based MRR model can match truth to the cent.

Both use exact fractions and round each customer-month half away from zero.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from drops import CompanyAt

from connectors.sandbox import generate

pytestmark = pytest.mark.integration

CONFIGS: dict[str, CompanyAt] = {
    # default as-of (a month end) and a mid-month as-of with a short horizon
    "month_end": {"customers": 300, "months": 24, "seed": 42},
    "mid_month": {
        "customers": 250,
        "months": 14,
        "seed": 11,
        "as_of": datetime(2026, 3, 17, 9, 30, tzinfo=UTC),
    },
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def drop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(request.param)
    generate(out, progress=False, **CONFIGS[request.param])
    return out


def month_starts(first: datetime, last: datetime) -> list[datetime]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(datetime(y, m, 1, tzinfo=UTC))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def snapshot(month: datetime, as_of: datetime) -> int:
    """First instant of the next month, or the as-of instant for the as-of month."""
    if (month.year, month.month) == (as_of.year, as_of.month):
        return int(as_of.timestamp())
    nxt = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=UTC)
    return int(nxt.timestamp())


def to_cents(value: Fraction) -> int:
    """Round a minor-unit amount half away from zero (as DuckDB rounds DECIMAL)."""
    q, r = divmod(abs(value.numerator), value.denominator)
    cents = q + (1 if 2 * r >= value.denominator else 0)
    return cents if value >= 0 else -cents


def rows_from_monthly(
    values: dict[tuple[str, str], dict[datetime, Fraction]], as_of: datetime
) -> dict[tuple[str, str, str], str]:
    """Truth's shape: every month from the first with MRR > 0 to the as-of month."""
    out = {}
    for (key, currency), by_month in values.items():
        cents = {m: max(0, to_cents(v)) for m, v in by_month.items()}
        active = sorted(m for m, c in cents.items() if c > 0)
        if not active:
            continue
        for m in month_starts(active[0], as_of):
            c = cents.get(m, 0)
            out[(key, m.strftime("%Y-%m-%d"), currency)] = f"{c // 100}.{c % 100:02d}"
    return out


def read_truth(drop: Path) -> dict[tuple[str, str, str], str]:
    with (drop / "truth" / "mrr.csv").open() as fh:
        return {
            (r["crm_account_id"], r["month"], r["currency"]): r["mrr"] for r in csv.DictReader(fh)
        }


def as_of_of(drop: Path) -> datetime:
    raw = json.loads((drop / "manifest.json").read_text())["exported_at"]
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def test_truth_equals_a_loop_over_the_subscription_timeline(drop: Path) -> None:
    as_of = as_of_of(drop)
    with (drop / "truth" / "subscription_segments.csv").open() as fh:
        segments = list(csv.DictReader(fh))
    assert segments
    first = min(datetime.fromtimestamp(int(s["start"]), UTC) for s in segments)
    months = month_starts(first, as_of)
    values: dict[tuple[str, str], dict[datetime, Fraction]] = defaultdict(dict)
    for s in segments:
        if s["invoice_status"] not in ("open", "paid"):
            continue
        start, end = int(s["start"]), int(s["end"])
        monthly = Fraction(
            int(s["unit_amount"]) * int(s["quantity"]), int(s["interval_months"])
        ) * Fraction(100 - int(s["percent_off"]), 100)
        for m in months:
            if start < snapshot(m, as_of) <= end:
                cell = values[(s["account_key"], s["currency"])]
                cell[m] = cell.get(m, Fraction(0)) + monthly
    expected = rows_from_monthly(values, as_of)
    actual = read_truth(drop)
    differing = {k for k in expected.keys() | actual.keys() if expected.get(k) != actual.get(k)}
    print(f"truth rows {len(actual)}, recomputed {len(expected)}, differing cells {len(differing)}")
    assert not differing, sorted(differing)[:10]


def test_truth_equals_invoice_based_mrr_of_the_exported_drop(drop: Path) -> None:
    """The rules of docs/revenue-metrics.md, "MRR of an invoice line", on stripe/*.jsonl only."""
    as_of = as_of_of(drop)
    stripe = drop / "stripe"
    load = lambda name: [json.loads(x) for x in (stripe / f"{name}.jsonl").open()]  # noqa: E731
    prices = {p["id"]: p for p in load("prices")}
    accounts = {json.loads(x)["Id"] for x in (drop / "salesforce" / "Account.jsonl").open()}
    key_of = {}
    for c in load("customers"):
        link = c["metadata"].get("salesforce_account_id")
        key_of[c["id"]] = link if link in accounts else f"stripe:{c['id']}"
    months_per = {
        "month": Fraction(1),
        "year": Fraction(12),
        "week": Fraction(12, 52),
        "day": Fraction(12, 365),
    }
    lines = []
    for inv in load("invoices"):
        if inv["status"] not in ("open", "paid"):
            continue
        for line in inv["lines"]["data"]:
            price = prices[line["pricing"]["price_details"]["price"]]
            rec = price["recurring"]
            if (
                price["type"] != "recurring"
                or rec["usage_type"] != "licensed"
                or line["amount"] == 0
            ):
                continue
            interval_months = rec["interval_count"] * months_per[rec["interval"]]
            discount = sum(d["amount"] for d in line["discount_amounts"])
            net = 1 - Fraction(abs(discount), abs(line["amount"]))
            sign = 1 if line["amount"] > 0 else -1
            value = sign * price["unit_amount"] * line["quantity"] / interval_months * net
            lines.append((key_of[inv["customer"]], inv["currency"].upper(), line["period"], value))
    first = min(datetime.fromtimestamp(p["start"], UTC) for _, _, p, _ in lines)
    months = month_starts(first, as_of)
    snaps = [(m, snapshot(m, as_of)) for m in months]
    values: dict[tuple[str, str], dict[datetime, Fraction]] = defaultdict(dict)
    for key, currency, period, value in lines:
        for m, snap in snaps:
            if period["start"] < snap <= period["end"]:
                cell = values[(key, currency)]
                cell[m] = cell.get(m, Fraction(0)) + value
    expected = rows_from_monthly(values, as_of)
    actual = read_truth(drop)
    differing = {k for k in expected.keys() | actual.keys() if expected.get(k) != actual.get(k)}
    print(
        f"truth rows {len(actual)}, from invoices {len(expected)}, differing cells {len(differing)}"
    )
    assert not differing, sorted(differing)[:10]


@pytest.fixture(scope="module")
def default_drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("default")
    generate(out, progress=False)
    return out


def test_truth_covers_reactivation_and_churn(default_drop: Path) -> None:
    """The default company exercises what MRR must get right: churn, then reactivation."""
    drop = default_drop
    by_key: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (key, month, _), mrr in sorted(read_truth(drop).items()):
        by_key[key].append((month, mrr))
    churned = reactivated = 0
    for months in by_key.values():
        values = [Decimal(v) for _, v in months]
        zero_after_active = [
            i for i in range(1, len(values)) if values[i] == 0 and values[i - 1] > 0
        ]
        churned += bool(zero_after_active)
        reactivated += any(
            values[j] > 0 for i in zero_after_active for j in range(i + 1, len(values))
        )
    assert churned > 5
    assert reactivated > 0
