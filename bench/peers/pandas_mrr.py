"""MRR the way an analyst would compute it in a notebook: plain pandas on the raw tables.

The peer of ``metrics.mrr_monthly`` in ``make bench``. It reads the raw Stripe and Salesforce
tables it needs with plain ``select``s (no SQL logic) and does everything else in pandas,
following docs/revenue-metrics.md ("MRR of an invoice line", "MRR per customer and month"):

1. An MRR line is a line of an ``open`` or ``paid`` invoice whose price is recurring and
   licensed (not metered), with a non-zero amount (a trial or free line is worth 0).
2. Its monthly value comes from the price, not the prorated amount:
   ``sign(amount) × unit_amount × quantity / interval_months × (1 − discounts / |amount|)``.
   The sign makes a proration credit cancel the old item and a proration charge add the new
   one. Values are exact fractions of a minor unit (``fractions.Fraction``), never floats.
3. A line counts for month M when ``period_start < snapshot(M) <= period_end``, where
   snapshot(M) is the first instant of M+1, or the as-of instant for the as-of month.
4. MRR per customer, currency and month is the exact sum of its lines, rounded half away
   from zero to the cent (to the unit for zero-decimal currencies), negative clamped to 0.
5. The customer is the Salesforce account the Stripe customer's metadata names when that
   account exists (two Stripe customers of one account are one customer), else
   ``stripe:<customer id>``.
6. Rows, like the mart's: every month from the customer's first month with MRR > 0 to the
   as-of month (zeros included after a churn), for each currency the customer has MRR lines
   in; a customer billed in several currencies is one ``multi`` row a month with no local
   MRR (as ``metrics.mrr_monthly`` reports it).

Output columns: ``customer_key``, ``month`` (``YYYY-MM``), ``currency`` (lower case, as
Stripe stores it) and ``mrr`` (``decimal.Decimal`` in major units, two places). Run it as its
own process, as the bench harness does::

    python -m bench.peers.pandas_mrr --warehouse W --as-of 2026-06-30T23:59:59Z --out P.parquet
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import duckdb
import pandas as pd

COLUMNS = ["customer_key", "month", "currency", "mrr"]

# Stripe amounts are integers in the currency's minor unit (ISO 4217 exponents).
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx"}
ZERO_DECIMAL |= {"vnd", "vuv", "xaf", "xof", "xpf"}
THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}

# Months in one unit of a price's recurring interval.
MONTHS_PER_INTERVAL = {
    "month": Fraction(1),
    "year": Fraction(12),
    "week": Fraction(12, 52),
    "day": Fraction(12, 365),
}


def read_raw(warehouse: Path) -> dict[str, pd.DataFrame]:
    """The raw tables MRR needs, as DataFrames (plain selects, nothing computed in SQL)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            "lines": con.sql(
                "select id, invoice_id, currency, amount, quantity, price_id, discount_amounts, "
                "period_start, period_end from raw_stripe.invoice_lines"
            ).df(),
            "invoices": con.sql(
                "select id, customer, status, currency from raw_stripe.invoices"
            ).df(),
            "prices": con.sql(
                'select id, type, usage_type, "interval", interval_count, unit_amount, '
                "unit_amount_decimal from raw_stripe.prices"
            ).df(),
            "customers": con.sql(
                "select id, currency, salesforce_account_id from raw_stripe.customers"
            ).df(),
            "accounts": con.sql("select Id from raw_salesforce.account").df(),
        }
    finally:
        con.close()


def customer_keys(customers: pd.DataFrame, accounts: pd.DataFrame) -> pd.Series:
    """Stripe customer id → the account its metadata names if it exists, else 'stripe:<id>'."""
    account_id = customers["salesforce_account_id"].str.strip()
    linked = account_id.isin(set(accounts["Id"]))
    keys = account_id.where(linked, "stripe:" + customers["id"])
    return pd.Series(keys.to_numpy(), index=customers["id"])


