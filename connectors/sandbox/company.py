"""Builds the whole company's truth (``Timeline``) from one seeded random generator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from connectors.sandbox.calendar import DAY
from connectors.sandbox.catalog import ENTITIES
from connectors.sandbox.ids import random_ids, salesforce_ids
from connectors.sandbox.names import company_names, contact_emails, name_variant
from connectors.sandbox.timeline import (
    DUPLICATE,
    Horizon,
    Timeline,
    build_accounts,
    build_changes,
    build_cycles,
    build_subscriptions,
    build_usage_subs,
)


def pick(rng: np.random.Generator, eligible: np.ndarray, rate: float) -> np.ndarray:
    """Choose about ``rate`` of ``eligible`` (at least one when the rate is positive)."""
    if rate <= 0 or len(eligible) == 0:
        return np.array([], dtype="int64")
    k = min(len(eligible), max(1, round(rate * len(eligible))))
    return np.sort(rng.choice(eligible, size=k, replace=False))


def _describe_accounts(rng: np.random.Generator, accounts: pl.DataFrame) -> pl.DataFrame:
    codes = [ENTITIES[i].code for i in accounts["entity_idx"].to_list()]
    names, domains = company_names(rng, codes)
    return accounts.with_columns(
        sf_account_id=pl.Series(salesforce_ids(rng, "001", accounts.height)),
        name=pl.Series(names),
        domain=pl.Series(domains),
        email=pl.Series(contact_emails(rng, domains)),
        entity=pl.Series(codes),
        currency=pl.Series([ENTITIES[i].currency for i in accounts["entity_idx"].to_list()]),
    )


def _customers(
    rng: np.random.Generator,
    accounts: pl.DataFrame,
    subs: pl.DataFrame,
    dup_linked: np.ndarray,
    dup_name: np.ndarray,
    horizon: Horizon,
) -> pl.DataFrame:
    """Stripe customers: one per provisioned account, plus the injected duplicates."""
    first = subs.group_by("acct").agg(pl.col("start_ts").min().alias("first_start"))
    primary = first.join(accounts, on="acct").select(
        "acct",
        pl.lit("primary").alias("role"),
        (pl.col("first_start") - 60).alias("created_ts"),
        "name",
        "email",
    )
    dup_sub = subs.filter(pl.col("kind") == DUPLICATE).select(
        "acct", pl.col("start_ts").alias("dup_start")
    )
    later = primary.filter(
        pl.col("acct").is_in(dup_linked.tolist()) | pl.col("acct").is_in(dup_name.tolist())
    )
    later = later.with_columns(
        offset=pl.Series(
            rng.integers(1, 120, later.height) * DAY + rng.integers(0, DAY, later.height)
        )
    )
    linked = (
        later.filter(pl.col("acct").is_in(dup_linked.tolist()))
        .join(dup_sub, on="acct", how="left")
        .with_columns(
            role=pl.lit("duplicate_linked"),
            created_ts=pl.coalesce(
                pl.col("dup_start") - 60, pl.col("created_ts") + pl.col("offset")
            ),
        )
        .select("acct", "role", "created_ts", "name", "email")
    )
    named = later.filter(pl.col("acct").is_in(dup_name.tolist()))
    named = named.with_columns(
        role=pl.lit("duplicate_name"),
        created_ts=pl.col("created_ts") + pl.col("offset"),
        name=pl.Series([name_variant(n, rng) for n in named["name"].to_list()], dtype=pl.String),
        email=pl.Series(
            ["accounts@" + e.split("@", 1)[1] for e in named["email"].to_list()], dtype=pl.String
        ),
    ).select("acct", "role", "created_ts", "name", "email")
    customers = (
        pl.concat([primary, linked, named])
        .filter(pl.col("created_ts") <= horizon.through)
        .sort(["created_ts", "acct", "role"])
        .with_row_index("customer")
        .with_columns(pl.col("customer").cast(pl.Int64))
    )
    return customers.with_columns(
        stripe_id=pl.Series(random_ids(rng, "cus_", customers.height, 14)),
        invoice_prefix=pl.Series(random_ids(rng, "", customers.height, 7)).str.to_uppercase(),
    )


def build_company(
    rng: np.random.Generator,
    n_customers: int,
    horizon: Horizon,
    anomaly_rate: float,
    entities: Sequence[int] | None = None,
) -> tuple[Timeline, dict[str, np.ndarray]]:
    """The timeline plus the account-level anomalies chosen before billing exists.

    ``entities``: indexes into ``ENTITIES`` the accounts are drawn in (``None``: all).
    Returns the timeline and ``{"closed_won_not_provisioned": accts, "duplicate_linked": accts,
    "duplicate_name": accts}`` (account indexes).
    """
    accounts = _describe_accounts(rng, build_accounts(rng, n_customers, horizon, entities))
    cust_accts = accounts.filter(pl.col("is_customer"))
    # Pools are drawn over the whole horizon (to ``through``); truth lists an anomaly only once
    # it is open at the export instant. Close dates are compared by UTC date:
    # CloseDate <= date(T - 7 days).
    seven_days_before = horizon.through - 7 * DAY
    eligible_np = cust_accts.filter((pl.col("close_ts") // DAY) <= (seven_days_before // DAY))[
        "acct"
    ].to_numpy()
    not_provisioned = pick(rng, eligible_np, anomaly_rate)
    settled = cust_accts.filter(
        (pl.col("close_ts") <= horizon.through - 40 * DAY)
        & ~pl.col("acct").is_in(not_provisioned.tolist())
    )["acct"].to_numpy()
    dups = pick(rng, settled, anomaly_rate)
    half = (len(dups) + 1) // 2
    dup_linked, dup_name = dups[:half], dups[half:]
    subs = build_subscriptions(
        rng, accounts, horizon, set(not_provisioned.tolist()), set(dup_linked.tolist())
    )
    changes = build_changes(rng, subs, horizon)
    cycles = build_cycles(subs, changes, horizon)
    usage_subs = build_usage_subs(subs, horizon)
    customers = _customers(rng, accounts, subs, dup_linked, dup_name, horizon)
    timeline = Timeline(accounts, customers, subs, changes, cycles, usage_subs)
    return timeline, {
        "closed_won_not_provisioned": not_provisioned,
        "duplicate_linked": dup_linked,
        "duplicate_name": dup_name,
    }
