"""Salesforce records: Accounts, Opportunities, line items, Products and Contracts.

Every won New Business / Expansion opportunity names the subscription it created (the
subscription's ``metadata.salesforce_opportunity_id`` points back at it). Line items state
annual values: ``UnitPrice`` is the yearly list price per seat of the billed price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from connectors.sandbox.calendar import DAY
from connectors.sandbox.catalog import ONBOARDING_FEE, PLANS, Catalog
from connectors.sandbox.ids import salesforce_ids
from connectors.sandbox.timeline import ADDON, PRIMARY, REACTIVATION, Horizon, Timeline

API = "/services/data/v62.0/sobjects"
NULL_STR = pl.lit(None, dtype=pl.String)


@dataclass
class CrmFrames:
    Account: pl.DataFrame
    Opportunity: pl.DataFrame
    OpportunityLineItem: pl.DataFrame
    Product2: pl.DataFrame
    Contract: pl.DataFrame
    opps: pl.DataFrame  # internal: opp, acct, sub, type, close_ts, won, currency, ...
    line_items: pl.DataFrame  # internal: opp, product key, quantity, unit_price


def sf_datetime(col: str | pl.Expr) -> pl.Expr:
    """Unix seconds -> Salesforce's ``2026-04-01T12:34:56.000+0000``."""
    c = pl.col(col) if isinstance(col, str) else col
    return pl.from_epoch(c, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def sf_date(col: str | pl.Expr) -> pl.Expr:
    c = pl.col(col) if isinstance(col, str) else col
    return pl.from_epoch(c, time_unit="s").dt.strftime("%Y-%m-%d")


def _attributes(obj: str) -> pl.Expr:
    return pl.struct(type=pl.lit(obj), url=pl.concat_str(pl.lit(f"{API}/{obj}/"), pl.col("Id")))


def annual_unit_price(plan_idx: pl.Expr, currency: pl.Expr, im: pl.Expr) -> pl.Expr:
    """Yearly list price per seat (major units) of the price a subscription is billed at."""
    monthly = pl.struct(plan_idx, currency).map_elements(
        lambda r: PLANS[r["plan_idx"]].monthly[r["currency"]], return_dtype=pl.Int64
    )
    months_charged = im.replace_strict({1: 1, 3: 3, 12: 10})
    return (monthly * months_charged * 12 // im).cast(pl.Float64)


def _opportunities(rng: np.random.Generator, tl: Timeline, horizon: Horizon) -> pl.DataFrame:
    """Internal opportunity table (one row per opportunity, over the whole horizon).

    Open pipeline deals close 30 days after the horizon's end; an opportunity that closes
    after the export instant is shown open by ``format_crm``.
    """
    T = horizon.through
    acc = tl.accounts
    subs = tl.subs
    primary = subs.filter(pl.col("kind") == PRIMARY)
    nb = (
        acc.filter(pl.col("is_customer"))
        .join(
            primary.select(
                "acct", "sub", "plan_idx", "seats0", "im", "has_onboarding", "has_usage"
            ),
            on="acct",
            how="left",
        )
        .select(
            "acct",
            "sub",
            "close_ts",
            "plan_idx",
            "seats0",
            "im",
            "has_onboarding",
            "has_usage",
            "currency",
        )
    )
    # Deals without a subscription (not provisioned) still sold a plan.
    n = nb.height
    nb = nb.with_columns(
        plan_idx=pl.coalesce("plan_idx", pl.Series(rng.integers(0, len(PLANS), n))),
        seats0=pl.coalesce("seats0", pl.Series(rng.integers(1, 20, n))),
        im=pl.coalesce("im", pl.lit(1, dtype=pl.Int64)),
        has_onboarding=pl.col("has_onboarding").fill_null(False),
        has_usage=pl.col("has_usage").fill_null(False),
        type=pl.lit("New Business"),
        stage=pl.lit("Closed Won"),
        won=pl.lit(True),
        closed=pl.lit(True),
        name_suffix=pl.lit("New Business"),
    )
    later = subs.filter(pl.col("kind").is_in([REACTIVATION, ADDON])).join(
        acc.select("acct", "currency"), on="acct"
    )
    later = later.select(
        "acct",
        "sub",
        (pl.col("start_ts") - pl.Series(rng.integers(1, 5, later.height) * DAY)).alias("close_ts"),
        "plan_idx",
        "seats0",
        "im",
        "has_onboarding",
        "has_usage",
        "currency",
        pl.when(pl.col("kind") == ADDON)
        .then(pl.lit("Expansion"))
        .otherwise(pl.lit("New Business"))
        .alias("type"),
        pl.lit("Closed Won").alias("stage"),
        pl.lit(True).alias("won"),
        pl.lit(True).alias("closed"),
        pl.when(pl.col("kind") == ADDON)
        .then(pl.lit("Expansion"))
        .otherwise(pl.lit("Win-back"))
        .alias("name_suffix"),
    )
    renew = (
        tl.cycles.filter((pl.col("im") == 12) & (pl.col("k") >= 1))
        .join(subs.select("sub", "acct", "has_onboarding", "has_usage"), on="sub")
        .join(acc.select("acct", "currency"), on="acct")
    )
    renew = renew.select(
        "acct",
        pl.lit(None, dtype=pl.Int64).alias("sub"),
        (pl.col("p0") - pl.Series(rng.integers(5, 30, renew.height) * DAY)).alias("close_ts"),
        "plan_idx",
        pl.col("seats").alias("seats0"),
        "im",
        pl.lit(False).alias("has_onboarding"),
        pl.lit(False).alias("has_usage"),
        "currency",
        pl.lit("Renewal").alias("type"),
        pl.lit("Closed Won").alias("stage"),
        pl.lit(True).alias("won"),
        pl.lit(True).alias("closed"),
        pl.lit("Renewal").alias("name_suffix"),
    )
    prospects = acc.filter(~pl.col("is_customer"))
    lost = prospects.select(
        "acct",
        pl.lit(None, dtype=pl.Int64).alias("sub"),
        "close_ts",
        pl.Series(rng.integers(0, len(PLANS), prospects.height)).alias("plan_idx"),
        pl.Series(rng.integers(1, 20, prospects.height)).alias("seats0"),
        pl.lit(1, dtype=pl.Int64).alias("im"),
        pl.lit(False).alias("has_onboarding"),
        pl.lit(False).alias("has_usage"),
        "currency",
        pl.lit("New Business").alias("type"),
        pl.lit("Closed Lost").alias("stage"),
        pl.lit(False).alias("won"),
        pl.lit(True).alias("closed"),
        pl.lit("New Business").alias("name_suffix"),
    )
    open_base = nb.filter(pl.Series(rng.random(n) < 0.05))
    open_opps = open_base.select(
        "acct",
        pl.lit(None, dtype=pl.Int64).alias("sub"),
        pl.lit(T + 30 * DAY).alias("close_ts"),
        "plan_idx",
        pl.lit(5, dtype=pl.Int64).alias("seats0"),
        "im",
        pl.lit(False).alias("has_onboarding"),
        pl.lit(False).alias("has_usage"),
        "currency",
        pl.lit("Expansion").alias("type"),
        pl.lit("Proposal/Price Quote").alias("stage"),
        pl.lit(False).alias("won"),
        pl.lit(False).alias("closed"),
        pl.lit("Expansion").alias("name_suffix"),
    )
    opps = pl.concat([nb, later, renew, lost, open_opps], how="vertical_relaxed")
    opps = opps.with_columns(
        created_ts=pl.min_horizontal(pl.col("close_ts"), pl.lit(T))
        - pl.Series(rng.integers(7, 60, opps.height) * DAY)
    )
    opps = (
        opps.sort(["created_ts", "acct", "type"])
        .with_row_index("opp")
        .with_columns(pl.col("opp").cast(pl.Int64))
    )
    return opps.with_columns(opp_id=pl.Series(salesforce_ids(rng, "006", opps.height)))


def _line_items(opps: pl.DataFrame) -> pl.DataFrame:
    plan_key = pl.col("plan_idx").replace_strict({i: p.key for i, p in enumerate(PLANS)})
    plan_lines = opps.select(
        "opp",
        plan_key.alias("product"),
        pl.col("seats0").cast(pl.Float64).alias("quantity"),
        annual_unit_price(pl.col("plan_idx"), pl.col("currency"), pl.col("im")).alias("unit_price"),
    )
    fee = pl.col("currency").replace_strict({k: float(v) for k, v in ONBOARDING_FEE.items()})
    onboarding = opps.filter(pl.col("has_onboarding")).select(
        "opp",
        pl.lit("onboarding").alias("product"),
        pl.lit(1.0).alias("quantity"),
        fee.alias("unit_price"),
    )
    usage = opps.filter(pl.col("has_usage")).select(
        "opp",
        pl.lit("api_calls").alias("product"),
        pl.lit(1.0).alias("quantity"),
        pl.lit(0.0).alias("unit_price"),
    )
    return pl.concat([plan_lines, onboarding, usage]).sort(["opp", "product"])


def apply_contract_mismatch(
    rng: np.random.Generator, opps: pl.DataFrame, items: pl.DataFrame, chosen: list[int]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sell something other than what gets billed, for the chosen opportunities.

    One of: 25% more seats sold, a 25% higher unit price, or the deal in another currency.
    """
    kind = rng.integers(0, 3, len(chosen))
    sel = pl.DataFrame({"opp": pl.Series(chosen, dtype=pl.Int64), "how": kind})
    is_plan = ~pl.col("product").is_in(["onboarding", "api_calls"])
    items = (
        items.join(sel, on="opp", how="left")
        .with_columns(
            quantity=pl.when(is_plan & (pl.col("how") == 0))
            .then((pl.col("quantity") * 1.25).ceil() + 1)
            .otherwise("quantity"),
            unit_price=pl.when(is_plan & (pl.col("how") == 1))
            .then(pl.col("unit_price") * 1.25)
            .otherwise("unit_price"),
        )
        .drop("how")
    )
    other = {"USD": "EUR", "GBP": "USD", "EUR": "GBP"}
    opps = (
        opps.join(sel, on="opp", how="left")
        .with_columns(
            currency=pl.when(pl.col("how") == 2)
            .then(pl.col("currency").replace_strict(other))
            .otherwise("currency")
        )
        .drop("how")
    )
    return opps, items


def build_crm(
    rng: np.random.Generator, tl: Timeline, catalog: Catalog, horizon: Horizon
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The internal opportunity and line-item tables (before anomalies and formatting)."""
    opps = _opportunities(rng, tl, horizon)
    return opps, _line_items(opps)


def format_crm(
    rng: np.random.Generator,
    tl: Timeline,
    catalog: Catalog,
    horizon: Horizon,
    opps: pl.DataFrame,
    items: pl.DataFrame,
) -> CrmFrames:
    """Salesforce records in the REST API's JSON shape, as seen at the export instant (as-of).

    Ids are drawn over the whole horizon; records created after as-of are not exported (an
    Account, an Opportunity and its line items, a Contract before its activation), and a deal
    that closes after as-of is still open at as-of (stage ``Negotiation/Review``).
    """
    A = horizon.as_of
    T = horizon.through
    acc = tl.accounts
    last_close = opps.group_by("acct").agg(
        pl.col("close_ts").filter(pl.col("close_ts") <= A).max().alias("last_close")
    )
    ever_customer = (
        tl.customers.filter(pl.col("created_ts") <= A)
        .select("acct")
        .unique()
        .with_columns(cust=pl.lit(True))
    )
    accounts = (
        acc.filter(pl.col("created_ts") <= A)
        .join(last_close, on="acct", how="left")
        .join(ever_customer, on="acct", how="left")
        .sort("created_ts")
        .select(
            pl.col("sf_account_id").alias("Id"),
            "name",
            "domain",
            "entity_idx",
            "currency",
            "created_ts",
            "last_close",
            "cust",
        )
    )
    from connectors.sandbox.catalog import ENTITIES

    account_frame = accounts.select(
        _attributes("Account").alias("attributes"),
        "Id",
        pl.col("name").alias("Name"),
        pl.concat_str(pl.lit("https://www."), "domain").alias("Website"),
        pl.when(pl.col("cust").fill_null(False))
        .then(pl.lit("Customer"))
        .otherwise(pl.lit("Prospect"))
        .alias("Type"),
        NULL_STR.alias("ParentId"),
        pl.col("entity_idx")
        .replace_strict({i: e.billing_country for i, e in enumerate(ENTITIES)})
        .alias("BillingCountry"),
        pl.col("currency").alias("CurrencyIsoCode"),
        pl.lit(False).alias("IsDeleted"),
        sf_datetime("created_ts").alias("CreatedDate"),
        sf_datetime(pl.max_horizontal("created_ts", pl.col("last_close").fill_null(0))).alias(
            "SystemModstamp"
        ),
    )
    amounts = items.group_by("opp").agg(
        (pl.col("quantity") * pl.col("unit_price")).sum().round(2).alias("amount")
    )
    o = opps.join(amounts, on="opp", how="left").join(
        acc.select("acct", "sf_account_id", "name", pl.col("created_ts").alias("acct_created")),
        on="acct",
    )
    # Visible at as-of: created by then, under an Account that exists by then.
    o = o.filter((pl.col("created_ts") <= A) & (pl.col("acct_created") <= A))
    visible_opps = o["opp"].implode()
    closed_by_as_of = pl.col("closed") & (pl.col("close_ts") <= A)
    # Last modified when it closed; the open pipeline was last touched at the horizon's end,
    # or, seen before that (or before its close), last modified when it was created.
    touched = pl.min_horizontal(pl.col("close_ts"), pl.lit(T))
    modstamp = pl.when(touched <= A).then(touched).otherwise(pl.col("created_ts"))
    opportunity_frame = o.sort("opp").select(
        _attributes_for("Opportunity", "opp_id"),
        pl.col("opp_id").alias("Id"),
        pl.col("sf_account_id").alias("AccountId"),
        pl.concat_str("name", pl.lit(" - "), "name_suffix").alias("Name"),
        pl.col("type").alias("Type"),
        pl.when(pl.col("closed") & ~closed_by_as_of)
        .then(pl.lit("Negotiation/Review"))
        .otherwise(pl.col("stage"))
        .alias("StageName"),
        closed_by_as_of.alias("IsClosed"),
        (pl.col("won") & closed_by_as_of).alias("IsWon"),
        sf_date("close_ts").alias("CloseDate"),
        pl.col("amount").fill_null(0.0).alias("Amount"),
        pl.col("currency").alias("CurrencyIsoCode"),
        sf_datetime("created_ts").alias("CreatedDate"),
        sf_datetime(modstamp).alias("SystemModstamp"),
    )
    li = items.join(opps.select("opp", "opp_id", "close_ts", "created_ts"), on="opp").sort(
        ["opp", "product"]
    )
    li = li.with_columns(Id=pl.Series(salesforce_ids(rng, "00k", li.height))).filter(
        pl.col("opp").is_in(visible_opps)
    )
    line_frame = li.select(
        _attributes("OpportunityLineItem").alias("attributes"),
        "Id",
        pl.col("opp_id").alias("OpportunityId"),
        pl.col("product").replace_strict(catalog.sf_product_ids).alias("Product2Id"),
        pl.col("quantity").alias("Quantity"),
        pl.col("unit_price").round(2).alias("UnitPrice"),
        (pl.col("quantity") * pl.col("unit_price")).round(2).alias("TotalPrice"),
        sf_date("close_ts").alias("ServiceDate"),
        sf_datetime(modstamp).alias("SystemModstamp"),
    )
    family = {p.key: "Subscription" for p in PLANS} | {
        "api_calls": "Usage",
        "onboarding": "Services",
    }
    names = {p.key: p.name for p in PLANS} | {"api_calls": "API Calls", "onboarding": "Onboarding"}
    keys = catalog.product_keys
    product_frame = (
        pl.DataFrame({"key": keys})
        .with_columns(Id=pl.col("key").replace_strict(catalog.sf_product_ids))
        .select(
            _attributes("Product2").alias("attributes"),
            "Id",
            pl.col("key").replace_strict(names).alias("Name"),
            pl.col("key").str.to_uppercase().alias("ProductCode"),
            pl.col("key").replace_strict(family).alias("Family"),
            pl.lit(True).alias("IsActive"),
        )
    )
    won = opps.filter(
        pl.col("won")
        & pl.col("type").is_in(["New Business", "Expansion"])
        & pl.col("sub").is_not_null()
    )
    won = (
        won.join(tl.subs.select("sub", "start_ts"), on="sub")
        .join(acc.select("acct", "sf_account_id"), on="acct")
        .sort("opp")
    )
    won = won.with_columns(
        Id=pl.Series(salesforce_ids(rng, "800", won.height)), number=pl.int_range(1, pl.len() + 1)
    ).filter(pl.col("start_ts") <= A)  # activated when its subscription starts
    start = pl.from_epoch("start_ts", time_unit="s").dt.date()
    contract_frame = won.select(
        _attributes("Contract").alias("attributes"),
        "Id",
        pl.col("sf_account_id").alias("AccountId"),
        pl.col("number").cast(pl.String).str.zfill(8).alias("ContractNumber"),
        pl.lit("Activated").alias("Status"),
        start.dt.strftime("%Y-%m-%d").alias("StartDate"),
        start.dt.offset_by("12mo").dt.offset_by("-1d").dt.strftime("%Y-%m-%d").alias("EndDate"),
        pl.lit(12).alias("ContractTerm"),
        sf_datetime("start_ts").alias("ActivatedDate"),
    )
    return CrmFrames(
        account_frame, opportunity_frame, line_frame, product_frame, contract_frame, opps, items
    )


def _attributes_for(obj: str, id_col: str) -> pl.Expr:
    return pl.struct(
        type=pl.lit(obj), url=pl.concat_str(pl.lit(f"{API}/{obj}/"), pl.col(id_col))
    ).alias("attributes")