def discount_total(discount_amounts: str | None) -> int:
    """Σ ``discount_amounts[].amount`` of a line (the column holds the JSON array)."""
    if discount_amounts is None or pd.isna(discount_amounts):
        return 0
    return sum(int(d["amount"]) for d in json.loads(discount_amounts))


def price_unit_amount(unit_amount: float, unit_amount_decimal: str | None) -> int:
    """The price's unit amount in minor units (``unit_amount_decimal`` rounded if only that)."""
    if not pd.isna(unit_amount):
        return int(unit_amount)
    assert unit_amount_decimal is not None, "a price has unit_amount or unit_amount_decimal"
    return int(Decimal(unit_amount_decimal).quantize(Decimal(1), rounding="ROUND_HALF_UP"))


def monthly_value(
    amount: int, discount: int, unit_amount: int, quantity: int, interval: str, count: int
) -> Fraction:
    """Exact monthly value of one line in minor units, with the sign of its amount."""
    interval_months = count * MONTHS_PER_INTERVAL[interval]
    value = Fraction(unit_amount * quantity) / interval_months
    net_share = Fraction(abs(amount) - abs(discount), abs(amount))
    sign = 1 if amount > 0 else -1
    return sign * value * net_share


def round_half_away(value: Fraction, unit: int) -> int:
    """``value`` (minor units) rounded half away from zero to a multiple of ``unit``."""
    units = math.floor(abs(value) / unit + Fraction(1, 2))
    return (units if value >= 0 else -units) * unit


def exact_sum(values: pd.Series) -> Fraction:
    """The exact sum of a column of Fractions."""
    return sum(values, Fraction(0))


def to_major(minor: int, currency: str) -> Decimal:
    """Minor units as a two-place Decimal of major units."""
    exponent = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    return (Decimal(minor).scaleb(-exponent)).quantize(Decimal("0.01"))


def snapshots(first_month: pd.Period, as_of: pd.Timestamp) -> pd.DataFrame:
    """Every month up to the as-of month with its MRR snapshot instant."""
    as_of_month = as_of.tz_convert("UTC").tz_localize(None).to_period("M")
    months = pd.period_range(first_month, as_of_month, freq="M")
    snapshot = (months + 1).to_timestamp().tz_localize("UTC")
    frame = pd.DataFrame({"month": months, "snapshot": snapshot})
    frame.loc[frame["month"] == as_of_month, "snapshot"] = as_of
    return frame


