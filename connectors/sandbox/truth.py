"""Ground-truth MRR from the generator's own subscription state (``truth/mrr.csv``).

The state is a list of segments: a subscription billed at a price, quantity and coupon over
``[start, end)``, and whether the invoice that billed it counts at export (not void,
uncollectible or draft). A segment covers month M when ``start < snapshot(M) <= end``, where
the snapshot is the first instant of M+1, or the as-of instant for the as-of month
(docs/revenue-metrics.md, "MRR of an invoice line"). Money stays exact: values are integers
in 1/3600 of a minor unit.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from connectors.sandbox.billing import Billing, price_table, sub_context
from connectors.sandbox.calendar import month_index, month_start
from connectors.sandbox.catalog import Catalog
from connectors.sandbox.timeline import Horizon, Timeline

SCALE = 3600  # value units per minor unit: 36/interval_months is whole for 1, 3 and 12 months
COUNTED = ("open", "paid")


def state_segments(
    tl: Timeline, b: Billing, catalog: Catalog, customer_keys: pl.DataFrame
) -> pl.DataFrame:
    """The billed state of every licensed subscription as ``[start, end)`` segments.

    ``tl`` and ``b`` are as seen at the export instant (``timeline_at``, ``billing_at``).
    ``customer_keys`` maps Stripe ``customer`` -> ``account_key`` (CRM Account id or
    ``stripe:<customer id>``). Columns: account_key, stripe_customer_id, sub_id, currency,
    start, end, unit_amount, quantity, interval_months, percent_off, invoice_status, value.
    """
    ctx = sub_context(tl).select("sub", "customer", "currency")
    prices = price_table(catalog).select("plan_idx", "currency", "im", "unit_amount")
    status = b.invoices.filter(pl.col("src") == "cycle").select(
        "sub", "k", pl.col("status").alias("invoice_status")
    )
    cyc = tl.cycles.join(ctx, on="sub").join(status, on=["sub", "k"])
    # A change is billed once the invoice carrying its prorations is finalized: the next
    # cycle's invoice for a monthly plan, the update invoice (at once) otherwise.
    finalized = b.invoices.filter(pl.col("status") != "draft").select(
        "src", "sub", pl.col("k").alias("billed_k")
    )
    monthly = pl.col("im") == 1
    ch = (
        tl.changes.join(tl.subs.select("sub", "im"), on="sub")
        .with_columns(
            src=pl.when(monthly).then(pl.lit("cycle")).otherwise(pl.lit("update")),
            billed_k=pl.when(monthly).then(pl.col("k") + 1).otherwise(pl.col("k")),
        )
        .join(finalized, on=["src", "sub", "billed_k"], how="semi")
        .select("sub", "k", "c_ts", "plan_after", "seats_after")
    )
    cyc = cyc.join(ch, on=["sub", "k"], how="left")
    before = cyc.select(
        "sub",
        "customer",
        "currency",
        pl.col("p0").alias("start"),
        pl.coalesce("c_ts", "p1").alias("end"),
        "plan_idx",
        pl.col("seats").alias("quantity"),
        "im",
        "pct",
        "invoice_status",
    )
    after = cyc.filter(pl.col("c_ts").is_not_null()).select(
        "sub",
        "customer",
        "currency",
        pl.col("c_ts").alias("start"),
        pl.col("p1").alias("end"),
        pl.col("plan_after").alias("plan_idx"),
        pl.col("seats_after").alias("quantity"),
        "im",
        "pct",
        "invoice_status",
    )
    seg = pl.concat([before, after]).join(prices, on=["plan_idx", "currency", "im"])
    seg = seg.with_columns(
        value=pl.col("unit_amount")
        * pl.col("quantity")
        * (100 - pl.col("pct"))
        * (36 // pl.col("im"))
    )
    return (
        seg.join(customer_keys, on="customer")
        .join(tl.subs.select("sub", "sub_id"), on="sub")
        .select(
            "account_key",
            "stripe_customer_id",
            "sub_id",
            "currency",
            "start",
            "end",
            "unit_amount",
            "quantity",
            pl.col("im").alias("interval_months"),
            pl.col("pct").alias("percent_off"),
            "invoice_status",
            "value",
        )
        .sort(["account_key", "start", "sub_id"])
    )


def _round_half_away(numerator: pl.Expr, denominator: int) -> pl.Expr:
    """Integer division rounding half away from zero."""
    q = (numerator.abs() * 2 + denominator) // (2 * denominator)
    return pl.when(numerator < 0).then(-q).otherwise(q)


def mrr_truth(segments: pl.DataFrame, horizon: Horizon) -> pl.DataFrame:
    """MRR per (account_key, month, currency) from first active month to the as-of month.

    ``segments`` are the billed state as seen at as-of (``state_segments``).
    """
    A = horizon.as_of
    asof_m = int(month_index(np.array([A]))[0])
    seg = segments.filter(pl.col("invoice_status").is_in(COUNTED))
    starts = seg["start"].to_numpy()
    ends = seg["end"].to_numpy()
    # Months whose month-end snapshot falls in (start, end]; the as-of month uses A instead.
    m_first = month_index(starts)
    m_last = np.minimum(month_index(ends) - 1, asof_m - 1)
    seg = seg.with_columns(m_first=pl.Series(m_first), m_last=pl.Series(m_last))
    covered = (
        seg.select(
            "account_key",
            "currency",
            "value",
            pl.int_ranges("m_first", pl.col("m_last") + 1).alias("m"),
        )
        .explode("m", empty_as_null=False)
        .drop_nulls("m")
    )
    at_asof = seg.filter((pl.col("start") < A) & (pl.col("end") >= A)).select(
        "account_key", "currency", "value", pl.lit(asof_m, dtype=pl.Int64).alias("m")
    )
    per_month = (
        pl.concat([covered.with_columns(pl.col("m").cast(pl.Int64)), at_asof])
        .group_by("account_key", "currency", "m")
        .agg(pl.col("value").sum())
        .with_columns(mrr_minor=_round_half_away(pl.col("value"), SCALE).clip(lower_bound=0))
    )
    first = (
        per_month.filter(pl.col("mrr_minor") > 0)
        .group_by("account_key", "currency")
        .agg(pl.col("m").min().alias("m0"))
    )
    grid = first.select(
        "account_key", "currency", pl.int_ranges("m0", asof_m + 1).alias("m")
    ).explode("m", empty_as_null=False)
    out = grid.join(
        per_month.select("account_key", "currency", "m", "mrr_minor"),
        on=["account_key", "currency", "m"],
        how="left",
    )
    out = out.with_columns(pl.col("mrr_minor").fill_null(0))
    return (
        out.with_columns(
            month=pl.from_epoch(
                pl.Series(month_start(out["m"].to_numpy())), time_unit="s"
            ).dt.strftime("%Y-%m-%d"),
            mrr=_minor_to_major(pl.col("mrr_minor")),
        )
        .select(pl.col("account_key").alias("crm_account_id"), "month", "currency", "mrr")
        .sort(["crm_account_id", "month", "currency"])
    )


def _minor_to_major(minor: pl.Expr) -> pl.Expr:
    """Minor units -> ``"1234.50"`` (always two decimals, as truth/mrr.csv is written)."""
    return pl.concat_str(
        (minor // 100).cast(pl.String), pl.lit("."), (minor % 100).cast(pl.String).str.zfill(2)
    )
