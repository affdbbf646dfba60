"""Stripe objects in the API's own JSON shape (API version 2026-10-28.endive).

Top-level keys follow the real objects in ``tests/fixtures/stripe-fixtures``; fields the
company does not use carry Stripe's null/empty values so a connector sees what it would see
from the live API.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from connectors.sandbox.billing import Billing, billing_at, price_table, sub_context
from connectors.sandbox.calendar import DAY, HOUR
from connectors.sandbox.catalog import (
    CURRENCIES,
    ENTITIES,
    INTERVALS,
    METER_EVENT_NAME,
    ONBOARDING_FEE,
    PLANS,
    USAGE_UNIT_AMOUNT,
    Catalog,
)
from connectors.sandbox.ids import random_ids
from connectors.sandbox.jsonl import empty_object, row_batches
from connectors.sandbox.timeline import Horizon, Timeline, timeline_at

API_VERSION = "2026-10-28.endive"
NULL_STR = pl.lit(None, dtype=pl.String)
NULL_INT = pl.lit(None, dtype=pl.Int64)
EMPTY_STR_LIST = pl.lit([], dtype=pl.List(pl.String))
FALSE = pl.lit(False)
INVOICE_BATCH_ROWS = 10_000  # invoices built as nested objects at a time (stripe_frames)


@dataclass
class StripeFrames:
    customers: pl.DataFrame
    products: pl.DataFrame
    prices: pl.DataFrame
    subscriptions: pl.DataFrame
    invoices: pl.DataFrame
    invoice_payments: pl.DataFrame
    credit_notes: pl.DataFrame
    charges: pl.DataFrame
    refunds: pl.DataFrame
    billing_meters: pl.DataFrame
    meter_events: pl.DataFrame


def assign_ids(rng: np.random.Generator, tl: Timeline, b: Billing) -> None:
    """Give every billing object its Stripe id (columns added in place)."""
    tl.subs = tl.subs.with_columns(
        sub_id=pl.Series(random_ids(rng, "sub_", tl.subs.height, 24)),
        si_id=pl.Series(random_ids(rng, "si_", tl.subs.height, 14)),
        di_id=pl.Series(random_ids(rng, "di_", tl.subs.height, 24)),
    )
    tl.usage_subs = tl.usage_subs.with_columns(
        sub_id=pl.Series(random_ids(rng, "sub_", tl.usage_subs.height, 24)),
        si_id=pl.Series(random_ids(rng, "si_", tl.usage_subs.height, 14)),
    )
    b.invoices = b.invoices.with_columns(
        invoice_id=pl.Series(random_ids(rng, "in_", b.invoices.height, 24)),
    )
    b.lines = b.lines.with_columns(line_id=pl.Series(random_ids(rng, "il_", b.lines.height, 24)))
    n = b.charges.height
    b.charges = b.charges.with_columns(
        charge_id=pl.Series(random_ids(rng, "ch_", n, 24)),
        pi_id=pl.Series(random_ids(rng, "pi_", n, 24)),
        txn_id=pl.Series(random_ids(rng, "txn_", n, 24)),
        inpay_id=pl.Series(random_ids(rng, "inpay_", n, 24)),
    )
    n = b.credit_notes.height
    b.credit_notes = b.credit_notes.with_columns(
        cn_id=pl.Series(random_ids(rng, "cn_", n, 24)),
        cnli_id=pl.Series(random_ids(rng, "cnli_", n, 24)),
        re_id=pl.Series(random_ids(rng, "re_", n, 24)),
    )


def _price_rows(catalog: Catalog) -> pl.DataFrame:
    """Every price with its Stripe fields (licensed, metered and one-time)."""
    lic = price_table(catalog).with_columns(
        interval=pl.col("im").replace_strict({k: v[0] for k, v in INTERVALS.items()}),
        interval_count=pl.col("im").replace_strict({k: v[1] for k, v in INTERVALS.items()}),
        usage_type=pl.lit("licensed"),
        type=pl.lit("recurring"),
        meter=NULL_STR,
        lookup_key=pl.concat_str(
            pl.col("plan_idx").replace_strict({i: p.key for i, p in enumerate(PLANS)}),
            pl.col("im").replace_strict({1: "monthly", 3: "quarterly", 12: "annual"}),
            pl.col("currency").str.to_lowercase(),
            separator="_",
        ),
    )
    usage = pl.DataFrame(
        {
            "currency": list(CURRENCIES),
            "unit_amount": [USAGE_UNIT_AMOUNT] * 3,
            "price_id": [catalog.usage_price_ids[c] for c in CURRENCIES],
            "product_id": [catalog.usage_product_id] * 3,
            "interval": ["month"] * 3,
            "interval_count": [1] * 3,
            "usage_type": ["metered"] * 3,
            "type": ["recurring"] * 3,
            "meter": [catalog.meter_id] * 3,
            "lookup_key": [f"api_calls_{c.lower()}" for c in CURRENCIES],
        }
    )
    once = pl.DataFrame(
        {
            "currency": list(CURRENCIES),
            "unit_amount": [ONBOARDING_FEE[c] * 100 for c in CURRENCIES],
            "price_id": [catalog.onboarding_price_ids[c] for c in CURRENCIES],
            "product_id": [catalog.onboarding_product_id] * 3,
            "type": ["one_time"] * 3,
            "lookup_key": [f"onboarding_{c.lower()}" for c in CURRENCIES],
        }
    )
    rows = pl.concat([lic, usage, once], how="diagonal_relaxed")
    return rows.with_columns(price_created=pl.lit(catalog.created))


def price_struct() -> pl.Expr:
    """The full price object as Stripe embeds it (columns of ``_price_rows``)."""
    recurring = (
        pl.when(pl.col("type") == "recurring")
        .then(
            pl.struct(
                interval=pl.col("interval"),
                interval_count=pl.col("interval_count"),
                meter=pl.col("meter"),
                usage_type=pl.col("usage_type"),
                trial_period_days=NULL_INT,
            )
        )
        .otherwise(None)
    )
    return pl.struct(
        id=pl.col("price_id"),
        object=pl.lit("price"),
        active=pl.lit(True),
        billing_scheme=pl.lit("per_unit"),
        created=pl.col("price_created"),
        currency=pl.col("currency").str.to_lowercase(),
        custom_unit_amount=NULL_STR,
        livemode=FALSE,
        lookup_key=pl.col("lookup_key"),
        metadata=empty_object(),
        nickname=NULL_STR,
        product=pl.col("product_id"),
        recurring=recurring,
        tax_behavior=pl.lit("exclusive"),
        tiers_mode=NULL_STR,
        transform_quantity=NULL_STR,
        type=pl.col("type"),
        unit_amount=pl.col("unit_amount"),
        unit_amount_decimal=pl.col("unit_amount").cast(pl.String),
    )


def _products(catalog: Catalog) -> pl.DataFrame:
    names = [p.name for p in PLANS] + ["API Calls", "Onboarding"]
    ids = [catalog.plan_product_ids[p.key] for p in PLANS] + [
        catalog.usage_product_id,
        catalog.onboarding_product_id,
    ]
    default_price = [catalog.plan_price_ids[(p.key, "USD", 1)] for p in PLANS] + [
        catalog.usage_price_ids["USD"],
        catalog.onboarding_price_ids["USD"],
    ]
    return pl.DataFrame({"id": ids, "name": names, "default_price": default_price}).select(
        "id",
        pl.lit("product").alias("object"),
        pl.lit(True).alias("active"),
        pl.lit(catalog.created).alias("created"),
        "default_price",
        NULL_STR.alias("description"),
        EMPTY_STR_LIST.alias("images"),
        FALSE.alias("livemode"),
        pl.lit([], dtype=pl.List(pl.String)).alias("marketing_features"),
        empty_object().alias("metadata"),
        "name",
        NULL_STR.alias("package_dimensions"),
        NULL_STR.alias("shippable"),
        NULL_STR.alias("statement_descriptor"),
        pl.lit("txcd_10103001").alias("tax_code"),
        pl.when(pl.col("name") == "API Calls")
        .then(pl.lit("call"))
        .otherwise(pl.lit("seat"))
        .alias("unit_label"),
        pl.lit(catalog.created).alias("updated"),
        NULL_STR.alias("url"),
        pl.lit("service").alias("type"),
    )


def _address(country: pl.Expr) -> pl.Expr:
    return pl.struct(
        city=NULL_STR,
        country=country,
        line1=NULL_STR,
        line2=NULL_STR,
        postal_code=NULL_STR,
        state=NULL_STR,
    )


def _customers(tl: Timeline) -> pl.DataFrame:
    country = {i: e.country for i, e in enumerate(ENTITIES)}
    c = tl.customers.join(
        tl.accounts.select("acct", "sf_account_id", "currency", "entity_idx"), on="acct"
    )
    # Duplicates found by name only never carried the CRM link.
    link = (
        pl.when(pl.col("role") == "duplicate_name")
        .then(NULL_STR)
        .otherwise(pl.col("sf_account_id"))
    )
    return c.select(
        pl.col("stripe_id").alias("id"),
        pl.lit("customer").alias("object"),
        _address(pl.col("entity_idx").replace_strict(country)).alias("address"),
        pl.lit(0).alias("balance"),
        pl.col("created_ts").alias("created"),
        pl.col("currency").str.to_lowercase().alias("currency"),
        NULL_STR.alias("default_source"),
        FALSE.alias("delinquent"),
        NULL_STR.alias("description"),
        NULL_STR.alias("discount"),
        pl.col("email"),
        pl.col("invoice_prefix"),
        pl.struct(
            custom_fields=NULL_STR,
            default_payment_method=NULL_STR,
            footer=NULL_STR,
            rendering_options=NULL_STR,
        ).alias("invoice_settings"),
        FALSE.alias("livemode"),
        pl.struct(salesforce_account_id=link).alias("metadata"),
        pl.col("name"),
        pl.lit(1).alias("next_invoice_sequence"),
        NULL_STR.alias("phone"),
        EMPTY_STR_LIST.alias("preferred_locales"),
        NULL_STR.alias("shipping"),
        pl.lit("none").alias("tax_exempt"),
        NULL_STR.alias("test_clock"),
    )


def _subscription_state(tl: Timeline, b: Billing, horizon: Horizon) -> pl.DataFrame:
    """Each licensed subscription as the API shows it at as-of (today's state only)."""
    A = horizon.as_of
    last_cycle = tl.cycles.group_by("sub").agg(pl.all().sort_by("k").last())
    latest_change = (
        tl.changes.filter(pl.col("c_ts") <= A)
        .group_by("sub")
        .agg(pl.all().sort_by("c_ts").last())
        .select("sub", "c_ts", "plan_after", "seats_after")
    )
    open_cycle = (
        b.invoices.filter((pl.col("src") == "cycle") & (pl.col("status") == "open"))
        .select("sub")
        .unique()
    )
    s = (
        tl.subs.join(
            last_cycle.select("sub", "k", "p0", "p1", "plan_idx", "seats", "pct"),
            on="sub",
            how="left",
            suffix="_cyc",
        )
        .join(latest_change, on="sub", how="left")
        .join(open_cycle.with_columns(past_due=pl.lit(True)), on="sub", how="left")
        .join(tl.accounts.select("acct", "currency"), on="acct")
    )
    late_change = pl.col("c_ts").is_not_null() & (pl.col("c_ts") > pl.col("p0"))
    trialing = pl.col("trial_end_ts").is_not_null() & (pl.col("trial_end_ts") > A)
    ended = pl.col("end_ts") <= A
    involuntary = pl.col("k_inv") >= 0
    cancel_requested = (
        pl.when(involuntary).then(pl.col("end_ts")).otherwise(pl.col("end_ts") - 10 * DAY)
    )
    return s.with_columns(
        cur_plan=pl.when(late_change)
        .then("plan_after")
        .otherwise(pl.coalesce("plan_idx_cyc", "plan_idx")),
        cur_seats=pl.when(late_change)
        .then("seats_after")
        .otherwise(pl.coalesce("seats", "seats0")),
        period_start=pl.when(trialing | pl.col("p0").is_null())
        .then(pl.col("start_ts"))
        .otherwise("p0"),
        period_end=pl.when(trialing | pl.col("p1").is_null()).then(pl.col("b0")).otherwise("p1"),
        status=pl.when(ended)
        .then(pl.lit("canceled"))
        .when(trialing)
        .then(pl.lit("trialing"))
        .when(pl.col("past_due").fill_null(False))
        .then(pl.lit("past_due"))
        .otherwise(pl.lit("active")),
        canceled_at=pl.when(cancel_requested <= A).then(cancel_requested).otherwise(None),
        cancel_at=pl.when((cancel_requested <= A) & ~involuntary)
        .then(pl.col("end_ts"))
        .otherwise(None),
        cancel_at_period_end=(cancel_requested <= A) & ~ended & ~involuntary,
        ended_at=pl.when(ended).then(pl.col("end_ts")).otherwise(None),
        discount_active=(pl.col("pct") > 0) & ~ended,
    )


def _subscription_object(items: pl.Expr, *, sub_id: str, customer: str) -> list[pl.Expr]:
    """The subscription object's columns around an ``items`` expression."""
    return [
        pl.col(sub_id).alias("id"),
        pl.lit("subscription").alias("object"),
        NULL_STR.alias("application"),
        NULL_STR.alias("application_fee_percent"),
        pl.struct(enabled=FALSE, liability=NULL_STR, disabled_reason=NULL_STR).alias(
            "automatic_tax"
        ),
        pl.col("anchor").alias("billing_cycle_anchor"),
        NULL_STR.alias("billing_cycle_anchor_config"),
        pl.col("cancel_at"),
        pl.col("canceled_at"),
        pl.struct(
            comment=NULL_STR,
            feedback=NULL_STR,
            reason=pl.when(pl.col("canceled_at").is_null())
            .then(NULL_STR)
            .otherwise(pl.col("cancel_reason")),
        ).alias("cancellation_details"),
        pl.lit("charge_automatically").alias("collection_method"),
        pl.col("start_ts").alias("created"),
        pl.col("currency").str.to_lowercase().alias("currency"),
        pl.col(customer).alias("customer"),
        NULL_INT.alias("days_until_due"),
        NULL_STR.alias("default_payment_method"),
        NULL_STR.alias("default_source"),
        EMPTY_STR_LIST.alias("default_tax_rates"),
        NULL_STR.alias("description"),
        pl.col("discounts"),
        pl.col("ended_at"),
        pl.struct(account_tax_ids=NULL_STR, issuer=pl.struct(type=pl.lit("self"))).alias(
            "invoice_settings"
        ),
        items.alias("items"),
        pl.col("latest_invoice"),
        FALSE.alias("livemode"),
        pl.col("metadata"),
        NULL_INT.alias("next_pending_invoice_item_invoice"),
        NULL_STR.alias("on_behalf_of"),
        NULL_STR.alias("pause_collection"),
        pl.struct(
            payment_method_options=NULL_STR,
            payment_method_types=NULL_STR,
            save_default_payment_method=pl.lit("off"),
        ).alias("payment_settings"),
        NULL_STR.alias("pending_invoice_item_interval"),
        NULL_STR.alias("pending_setup_intent"),
        NULL_STR.alias("pending_update"),
        NULL_STR.alias("schedule"),
        pl.col("start_ts").alias("start_date"),
        pl.col("status"),
        NULL_STR.alias("test_clock"),
        NULL_STR.alias("transfer_data"),
        pl.col("trial_end"),
        pl.struct(end_behavior=pl.struct(missing_payment_method=pl.lit("create_invoice"))).alias(
            "trial_settings"
        ),
        pl.col("trial_start"),
        pl.col("cancel_at_period_end"),
        NULL_STR.alias("billing_thresholds"),
        pl.struct(type=pl.lit("classic")).alias("billing_mode"),
        NULL_STR.alias("customer_account"),
        pl.struct(enabled=FALSE).alias("managed_payments"),
        EMPTY_STR_LIST.alias("billing_schedules"),
    ]


def _plan_struct() -> pl.Expr:
    """The legacy ``plan`` view of a recurring price that subscription items still carry."""
    return pl.struct(
        id=pl.col("price_id"),
        object=pl.lit("plan"),
        active=pl.lit(True),
        amount=pl.col("unit_amount"),
        amount_decimal=pl.col("unit_amount").cast(pl.String),
        billing_scheme=pl.lit("per_unit"),
        created=pl.col("price_created"),
        currency=pl.col("currency").str.to_lowercase(),
        interval=pl.col("interval"),
        interval_count=pl.col("interval_count"),
        livemode=FALSE,
        metadata=empty_object(),
        meter=pl.col("meter"),
        nickname=NULL_STR,
        product=pl.col("product_id"),
        tiers_mode=NULL_STR,
        transform_usage=NULL_STR,
        trial_period_days=NULL_INT,
        usage_type=pl.col("usage_type"),
    )


def _item_struct(sub_id: str) -> pl.Expr:
    return pl.struct(
        id=pl.col("si_id"),
        object=pl.lit("subscription_item"),
        created=pl.col("start_ts"),
        discounts=EMPTY_STR_LIST,
        metadata=empty_object(),
        price=price_struct(),
        plan=_plan_struct(),
        quantity=pl.col("item_quantity"),
        subscription=pl.col(sub_id),
        tax_rates=EMPTY_STR_LIST,
        current_period_end=pl.col("period_end"),
        current_period_start=pl.col("period_start"),
        billing_thresholds=NULL_STR,
    )


def _items_list(sub_id: str) -> pl.Expr:
    return pl.struct(
        object=pl.lit("list"),
        data=pl.concat_list(_item_struct(sub_id)),
        has_more=FALSE,
        url=pl.concat_str(pl.lit("/v1/subscription_items?subscription="), pl.col(sub_id)),
    )


def _month_after(col: str) -> pl.Expr:
    """First instant of the month after the instant in ``col`` (Unix seconds)."""
    return pl.from_epoch(col, time_unit="s").dt.offset_by("1mo").dt.month_start().dt.epoch("s")


def _subscriptions(
    tl: Timeline, b: Billing, horizon: Horizon, prices: pl.DataFrame, opp_by_sub: pl.DataFrame
) -> pl.DataFrame:
    A = horizon.as_of
    ids = tl.customers.select("customer", "stripe_id")
    ctx = sub_context(tl).select("sub", "customer")
    latest = (
        b.invoices.drop_nulls("sub")
        .group_by("sub")
        .agg(pl.col("invoice_id").sort_by("created").last().alias("latest_invoice"))
    )
    s = (
        _subscription_state(tl, b, horizon)
        .join(ctx, on="sub")
        .join(ids, on="customer")
        .join(latest, on="sub", how="left")
        .join(opp_by_sub, on="sub", how="left")
        .join(
            prices.filter(pl.col("usage_type") == "licensed"),
            left_on=["cur_plan", "currency", "im"],
            right_on=["plan_idx", "currency", "im"],
        )
        .with_columns(
            anchor=pl.col("b0"),
            item_quantity=pl.col("cur_seats"),
            discounts=pl.when(pl.col("discount_active"))
            .then(pl.concat_list("di_id"))
            .otherwise(EMPTY_STR_LIST),
            metadata=pl.struct(salesforce_opportunity_id=pl.col("opp_id")),
            trial_start=pl.when(pl.col("trial_end_ts").is_not_null()).then("start_ts"),
            trial_end=pl.col("trial_end_ts"),
            cancel_reason=pl.when(pl.col("k_inv") >= 0)
            .then(pl.lit("payment_failed"))
            .otherwise(pl.lit("cancellation_requested")),
        )
    )
    licensed = s.select(
        _subscription_object(_items_list("sub_id"), sub_id="sub_id", customer="stripe_id")
    )
    # Metered subscriptions: billed on the 1st for the month before; no opportunity.
    metered = prices.filter(pl.col("usage_type") == "metered").drop("plan_idx", "im")
    latest_u = (
        b.invoices.drop_nulls("usage_sub")
        .group_by("usage_sub")
        .agg(pl.col("invoice_id").sort_by("created").last().alias("latest_invoice"))
    )
    ended = pl.col("end_ts") <= A
    u = (
        tl.usage_subs.join(ctx, left_on="licensed_sub", right_on="sub")
        .join(ids, on="customer")
        .join(tl.accounts.select("acct", "currency"), on="acct")
        .join(metered, on="currency")
        .join(latest_u, on="usage_sub", how="left")
        .with_columns(current=pl.min_horizontal(pl.lit(A), pl.col("end_ts") - 1))
        .with_columns(
            anchor=_month_after("start_ts"),
            status=pl.when(ended).then(pl.lit("canceled")).otherwise(pl.lit("active")),
            canceled_at=pl.when(ended).then("end_ts"),
            cancel_at=NULL_INT,
            cancel_at_period_end=FALSE,
            ended_at=pl.when(ended).then("end_ts"),
            discounts=EMPTY_STR_LIST,
            metadata=pl.struct(salesforce_opportunity_id=NULL_STR),
            trial_start=NULL_INT,
            trial_end=NULL_INT,
            cancel_reason=pl.lit("cancellation_requested"),
            item_quantity=NULL_INT,
            period_start=pl.from_epoch("current", time_unit="s").dt.month_start().dt.epoch("s"),
            period_end=_month_after("current"),
        )
    )
    usage = u.select(
        _subscription_object(_items_list("sub_id"), sub_id="sub_id", customer="stripe_id")
    )
    return pl.concat([licensed, usage], how="vertical_relaxed").sort(["created", "id"])


def _line_items(tl: Timeline, lines: pl.DataFrame, invoices: pl.DataFrame) -> pl.DataFrame:
    """The line items of ``invoices`` (``invoice``, ``invoice_id``, ``currency``) among
    ``lines``, one struct per line, grouped per invoice."""
    sub_ids = tl.subs.select("sub", "sub_id", "si_id", "di_id")
    usage_ids = tl.usage_subs.select(
        "usage_sub", pl.col("sub_id").alias("usub_id"), pl.col("si_id").alias("usi_id")
    )
    ln = (
        lines.join(invoices.select("invoice", "invoice_id", "currency"), on="invoice")
        .join(sub_ids, on="sub", how="left")
        .join(usage_ids, on="usage_sub", how="left")
        .with_columns(
            subscription=pl.coalesce("sub_id", "usub_id"),
            subscription_item=pl.coalesce("si_id", "usi_id"),
        )
    )
    one_time = pl.col("line_kind") == "one_time"
    sub_details = pl.struct(
        invoice_item=pl.when(pl.col("proration")).then(
            pl.concat_str(pl.lit("ii_"), pl.col("line_id").str.slice(3))
        ),
        proration=pl.col("proration"),
        proration_details=pl.struct(credited_items=NULL_STR),
        subscription=pl.col("subscription"),
        subscription_item=pl.col("subscription_item"),
    )
    item_details = pl.struct(
        invoice_item=pl.concat_str(pl.lit("ii_"), pl.col("line_id").str.slice(3)),
        proration=FALSE,
        proration_details=pl.struct(credited_items=NULL_STR),
        subscription=NULL_STR,
    )
    has_discount = pl.col("discount_amount") > 0
    line = pl.struct(
        id=pl.col("line_id"),
        object=pl.lit("line_item"),
        amount=pl.col("amount"),
        currency=pl.col("currency").str.to_lowercase(),
        description=pl.col("line_kind"),
        discount_amounts=pl.when(has_discount)
        .then(pl.concat_list(pl.struct(amount=pl.col("discount_amount"), discount=pl.col("di_id"))))
        .otherwise(
            pl.lit([], dtype=pl.List(pl.Struct({"amount": pl.Int64, "discount": pl.String})))
        ),
        discountable=pl.lit(True),
        discounts=pl.when(has_discount).then(pl.concat_list("di_id")).otherwise(EMPTY_STR_LIST),
        invoice=pl.col("invoice_id"),
        livemode=FALSE,
        metadata=empty_object(),
        period=pl.struct(end=pl.col("period_end"), start=pl.col("period_start")),
        quantity=pl.col("quantity"),
        subscription=NULL_STR,
        pretax_credit_amounts=pl.lit([], dtype=pl.List(pl.String)),
        taxes=pl.lit([], dtype=pl.List(pl.String)),
        parent=pl.struct(
            invoice_item_details=pl.when(one_time).then(item_details),
            subscription_item_details=pl.when(~one_time).then(sub_details),
            type=pl.when(one_time)
            .then(pl.lit("invoice_item_details"))
            .otherwise(pl.lit("subscription_item_details")),
        ),
        pricing=pl.struct(
            price_details=pl.struct(price=pl.col("price_id"), product=pl.col("product_id")),
            type=pl.lit("price_details"),
            unit_amount_decimal=pl.col("unit_amount").cast(pl.String),
        ),
        subtotal=pl.col("amount"),
        quantity_decimal=pl.col("quantity").cast(pl.String),
    )
    return ln.sort("line").group_by("invoice", maintain_order=True).agg(line.alias("data"))


def invoice_batches(tl: Timeline, b: Billing, rows: int) -> Iterator[pl.DataFrame]:
    """The Stripe invoices as consecutive frames of at most ``rows`` invoices (one empty frame
    when there are none): the nested invoice objects and their lines are built a batch at a
    time."""
    inv = _invoice_rows(tl, b)
    if inv.height == 0:
        yield _invoice_objects(_with_lines(tl, b, inv))
    for batch in row_batches(inv, rows):
        yield _invoice_objects(_with_lines(tl, b, batch))


def _with_lines(tl: Timeline, b: Billing, inv: pl.DataFrame) -> pl.DataFrame:
    """``inv`` (consecutive rows of ``_invoice_rows``) with its line items as ``data``."""
    if inv.height:
        span = pl.col("invoice").is_between(inv["invoice"][0], inv["invoice"][-1])
    else:
        span = pl.lit(False)
    data = _line_items(tl, b.lines.filter(span), inv)
    return inv.join(data, on="invoice", maintain_order="left")


def _invoice_rows(tl: Timeline, b: Billing) -> pl.DataFrame:
    """One row per invoice that has lines, with everything its object shows but the lines, in
    invoice order."""
    cust = tl.customers.join(tl.accounts.select("acct", "entity_idx"), on="acct").select(
        "customer", "stripe_id", "name", "email", "invoice_prefix", "entity_idx"
    )
    cn_total = b.credit_notes.group_by("invoice").agg(pl.col("amount").sum().alias("cn_amount"))
    sub_ids = tl.subs.select("sub", "sub_id", "di_id")
    usage_ids = tl.usage_subs.select("usage_sub", pl.col("sub_id").alias("usub_id"))
    inv = (
        b.invoices.join(cust, on="customer")
        .join(b.lines.select("invoice").unique(), on="invoice", how="semi")
        .join(cn_total, on="invoice", how="left")
        .join(sub_ids, on="sub", how="left")
        .join(usage_ids, on="usage_sub", how="left")
        .with_columns(
            subscription=pl.coalesce("sub_id", "usub_id"),
            seq=pl.int_range(1, pl.len() + 1).over("customer", order_by="invoice"),
        )
    )
    return inv.sort("invoice")


def _invoice_objects(inv: pl.DataFrame) -> pl.DataFrame:
    """The Stripe invoice objects of ``_with_lines`` rows (row by row: any batch of rows gives
    the same objects)."""
    entity = {i: e for i, e in enumerate(ENTITIES)}
    finalized = pl.col("status") != "draft"
    manual = pl.col("billing_reason") == "manual"
    paid = pl.col("status") == "paid"
    amount_paid = pl.when(paid).then(pl.col("total")).otherwise(0)
    has_discount = pl.col("discount") > 0
    disc_list_type = pl.List(pl.Struct({"amount": pl.Int64, "discount": pl.String}))
    return inv.select(
        pl.col("invoice_id").alias("id"),
        pl.lit("invoice").alias("object"),
        pl.col("entity_idx")
        .replace_strict({i: e.country for i, e in entity.items()})
        .alias("account_country"),
        pl.col("entity_idx")
        .replace_strict({i: e.name for i, e in entity.items()})
        .alias("account_name"),
        NULL_STR.alias("account_tax_ids"),
        pl.col("total").alias("amount_due"),
        amount_paid.alias("amount_paid"),
        pl.when(pl.col("status").is_in(["void", "paid"]))
        .then(0)
        .otherwise(pl.col("total"))
        .alias("amount_remaining"),
        pl.lit(0).alias("amount_shipping"),
        NULL_STR.alias("application"),
        pl.when(finalized & (pl.col("total") > 0) & ~manual)
        .then(1)
        .otherwise(0)
        .alias("attempt_count"),
        (finalized & (pl.col("total") > 0) & ~manual).alias("attempted"),
        (~finalized).alias("auto_advance"),
        pl.struct(
            enabled=FALSE,
            liability=NULL_STR,
            status=NULL_STR,
            disabled_reason=NULL_STR,
            provider=NULL_STR,
        ).alias("automatic_tax"),
        pl.col("billing_reason"),
        pl.when(manual)
        .then(pl.lit("send_invoice"))
        .otherwise(pl.lit("charge_automatically"))
        .alias("collection_method"),
        pl.col("created"),
        pl.col("currency").str.to_lowercase().alias("currency"),
        NULL_STR.alias("custom_fields"),
        pl.col("stripe_id").alias("customer"),
        NULL_STR.alias("customer_address"),
        pl.col("email").alias("customer_email"),
        pl.col("name").alias("customer_name"),
        NULL_STR.alias("customer_phone"),
        NULL_STR.alias("customer_shipping"),
        pl.lit("none").alias("customer_tax_exempt"),
        EMPTY_STR_LIST.alias("customer_tax_ids"),
        NULL_STR.alias("default_payment_method"),
        NULL_STR.alias("default_source"),
        EMPTY_STR_LIST.alias("default_tax_rates"),
        NULL_STR.alias("description"),
        pl.when(has_discount)
        .then(pl.concat_list("di_id"))
        .otherwise(EMPTY_STR_LIST)
        .alias("discounts"),
        pl.when(manual).then(pl.col("created") + 30 * DAY).alias("due_date"),
        pl.col("finalized_at").alias("effective_at"),
        pl.when(finalized).then(0).alias("ending_balance"),
        NULL_STR.alias("footer"),
        NULL_STR.alias("from_invoice"),
        pl.when(finalized)
        .then(pl.concat_str(pl.lit("https://invoice.stripe.com/i/acct_1Nb/"), "invoice_id"))
        .alias("hosted_invoice_url"),
        pl.when(finalized)
        .then(
            pl.concat_str(
                pl.lit("https://pay.stripe.com/invoice/acct_1Nb/"), "invoice_id", pl.lit("/pdf")
            )
        )
        .alias("invoice_pdf"),
        pl.struct(type=pl.lit("self")).alias("issuer"),
        NULL_STR.alias("last_finalization_error"),
        NULL_STR.alias("latest_revision"),
        pl.struct(
            object=pl.lit("list"),
            data=pl.col("data"),
            has_more=FALSE,
            url=pl.concat_str(pl.lit("/v1/invoices/"), "invoice_id", pl.lit("/lines")),
        ).alias("lines"),
        FALSE.alias("livemode"),
        empty_object().alias("metadata"),
        NULL_INT.alias("next_payment_attempt"),
        pl.when(finalized)
        .then(
            pl.concat_str("invoice_prefix", pl.lit("-"), pl.col("seq").cast(pl.String).str.zfill(4))
        )
        .alias("number"),
        NULL_STR.alias("on_behalf_of"),
        pl.struct(
            default_mandate=NULL_STR, payment_method_options=NULL_STR, payment_method_types=NULL_STR
        ).alias("payment_settings"),
        pl.col("created").alias("period_end"),
        pl.col("created").alias("period_start"),
        pl.col("cn_amount").fill_null(0).alias("post_payment_credit_notes_amount"),
        pl.lit(0).alias("pre_payment_credit_notes_amount"),
        NULL_STR.alias("receipt_number"),
        NULL_STR.alias("rendering"),
        NULL_STR.alias("shipping_cost"),
        NULL_STR.alias("shipping_details"),
        pl.lit(0).alias("starting_balance"),
        NULL_STR.alias("statement_descriptor"),
        pl.col("status"),
        pl.struct(
            finalized_at=pl.col("finalized_at"),
            marked_uncollectible_at=pl.col("marked_uncollectible_at"),
            paid_at=pl.col("paid_at"),
            voided_at=pl.col("voided_at"),
        ).alias("status_transitions"),
        NULL_STR.alias("subscription"),
        pl.col("subtotal"),
        pl.col("subtotal").alias("subtotal_excluding_tax"),
        NULL_STR.alias("test_clock"),
        pl.col("total"),
        pl.when(has_discount)
        .then(pl.concat_list(pl.struct(amount=pl.col("discount"), discount=pl.col("di_id"))))
        .otherwise(pl.lit([], dtype=disc_list_type))
        .alias("total_discount_amounts"),
        pl.col("total").alias("total_excluding_tax"),
        pl.col("created").alias("webhooks_delivered_at"),
        pl.when(~finalized).then(pl.col("created") + HOUR).alias("automatically_finalizes_at"),
        pl.lit([], dtype=pl.List(pl.String)).alias("total_pretax_credit_amounts"),
        pl.lit([], dtype=pl.List(pl.String)).alias("total_taxes"),
        pl.lit(0).alias("amount_overpaid"),
        pl.when(pl.col("subscription").is_not_null())
        .then(
            pl.struct(
                quote_details=NULL_STR,
                subscription_details=pl.struct(
                    metadata=empty_object(), subscription=pl.col("subscription")
                ),
                type=pl.lit("subscription_details"),
            )
        )
        .alias("parent"),
        NULL_STR.alias("customer_account"),
    )


def _charges_and_payments(tl: Timeline, b: Billing) -> tuple[pl.DataFrame, pl.DataFrame]:
    refunded = b.credit_notes.group_by("charge").agg(pl.col("amount").sum().alias("refunded"))
    ch = (
        b.charges.join(b.invoices.select("invoice", "invoice_id"), on="invoice")
        .join(tl.customers.select("customer", "stripe_id", "name", "email"), on="customer")
        .join(refunded, on="charge", how="left")
        .with_columns(pl.col("refunded").fill_null(0))
    )
    ok = pl.col("status") == "succeeded"
    charges = ch.select(
        pl.col("charge_id").alias("id"),
        pl.lit("charge").alias("object"),
        pl.col("amount"),
        pl.when(ok).then(pl.col("amount")).otherwise(0).alias("amount_captured"),
        pl.col("refunded").alias("amount_refunded"),
        NULL_STR.alias("application"),
        NULL_STR.alias("application_fee"),
        NULL_INT.alias("application_fee_amount"),
        pl.when(ok).then(pl.col("txn_id")).alias("balance_transaction"),
        pl.struct(
            address=NULL_STR,
            email=pl.col("email"),
            name=pl.col("name"),
            phone=NULL_STR,
            tax_id=NULL_STR,
        ).alias("billing_details"),
        pl.lit("NORTHBEAM").alias("calculated_statement_descriptor"),
        ok.alias("captured"),
        pl.col("created"),
        pl.col("currency").str.to_lowercase().alias("currency"),
        pl.col("stripe_id").alias("customer"),
        pl.concat_str(pl.lit("Payment for Invoice "), "invoice_id").alias("description"),
        FALSE.alias("disputed"),
        NULL_STR.alias("failure_balance_transaction"),
        pl.when(~ok).then(pl.lit("card_declined")).alias("failure_code"),
        pl.when(~ok).then(pl.lit("Your card was declined.")).alias("failure_message"),
        empty_object().alias("fraud_details"),
        FALSE.alias("livemode"),
        empty_object().alias("metadata"),
        NULL_STR.alias("on_behalf_of"),
        pl.struct(
            network_status=pl.when(ok)
            .then(pl.lit("approved_by_network"))
            .otherwise(pl.lit("declined_by_network")),
            reason=pl.when(~ok).then(pl.lit("generic_decline")),
            risk_level=pl.lit("normal"),
            seller_message=pl.when(ok)
            .then(pl.lit("Payment complete."))
            .otherwise(pl.lit("The bank did not return any further details with this decline.")),
            type=pl.when(ok).then(pl.lit("authorized")).otherwise(pl.lit("issuer_declined")),
        ).alias("outcome"),
        ok.alias("paid"),
        pl.col("pi_id").alias("payment_intent"),
        pl.concat_str(pl.lit("pm_"), pl.col("pi_id").str.slice(3, 24)).alias("payment_method"),
        pl.struct(
            card=pl.struct(brand=pl.lit("visa"), last4=pl.lit("4242")), type=pl.lit("card")
        ).alias("payment_method_details"),
        pl.col("email").alias("receipt_email"),
        NULL_STR.alias("receipt_number"),
        pl.concat_str(pl.lit("https://pay.stripe.com/receipts/"), "charge_id").alias("receipt_url"),
        (pl.col("refunded") == pl.col("amount")).alias("refunded"),
        pl.struct(
            object=pl.lit("list"),
            data=pl.lit([], dtype=pl.List(pl.String)),
            has_more=FALSE,
            url=pl.concat_str(pl.lit("/v1/charges/"), "charge_id", pl.lit("/refunds")),
        ).alias("refunds"),
        NULL_STR.alias("review"),
        NULL_STR.alias("shipping"),
        NULL_STR.alias("source_transfer"),
        NULL_STR.alias("statement_descriptor"),
        NULL_STR.alias("statement_descriptor_suffix"),
        pl.col("status"),
        NULL_STR.alias("transfer_data"),
        NULL_STR.alias("transfer_group"),
        NULL_STR.alias("source"),
    )
    payments = ch.select(
        pl.col("inpay_id").alias("id"),
        pl.lit("invoice_payment").alias("object"),
        pl.when(ok).then(pl.col("amount")).otherwise(0).alias("amount_paid"),
        pl.col("amount").alias("amount_requested"),
        pl.col("created"),
        pl.col("currency").str.to_lowercase().alias("currency"),
        pl.col("invoice_id").alias("invoice"),
        ok.alias("is_default"),
        FALSE.alias("livemode"),
        pl.struct(type=pl.lit("charge"), charge=pl.col("charge_id")).alias("payment"),
        pl.when(ok).then(pl.lit("paid")).otherwise(pl.lit("canceled")).alias("status"),
        pl.struct(
            canceled_at=pl.when(~ok).then(pl.col("created")),
            paid_at=pl.when(ok).then(pl.col("created")),
        ).alias("status_transitions"),
    )
    return charges.sort(["created", "id"]), payments.sort(["created", "id"])


def _credit_notes_and_refunds(tl: Timeline, b: Billing) -> tuple[pl.DataFrame, pl.DataFrame]:
    cn = (
        b.credit_notes.join(b.invoices.select("invoice", "invoice_id"), on="invoice")
        .join(b.charges.select("charge", "charge_id", "pi_id"), on="charge")
        .join(tl.customers.select("customer", "stripe_id", "invoice_prefix"), on="customer")
        .with_columns(seq=pl.int_range(1, pl.len() + 1).over("invoice", order_by="credit_note"))
    )
    line = pl.struct(
        id=pl.col("cnli_id"),
        object=pl.lit("credit_note_line_item"),
        amount=pl.col("amount"),
        description=pl.lit("Service credit"),
        discount_amount=pl.lit(0),
        discount_amounts=EMPTY_STR_LIST,
        invoice_line_item=NULL_STR,
        livemode=FALSE,
        quantity=pl.lit(1),
        tax_rates=EMPTY_STR_LIST,
        type=pl.lit("custom_line_item"),
        unit_amount=pl.col("amount"),
        unit_amount_decimal=pl.col("amount").cast(pl.String),
        pretax_credit_amounts=EMPTY_STR_LIST,
        taxes=EMPTY_STR_LIST,
        metadata=empty_object(),
    )
    notes = cn.select(
        pl.col("cn_id").alias("id"),
        pl.lit("credit_note").alias("object"),
        pl.col("amount"),
        pl.lit(0).alias("amount_shipping"),
        pl.col("effective_at").alias("created"),
        pl.col("currency").str.to_lowercase().alias("currency"),
        pl.col("stripe_id").alias("customer"),
        NULL_STR.alias("customer_balance_transaction"),
        pl.lit(0).alias("discount_amount"),
        EMPTY_STR_LIST.alias("discount_amounts"),
        pl.col("effective_at"),
        pl.col("invoice_id").alias("invoice"),
        pl.struct(
            object=pl.lit("list"),
            data=pl.concat_list(line),
            has_more=FALSE,
            url=pl.concat_str(pl.lit("/v1/credit_notes/"), "cn_id", pl.lit("/lines")),
        ).alias("lines"),
        FALSE.alias("livemode"),
        NULL_STR.alias("memo"),
        empty_object().alias("metadata"),
        pl.concat_str(
            "invoice_prefix", pl.lit("-CN-"), pl.col("seq").cast(pl.String).str.zfill(2)
        ).alias("number"),
        NULL_INT.alias("out_of_band_amount"),
        pl.concat_str(
            pl.lit("https://pay.stripe.com/credit_notes/"), "cn_id", pl.lit("/pdf")
        ).alias("pdf"),
        NULL_STR.alias("shipping_cost"),
        pl.lit("issued").alias("status"),
        pl.col("amount").alias("subtotal"),
        pl.col("amount").alias("subtotal_excluding_tax"),
        pl.col("amount").alias("total"),
        pl.col("amount").alias("total_excluding_tax"),
        pl.lit("post_payment").alias("type"),
        NULL_INT.alias("voided_at"),
        EMPTY_STR_LIST.alias("pretax_credit_amounts"),
        EMPTY_STR_LIST.alias("total_taxes"),
        pl.concat_list(
            pl.struct(
                amount_refunded=pl.col("amount"),
                refund=pl.col("re_id"),
                payment_record_refund=NULL_STR,
                type=pl.lit("refund"),
            )
        ).alias("refunds"),
        pl.col("amount").alias("post_payment_amount"),
        pl.lit(0).alias("pre_payment_amount"),
        pl.lit("product_unsatisfactory").alias("reason"),
        NULL_STR.alias("customer_account"),
    )
    refunds = cn.select(
        pl.col("re_id").alias("id"),
        pl.lit("refund").alias("object"),
        pl.col("amount"),
        NULL_STR.alias("balance_transaction"),
        pl.col("charge_id").alias("charge"),
        pl.col("effective_at").alias("created"),
        pl.col("currency").str.to_lowercase().alias("currency"),
        pl.struct(card=pl.struct(type=pl.lit("refund")), type=pl.lit("card")).alias(
            "destination_details"
        ),
        empty_object().alias("metadata"),
        pl.col("pi_id").alias("payment_intent"),
        pl.lit("requested_by_customer").alias("reason"),
        NULL_STR.alias("receipt_number"),
        NULL_STR.alias("source_transfer_reversal"),
        pl.lit("succeeded").alias("status"),
        NULL_STR.alias("transfer_reversal"),
        pl.col("stripe_id").alias("customer"),
        NULL_STR.alias("customer_account"),
        NULL_STR.alias("payment_method"),
    )
    return notes.sort(["created", "id"]), refunds.sort(["created", "id"])


def _meters(catalog: Catalog) -> pl.DataFrame:
    return pl.DataFrame({"id": [catalog.meter_id]}).select(
        "id",
        pl.lit("billing.meter").alias("object"),
        pl.lit(catalog.created).alias("created"),
        pl.struct(event_payload_key=pl.lit("stripe_customer_id"), type=pl.lit("by_id")).alias(
            "customer_mapping"
        ),
        pl.struct(formula=pl.lit("sum")).alias("default_aggregation"),
        pl.lit("API calls").alias("display_name"),
        pl.lit(METER_EVENT_NAME).alias("event_name"),
        NULL_STR.alias("event_time_window"),
        FALSE.alias("livemode"),
        pl.lit("active").alias("status"),
        pl.struct(deactivated_at=NULL_INT).alias("status_transitions"),
        pl.lit(catalog.created).alias("updated"),
        pl.struct(event_payload_key=pl.lit("value")).alias("value_settings"),
    )


def meter_event_frame(
    events: pl.DataFrame, customers: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """Meter events (``usage_sub, customer, ts, value``) as ``billing.meter_event`` objects."""
    ev = events.join(
        customers.select("customer", "stripe_id"), on="customer", maintain_order="left"
    )
    return ev.select(
        pl.col("ts").alias("created"),
        pl.lit(METER_EVENT_NAME).alias("event_name"),
        pl.Series(random_ids(rng, "mev_", ev.height, 20)).alias("identifier"),
        FALSE.alias("livemode"),
        pl.lit("billing.meter_event").alias("object"),
        pl.struct(
            stripe_customer_id=pl.col("stripe_id"), value=pl.col("value").cast(pl.String)
        ).alias("payload"),
        pl.col("ts").alias("timestamp"),
    )


def build_stripe(
    rng: np.random.Generator,
    tl: Timeline,
    b: Billing,
    catalog: Catalog,
    horizon: Horizon,
    opp_by_sub: pl.DataFrame,
) -> StripeFrames:
    """Every Stripe file of the drop as a frame, as seen at as-of (ids must already be assigned).

    ``tl`` and ``b`` cover the whole horizon; meter event ids are drawn over all of its events,
    then everything is cut to what exists at as-of (``timeline_at``, ``billing_at``).
    """
    parts: dict[str, list[pl.DataFrame]] = {}
    for name, frame in stripe_frames(rng, tl, b, catalog, horizon, opp_by_sub):
        parts.setdefault(name, []).append(frame)
    return StripeFrames(**{name: pl.concat(frames) for name, frames in parts.items()})


def stripe_frames(
    rng: np.random.Generator,
    tl: Timeline,
    b: Billing,
    catalog: Catalog,
    horizon: Horizon,
    opp_by_sub: pl.DataFrame,
) -> Iterator[tuple[str, pl.DataFrame]]:
    """``build_stripe``'s frames one at a time, as ``(field name, frame)``, so a caller that
    writes each and lets it go holds one Stripe file in memory at a time. The invoices, the
    largest objects, come as several consecutive frames (``invoice_batches``): a file's
    records are those of all the frames of its name.

    The random draws (meter event ids) happen on the first ``next()``, whatever is consumed
    after it; the frames come in ``StripeFrames`` order except that each pair built together
    (charges and invoice payments, credit notes and refunds) comes together.
    """
    A = horizon.as_of
    meter_events = meter_event_frame(b.meter_events, tl.customers, rng).filter(
        pl.col("timestamp") <= A
    )
    tl, b = timeline_at(tl, A), billing_at(b, A)
    prices = _price_rows(catalog)
    yield "customers", _customers(tl)
    yield "products", _products(catalog)
    yield "prices", prices.select(price_struct().alias("p")).unnest("p")
    yield "subscriptions", _subscriptions(tl, b, horizon, prices, opp_by_sub)
    for batch in invoice_batches(tl, b, INVOICE_BATCH_ROWS):
        yield "invoices", batch  # the same name again: appended to the file
    charges, payments = _charges_and_payments(tl, b)
    yield "invoice_payments", payments
    yield "charges", charges
    del charges, payments
    notes, refunds = _credit_notes_and_refunds(tl, b)
    yield "credit_notes", notes
    yield "refunds", refunds
    del notes, refunds
    yield "billing_meters", _meters(catalog)
    yield "meter_events", meter_events