def compute(warehouse: Path, as_of: datetime) -> pd.DataFrame:
    """MRR per customer, month and currency from the raw tables of ``warehouse``."""
    as_of_ts = pd.Timestamp(as_of)
    as_of_ts = as_of_ts.tz_localize("UTC") if as_of_ts.tz is None else as_of_ts.tz_convert("UTC")
    raw = read_raw(warehouse)
    keys = customer_keys(raw["customers"], raw["accounts"])

    # 1. MRR lines: open/paid invoices, recurring licensed prices, non-zero amounts.
    invoices = raw["invoices"].rename(columns={"id": "invoice_id", "status": "invoice_status"})
    prices = raw["prices"].rename(columns={"id": "price_id"})
    lines = (
        raw["lines"]
        .merge(invoices[["invoice_id", "customer", "invoice_status"]], on="invoice_id")
        .merge(prices, on="price_id", how="left")
    )
    lines = lines[
        lines["invoice_status"].isin(["open", "paid"])
        & (lines["type"] == "recurring")
        & (lines["usage_type"] != "metered")  # licensed, Stripe's default usage type
        & (lines["amount"] != 0)
    ].copy()
    if lines.empty:
        return pd.DataFrame(columns=COLUMNS)

    # 2. Exact monthly value of each line.
    lines["discount"] = lines["discount_amounts"].map(discount_total)
    lines["unit_amount"] = [
        price_unit_amount(a, d)
        for a, d in zip(lines["unit_amount"], lines["unit_amount_decimal"], strict=True)
    ]
    lines["value"] = pd.Series(
        [
            monthly_value(int(a), d, u, int(q), i, int(c))
            for a, d, u, q, i, c in zip(
                lines["amount"],
                lines["discount"],
                lines["unit_amount"],
                lines["quantity"],
                lines["interval"],
                lines["interval_count"],
                strict=True,
            )
        ],
        index=lines.index,
    )
    lines["customer_key"] = lines["customer"].map(keys)
    lines["currency"] = lines["currency"].str.lower()

    # 3. The months each line covers at the month's snapshot.
    lines["period_start"] = lines["period_start"].dt.tz_convert("UTC")
    lines["period_end"] = lines["period_end"].dt.tz_convert("UTC")
    first_month = lines["period_start"].min().tz_localize(None).to_period("M")
    months = snapshots(first_month, as_of_ts)
    covered = lines[["customer_key", "currency", "period_start", "period_end", "value"]].merge(
        months, how="cross"
    )
    covered = covered[
        (covered["period_start"] < covered["snapshot"])
        & (covered["snapshot"] <= covered["period_end"])
    ]

    # 4. Exact sum per customer, currency and month, rounded to the cent.
    sums = (
        covered.groupby(["customer_key", "currency", "month"])["value"].agg(exact_sum).reset_index()
    )
    sums["mrr_minor"] = [
        round_half_away(v, 10 if c in THREE_DECIMAL else 1)
        for v, c in zip(sums["value"], sums["currency"], strict=True)
    ]

    # 5. Rows from the first month with MRR > 0 to the as-of month; negative clamped to 0.
    first_active = sums[sums["mrr_minor"] > 0].groupby("customer_key")["month"].min()
    currencies = sums[["customer_key", "currency"]].drop_duplicates()
    currencies = currencies[currencies["customer_key"].isin(first_active.index)]
    grid = currencies.merge(months[["month"]], how="cross")
    grid = grid[grid["month"] >= grid["customer_key"].map(first_active)]
    mrr = grid.merge(
        sums[["customer_key", "currency", "month", "mrr_minor"]],
        on=["customer_key", "currency", "month"],
        how="left",
    )
    mrr["mrr_minor"] = mrr["mrr_minor"].fillna(0).astype("int64").clip(lower=0)
    mrr["mrr"] = pd.Series(
        [to_major(m, c) for m, c in zip(mrr["mrr_minor"], mrr["currency"], strict=True)],
        index=mrr.index,
    )

    # 6. A customer billed in several currencies: one 'multi' row a month, no local MRR.
    billed = pd.concat(
        [
            raw["customers"][["id", "currency"]].rename(columns={"id": "customer"}),
            raw["invoices"][["customer", "currency"]],
        ]
    ).dropna()
    billed["customer_key"] = billed["customer"].map(keys)
    n_currencies = billed.groupby("customer_key")["currency"].agg(lambda c: c.str.lower().nunique())
    multi = mrr["customer_key"].map(n_currencies).fillna(0).gt(1) | mrr.duplicated(
        ["customer_key", "month"], keep=False
    )
    if multi.any():
        collapsed = (
            mrr[multi].drop_duplicates(["customer_key", "month"]).assign(currency="multi", mrr=None)
        )
        mrr = pd.concat([mrr[~multi], collapsed])

    mrr["month"] = mrr["month"].astype(str)
    return mrr[COLUMNS].sort_values(COLUMNS[:3]).reset_index(drop=True)


def write(frame: pd.DataFrame, out: Path) -> None:
    """``frame`` as Parquet (``mrr`` a decimal column) or CSV (``mrr`` as text)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.assign(mrr=frame["mrr"].map(lambda v: "" if v is None else str(v))).to_csv(
            out, index=False
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.pandas_mrr", description=__doc__)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--as-of", required=True, help="the drop's exported_at (ISO 8601)")
    parser.add_argument("--out", type=Path, required=True, help=".parquet or .csv")
    args = parser.parse_args(argv)
    as_of = datetime.fromisoformat(args.as_of.replace("Z", "+00:00"))
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    write(compute(args.warehouse, as_of), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
