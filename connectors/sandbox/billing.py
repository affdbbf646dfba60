"""Billing outcomes derived from the timeline: invoices, lines, payments, credit notes, usage.

Flat tables with integer keys; ``stripe_wire.py`` turns them into Stripe's JSON objects.
``build_billing`` draws every outcome over the whole horizon (to ``through``) and its statuses
are the statuses at ``through``; ``billing_at`` is the same billing seen at an earlier export
instant: an invoice created less than an hour before it is still ``draft``, a payment after
it has not happened, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from connectors.sandbox.calendar import DAY, HOUR, month_index, month_start
from connectors.sandbox.catalog import (
    CURRENCIES,
    INTERVALS,
    ONBOARDING_FEE,
    PLANS,
    USAGE_UNIT_AMOUNT,
    Catalog,
    period_unit_amount,
)
from connectors.sandbox.timeline import DUPLICATE, Horizon, Timeline


@dataclass
class Billing:
    invoices: pl.DataFrame  # invoice, customer, sub, usage_sub, billing_reason, created, ... status
    lines: pl.DataFrame  # line, invoice, kind, price_id, unit_amount, quantity, amount, ...
    charges: pl.DataFrame  # charge, invoice, customer, amount, status, created
    credit_notes: pl.DataFrame  # credit_note, invoice, charge, amount, effective_at
    meter_events: pl.DataFrame  # usage_sub, customer, ts, value


def price_table(catalog: Catalog) -> pl.DataFrame:
    """Every licensed price: (plan_idx, currency, im) -> unit amount and ids."""
    rows = [
        {
            "plan_idx": i,
            "currency": cur,
            "im": im,
            "unit_amount": period_unit_amount(plan, cur, im),
            "price_id": catalog.plan_price_ids[(plan.key, cur, im)],
            "product_id": catalog.plan_product_ids[plan.key],
        }
        for i, plan in enumerate(PLANS)
        for cur in CURRENCIES
        for im in INTERVALS
    ]
    return pl.DataFrame(rows, schema_overrides={"plan_idx": pl.Int64, "im": pl.Int64})


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.abs(x) + 0.5).astype("int64") * np.sign(x).astype("int64")


def sub_context(tl: Timeline) -> pl.DataFrame:
    """Each licensed subscription with its Stripe customer and currency."""
    cust = tl.customers
    primary_cust = cust.filter(pl.col("role") == "primary").select("acct", "customer")
    dup_cust = cust.filter(pl.col("role") == "duplicate_linked").select(
        "acct", pl.col("customer").alias("dup_customer")
    )
    return (
        tl.subs.join(primary_cust, on="acct", how="left")
        .join(dup_cust, on="acct", how="left")
        .join(tl.accounts.select("acct", "currency"), on="acct")
        .with_columns(
            customer=pl.when(pl.col("kind") == DUPLICATE).then("dup_customer").otherwise("customer")
        )
        .drop("dup_customer")
    )


def _licensed_lines(
    tl: Timeline, ctx: pl.DataFrame, prices: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Invoice headers (keyed by ``src``) and lines for trials, cycles and prorations."""
    subctx = ctx.select(
        "sub", "customer", "currency", "start_ts", "trial_end_ts", "b0", "im", "plan_idx", "seats0"
    )
    # Trial: a zero-amount line for the trial period, on an invoice paid at once.
    trials = subctx.filter(pl.col("trial_end_ts").is_not_null())
    trial_inv = trials.select(
        "sub",
        "customer",
        "currency",
        pl.lit("trial").alias("src"),
        pl.lit(-1, dtype=pl.Int64).alias("k"),
        pl.col("start_ts").alias("created"),
        pl.col("start_ts").alias("finalize_at"),
        pl.lit("subscription_create").alias("billing_reason"),
    )
    trial_lines = trials.join(prices, on=["plan_idx", "currency", "im"]).select(
        "sub",
        pl.lit("trial").alias("src"),
        pl.lit(-1, dtype=pl.Int64).alias("k"),
        pl.lit("trial").alias("line_kind"),
        "price_id",
        "product_id",
        "unit_amount",
        pl.col("seats0").alias("quantity"),
        pl.lit(0, dtype=pl.Int64).alias("amount"),
        pl.lit(0, dtype=pl.Int64).alias("discount_amount"),
        pl.col("start_ts").alias("period_start"),
        pl.col("b0").alias("period_end"),
        pl.lit(False).alias("proration"),
        "im",
    )
    # Cycles: the full period at the cycle's state, with the coupon when it applies.
    cyc = tl.cycles.join(subctx.select("sub", "customer", "currency", "trial_end_ts"), on="sub")
    creates = (pl.col("k") == 0) & pl.col("trial_end_ts").is_null()
    cycle_inv = cyc.select(
        "sub",
        "customer",
        "currency",
        pl.lit("cycle").alias("src"),
        "k",
        pl.col("p0").alias("created"),
        pl.when(creates).then(pl.col("p0")).otherwise(pl.col("p0") + HOUR).alias("finalize_at"),
        pl.when(creates)
        .then(pl.lit("subscription_create"))
        .otherwise(pl.lit("subscription_cycle"))
        .alias("billing_reason"),
        "is_uncollectible_cycle",
    )
    cycle_lines = cyc.join(prices, on=["plan_idx", "currency", "im"]).select(
        "sub",
        pl.lit("cycle").alias("src"),
        "k",
        pl.lit("cycle").alias("line_kind"),
        "price_id",
        "product_id",
        "unit_amount",
        pl.col("seats").alias("quantity"),
        (pl.col("unit_amount") * pl.col("seats")).alias("amount"),
        (pl.col("unit_amount") * pl.col("seats") * pl.col("pct") // 100).alias("discount_amount"),
        pl.col("p0").alias("period_start"),
        pl.col("p1").alias("period_end"),
        pl.lit(False).alias("proration"),
        "im",
    )
    # Prorations: credit for the unused old item, charge for the new one, from the change on.
    ch = tl.changes.join(subctx.select("sub", "currency", "im", "customer"), on="sub")
    frac = (pl.col("p1") - pl.col("c_ts")) / (pl.col("p1") - pl.col("p0"))
    monthly = pl.col("im") == 1
    parts = []
    for sign, plan_col, seats_col, kind in (
        (-1, "plan_before", "seats_before", "proration_credit"),
        (1, "plan_after", "seats_after", "proration_charge"),
    ):
        part = ch.join(
            prices, left_on=[plan_col, "currency", "im"], right_on=["plan_idx", "currency", "im"]
        )
        raw = (part["unit_amount"] * part[seats_col]).to_numpy() * part.select(
            frac
        ).to_series().to_numpy()
        parts.append(
            part.with_columns(amount=pl.Series(sign * _round_half_up(raw))).select(
                "sub",
                pl.when(monthly).then(pl.lit("cycle")).otherwise(pl.lit("update")).alias("src"),
                pl.when(monthly).then(pl.col("k") + 1).otherwise(pl.col("k")).alias("k"),
                pl.lit(kind).alias("line_kind"),
                "price_id",
                "product_id",
                "unit_amount",
                pl.col(seats_col).alias("quantity"),
                "amount",
                pl.lit(0, dtype=pl.Int64).alias("discount_amount"),
                pl.col("c_ts").alias("period_start"),
                pl.col("p1").alias("period_end"),
                pl.lit(True).alias("proration"),
                "im",
            )
        )
    update_inv = ch.filter(~monthly).select(
        "sub",
        "customer",
        "currency",
        pl.lit("update").alias("src"),
        "k",
        pl.col("c_ts").alias("created"),
        pl.col("c_ts").alias("finalize_at"),
        pl.lit("subscription_update").alias("billing_reason"),
    )
    headers = pl.concat([trial_inv, cycle_inv, update_inv], how="diagonal").with_columns(
        pl.col("is_uncollectible_cycle").fill_null(False)
    )
    lines = pl.concat([trial_lines, cycle_lines, *parts], how="vertical")
    return headers, lines.with_columns(pl.lit(None, dtype=pl.Int64).alias("usage_sub"))


def _onboarding(
    rng: np.random.Generator, ctx: pl.DataFrame, catalog: Catalog, horizon: Horizon
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One-time onboarding invoices; some are voided and reissued."""
    ob = ctx.filter(pl.col("has_onboarding")).select("sub", "customer", "currency", "start_ts")
    n = ob.height
    voided = rng.random(n) < 0.1
    void_at = ob["start_ts"].to_numpy() + 120 + rng.integers(1 * DAY, 3 * DAY, n)
    first = ob.with_columns(
        created=pl.col("start_ts") + 120,
        src=pl.lit("onboarding"),
        k=pl.lit(0, dtype=pl.Int64),
        void_at=pl.Series(np.where(voided, void_at, 0)).replace(0, None),
    )
    reissue = first.filter(
        pl.col("void_at").is_not_null() & (pl.col("void_at") + 300 <= horizon.through)
    ).with_columns(
        created=pl.col("void_at") + 300,
        k=pl.lit(1, dtype=pl.Int64),
        void_at=pl.lit(None, dtype=pl.Int64),
    )
    inv = pl.concat([first, reissue]).filter(pl.col("created") <= horizon.through)
    fee = pl.DataFrame(
        {
            "currency": list(ONBOARDING_FEE),
            "fee": [v * 100 for v in ONBOARDING_FEE.values()],
            "price_id": [catalog.onboarding_price_ids[c] for c in ONBOARDING_FEE],
        }
    )
    headers = inv.select(
        "sub",
        "customer",
        "currency",
        "src",
        "k",
        "created",
        pl.col("created").alias("finalize_at"),
        pl.lit("manual").alias("billing_reason"),
        "void_at",
    )
    lines = inv.join(fee, on="currency").select(
        "sub",
        "src",
        "k",
        pl.lit("one_time").alias("line_kind"),
        "price_id",
        pl.lit(catalog.onboarding_product_id).alias("product_id"),
        pl.col("fee").alias("unit_amount"),
        pl.lit(1, dtype=pl.Int64).alias("quantity"),
        pl.col("fee").alias("amount"),
        pl.lit(0, dtype=pl.Int64).alias("discount_amount"),
        pl.col("created").alias("period_start"),
        pl.col("created").alias("period_end"),
        pl.lit(False).alias("proration"),
        pl.lit(None, dtype=pl.Int64).alias("im"),
        pl.lit(None, dtype=pl.Int64).alias("usage_sub"),
    )
    return headers, lines


def _usage(
    rng: np.random.Generator, tl: Timeline, ctx: pl.DataFrame, catalog: Catalog, horizon: Horizon
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Daily meter events and the monthly in-arrears invoices that bill them."""
    us = tl.usage_subs.join(
        ctx.select(pl.col("sub").alias("licensed_sub"), "customer", "currency"), on="licensed_sub"
    )
    last = np.minimum(us["end_ts"].to_numpy(), horizon.through)
    days = (
        us.with_columns(
            d0=pl.col("start_ts") // DAY,
            d1=pl.Series(last // DAY),
            scale=pl.Series(rng.lognormal(7.2, 0.8, us.height)),
        )
        .select(
            "usage_sub",
            "customer",
            "start_ts",
            "end_ts",
            "scale",
            pl.int_ranges("d0", pl.col("d1") + 1).alias("day"),
        )
        .explode("day", empty_as_null=False)
    )
    n = days.height
    ts = days["day"].to_numpy() * DAY + rng.integers(0, DAY, n)
    ts = np.maximum(ts, days["start_ts"].to_numpy())
    value = np.maximum(1, (days["scale"].to_numpy() * rng.lognormal(0, 0.35, n)).astype("int64"))
    events = (
        days.with_columns(ts=pl.Series(ts), value=pl.Series(value))
        .filter((pl.col("ts") < pl.col("end_ts")) & (pl.col("ts") <= horizon.through))
        .select("usage_sub", "customer", "ts", "value")
    )
    # One billing period per calendar month the usage subscription was live in.
    m0 = month_index(us["start_ts"].to_numpy())
    m1 = month_index(last)
    periods = (
        us.with_columns(m0=pl.Series(m0), m1=pl.Series(m1))
        .select(
            "usage_sub",
            "customer",
            "currency",
            "start_ts",
            "end_ts",
            pl.int_ranges("m0", pl.col("m1") + 1).alias("m"),
        )
        .explode("m", empty_as_null=False)
    )
    ms = month_start(periods["m"].to_numpy())
    me = month_start(periods["m"].to_numpy() + 1)
    periods = periods.with_columns(
        period_start=pl.Series(np.maximum(ms, periods["start_ts"].to_numpy())),
        period_end=pl.Series(np.minimum(me, periods["end_ts"].to_numpy())),
    ).filter(
        (pl.col("period_end") <= horizon.through) & (pl.col("period_end") > pl.col("period_start"))
    )
    qty = (
        periods.select("usage_sub", "m", "period_start", "period_end")
        .join(events.select("usage_sub", "ts", "value"), on="usage_sub")
        .filter((pl.col("ts") >= pl.col("period_start")) & (pl.col("ts") < pl.col("period_end")))
        .group_by("usage_sub", "m")
        .agg(pl.col("value").sum().alias("quantity"))
    )
    periods = periods.join(qty, on=["usage_sub", "m"], how="left").with_columns(
        pl.col("quantity").fill_null(0)
    )
    headers = periods.select(
        pl.lit(None, dtype=pl.Int64).alias("sub"),
        "customer",
        "currency",
        pl.lit("usage").alias("src"),
        pl.col("m").alias("k"),
        pl.col("period_end").alias("created"),
        (pl.col("period_end") + HOUR).alias("finalize_at"),
        pl.lit("subscription_cycle").alias("billing_reason"),
        "usage_sub",
    )
    uprice = pl.DataFrame(
        {"currency": list(CURRENCIES), "price_id": [catalog.usage_price_ids[c] for c in CURRENCIES]}
    )
    lines = periods.join(uprice, on="currency").select(
        pl.lit(None, dtype=pl.Int64).alias("sub"),
        pl.lit("usage").alias("src"),
        pl.col("m").alias("k"),
        pl.lit("usage").alias("line_kind"),
        "price_id",
        pl.lit(catalog.usage_product_id).alias("product_id"),
        pl.lit(USAGE_UNIT_AMOUNT, dtype=pl.Int64).alias("unit_amount"),
        "quantity",
        (pl.col("quantity") * USAGE_UNIT_AMOUNT).alias("amount"),
        pl.lit(0, dtype=pl.Int64).alias("discount_amount"),
        "period_start",
        "period_end",
        pl.lit(False).alias("proration"),
        pl.lit(1, dtype=pl.Int64).alias("im"),
        "usage_sub",
    )
    return headers, lines, events.sort(["ts", "usage_sub"])


def _outcomes(rng: np.random.Generator, inv: pl.DataFrame, horizon: Horizon) -> pl.DataFrame:
    """Draw when each invoice gets paid (``pay_ts``, ``pays_late``); statuses at ``through``."""
    n = inv.height
    fin = inv["finalize_at"].to_numpy()
    total = inv["total"].to_numpy()
    src = inv["src"].to_numpy()
    late = rng.random(n) < 0.05
    pay_delay = np.where(late, rng.integers(3 * DAY, 20 * DAY, n), rng.integers(10, 600, n))
    pay_delay = np.where(src == "onboarding", rng.integers(1 * DAY, 10 * DAY, n), pay_delay)
    pay_delay = np.where(total == 0, 0, pay_delay)
    inv = inv.with_columns(pay_ts=pl.Series(fin + pay_delay), pays_late=pl.Series(late))
    return invoice_status_at(inv, horizon.through)


def invoice_status_at(inv: pl.DataFrame, as_of: int) -> pl.DataFrame:
    """Status and status transitions of each invoice at ``as_of`` (from its drawn instants).

    Sets ``status``, ``finalized_at``, ``paid_at``, ``voided_at``, ``marked_uncollectible_at``
    (null until they happen) and ``failed_attempt`` (a declined charge exists by ``as_of``).
    """
    A = as_of
    fin = inv["finalize_at"].to_numpy()
    total = inv["total"].to_numpy()
    late = inv["pays_late"].to_numpy()
    uncollectible = inv["is_uncollectible_cycle"].to_numpy()
    void_at = inv["void_at"].fill_null(-1).to_numpy()
    finalized = fin <= A
    voided = finalized & (void_at >= 0) & (void_at <= A)
    unc_at = fin + 21 * DAY
    is_unc = finalized & uncollectible & (unc_at <= A)
    paid_at = inv["pay_ts"].to_numpy()
    is_paid = finalized & ~uncollectible & (void_at < 0) & (paid_at <= A)
    status = np.select(
        [~finalized, voided, is_unc, is_paid], ["draft", "void", "uncollectible", "paid"], "open"
    )
    failed_attempt = finalized & (late | uncollectible) & (total > 0) & (fin + 600 <= A)
    return inv.with_columns(
        status=pl.Series(status),
        finalized_at=pl.Series(np.where(finalized, fin, 0)).replace(0, None),
        paid_at=pl.Series(np.where(is_paid, paid_at, 0)).replace(0, None),
        voided_at=pl.Series(np.where(voided, void_at, 0)).replace(0, None),
        marked_uncollectible_at=pl.Series(np.where(is_unc, unc_at, 0)).replace(0, None),
        failed_attempt=pl.Series(failed_attempt),
    )


def build_billing(
    rng: np.random.Generator, tl: Timeline, catalog: Catalog, horizon: Horizon
) -> Billing:
    ctx = sub_context(tl)
    prices = price_table(catalog)
    lic_h, lic_l = _licensed_lines(tl, ctx, prices)
    ob_h, ob_l = _onboarding(rng, ctx, catalog, horizon)
    us_h, us_l, events = _usage(rng, tl, ctx, catalog, horizon)
    headers = pl.concat([lic_h, ob_h, us_h], how="diagonal").with_columns(
        pl.col("is_uncollectible_cycle").fill_null(False)
    )
    lines = pl.concat([lic_l, ob_l, us_l], how="diagonal")
    totals = lines.group_by("src", "sub", "usage_sub", "k").agg(
        total=(pl.col("amount") - pl.col("discount_amount")).sum(),
        subtotal=pl.col("amount").sum(),
        discount=pl.col("discount_amount").sum(),
    )
    headers = (
        headers.join(totals, on=["src", "sub", "usage_sub", "k"], how="left", nulls_equal=True)
        .filter(pl.col("created") <= horizon.through)
        .sort(["created", "src", "sub", "usage_sub", "k"], nulls_last=True)
        .with_row_index("invoice")
        .with_columns(pl.col("invoice").cast(pl.Int64))
    )
    headers = _outcomes(rng, headers, horizon)
    lines = (
        lines.join(
            headers.select("src", "sub", "usage_sub", "k", "invoice"),
            on=["src", "sub", "usage_sub", "k"],
            nulls_equal=True,
        )
        .sort(["invoice", "period_start", "line_kind"])
        .with_row_index("line")
        .with_columns(pl.col("line").cast(pl.Int64))
    )
    charges = _charges(headers)
    credit_notes = _credit_notes(rng, headers, charges, horizon)
    return Billing(headers, lines, charges, credit_notes, events)


def _charges(inv: pl.DataFrame) -> pl.DataFrame:
    """A succeeded charge per paid invoice with an amount; a failed one before late payments."""
    ok = inv.filter((pl.col("status") == "paid") & (pl.col("total") > 0)).select(
        "invoice",
        "customer",
        "currency",
        pl.col("total").alias("amount"),
        pl.col("paid_at").alias("created"),
        pl.lit("succeeded").alias("status"),
    )
    failed = inv.filter(pl.col("failed_attempt")).select(
        "invoice",
        "customer",
        "currency",
        pl.col("total").alias("amount"),
        (pl.col("finalized_at") + 600).alias("created"),
        pl.lit("failed").alias("status"),
    )
    return (
        pl.concat([ok, failed])
        .sort(["created", "invoice", "status"])
        .with_row_index("charge")
        .with_columns(pl.col("charge").cast(pl.Int64))
    )


def _credit_notes(
    rng: np.random.Generator, inv: pl.DataFrame, charges: pl.DataFrame, horizon: Horizon
) -> pl.DataFrame:
    """Partial refunds issued as credit notes on some paid invoices."""
    paid = (
        charges.filter(pl.col("status") == "succeeded")
        .join(inv.select("invoice", "src"), on="invoice")
        .filter(pl.col("src").is_in(["cycle", "onboarding"]))
    )
    n = paid.height
    pick = rng.random(n) < 0.03
    eff = paid["created"].to_numpy() + rng.integers(1 * DAY, 20 * DAY, n)
    share = rng.uniform(0.1, 0.5, n)
    amount = np.maximum(100, (paid["amount"].to_numpy() * share).astype("int64") // 100 * 100)
    return (
        paid.with_columns(effective_at=pl.Series(eff), cn_amount=pl.Series(amount))
        .filter(pl.Series(pick) & (pl.col("effective_at") <= horizon.through))
        .select(
            "invoice",
            "charge",
            "customer",
            "currency",
            pl.col("cn_amount").alias("amount"),
            "effective_at",
        )
        .sort(["effective_at", "invoice"])
        .with_row_index("credit_note")
        .with_columns(pl.col("credit_note").cast(pl.Int64))
    )


def billing_at(b: Billing, as_of: int) -> Billing:
    """The billing as seen at ``as_of`` (``<= through``).

    Invoices created by then, with their status at ``as_of``; charges, credit notes and meter
    events that happened by then. A charge or credit note exists at ``as_of`` exactly when
    the payment, decline or refund it records happened by then, so cutting by its instant
    equals deriving it from the statuses at ``as_of``.
    """
    invoices = invoice_status_at(b.invoices.filter(pl.col("created") <= as_of), as_of)
    return Billing(
        invoices=invoices,
        lines=b.lines.filter(pl.col("invoice").is_in(invoices["invoice"].implode())),
        charges=b.charges.filter(pl.col("created") <= as_of),
        credit_notes=b.credit_notes.filter(pl.col("effective_at") <= as_of),
        meter_events=b.meter_events.filter(pl.col("ts") <= as_of),
    )
