"""The company's underlying truth: accounts, Stripe customers and subscription timelines.

Everything the three systems export is derived from the tables built here, and
``truth/mrr.csv`` is computed from them (``truth.py``), not from the exported invoices.

Tables (polars, one row per …):
- ``accounts``: CRM account (customers, and prospects that never bought).
- ``customers``: Stripe customer (primary, duplicate linked to the same account, or an
  unlinked duplicate that only shares the email domain and a name variant).
- ``subs``: licensed subscription (primary, reactivation after churn, add-on sold by an
  Expansion opportunity, self-serve signup on a duplicate customer).
- ``changes``: self-serve seat or plan change inside a billing cycle (creates prorations).
- ``cycles``: billed cycle of a licensed subscription with the state billed for it.
- ``usage_subs``: metered subscription, billed monthly in arrears by calendar month.

All instants are Unix seconds (UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from connectors.sandbox.calendar import DAY, HOUR, add_months, clamp_to_day_28, day_of_month
from connectors.sandbox.catalog import ENTITY_WEIGHTS, INTERVAL_WEIGHTS, PLAN_WEIGHTS, PLANS


@dataclass(frozen=True)
class Horizon:
    """The generated span and the export instant.

    The company is drawn over ``[start, through]`` (every random draw, every id); the drop shows
    it as seen at ``as_of`` (``<= through``): what happens after ``as_of`` is not exported.
    Drops with the same seed, size and ``through`` are one company seen at several instants.
    """

    start: int  # first instant of the first generated month (``months`` before through's month)
    as_of: int  # exported_at: nothing after it is visible in the drop
    months: int
    through: int  # end of the generated timeline (>= as_of)


@dataclass
class Timeline:
    accounts: pl.DataFrame
    customers: pl.DataFrame
    subs: pl.DataFrame
    changes: pl.DataFrame
    cycles: pl.DataFrame
    usage_subs: pl.DataFrame


# Subscription kinds.
PRIMARY, REACTIVATION, ADDON, DUPLICATE = "primary", "reactivation", "addon", "duplicate"


def _geometric_cycles(rng: np.random.Generator, interval_months: np.ndarray) -> np.ndarray:
    """Billed cycles before a voluntary cancellation: ~2.5% monthly churn hazard."""
    monthly_survival = 0.975
    p_end = 1.0 - monthly_survival ** interval_months.astype(float)
    return rng.geometric(p_end)


def build_accounts(
    rng: np.random.Generator,
    n: int,
    horizon: Horizon,
    entities: Sequence[int] | None = None,
) -> pl.DataFrame:
    """Customer accounts (index ``0..n-1``) and prospect accounts (``n..``).

    ``entities``: the indexes into ``ENTITIES`` accounts are drawn in (their relative weights
    kept); ``None`` draws in every entity.
    """
    n_prospects = max(1, n // 5)
    total = n + n_prospects
    if entities is None:
        entity = rng.choice(len(ENTITY_WEIGHTS), size=total, p=ENTITY_WEIGHTS)
    else:
        chosen = np.array(sorted(set(entities)), dtype="int64")
        weights = ENTITY_WEIGHTS[chosen] / ENTITY_WEIGHTS[chosen].sum()
        entity = rng.choice(chosen, size=total, p=weights)
    span = horizon.through - horizon.start
    # New-business close instants spread over the horizon (the company grows).
    close = horizon.start + (rng.random(total) ** 0.8 * span).astype("int64")
    created = close - rng.integers(7, 90, size=total) * DAY - rng.integers(0, DAY, size=total)
    return pl.DataFrame(
        {
            "acct": np.arange(total, dtype="int64"),
            "is_customer": np.arange(total) < n,
            "entity_idx": entity,
            "created_ts": created,
            "close_ts": close,
        }
    )


def _draw_primary(
    rng: np.random.Generator, accounts: pl.DataFrame, horizon: Horizon
) -> pl.DataFrame:
    """One primary subscription per customer account (before provisioning filters)."""
    cust = accounts.filter(pl.col("is_customer"))
    n = cust.height
    ims = np.array(list(INTERVAL_WEIGHTS))
    im = rng.choice(ims, size=n, p=np.array(list(INTERVAL_WEIGHTS.values())))
    plan = rng.choice(len(PLANS), size=n, p=PLAN_WEIGHTS)
    lo = np.array([PLANS[p].seats[0] for p in plan])
    hi = np.array([PLANS[p].seats[1] for p in plan])
    seats = rng.integers(lo, hi + 1)
    close = cust["close_ts"].to_numpy()
    wanted = close + rng.integers(1, 6, size=n) * DAY + rng.integers(0, DAY, n)
    # Anchors stay on days 1-28; rather than slip a start on the 29th-31st to the next 1st
    # (which could exceed the 7-day provisioning SLA), provision a minute after the close.
    slips = (day_of_month(wanted) > 28) & (day_of_month(close) <= 28)
    start = clamp_to_day_28(np.where(slips, close + 60, wanted))
    has_trial = rng.random(n) < 0.2
    trial_end = clamp_to_day_28(start + 14 * DAY)
    converts = rng.random(n) < 0.7
    b0 = np.where(has_trial, trial_end, start)
    n_cycles = np.where(has_trial & ~converts, 0, _geometric_cycles(rng, im))
    # Coupons: 15% get percent-off for their first cycles; 1% are free forever (100% off).
    coupon_draw = rng.random(n)
    pct = np.where(coupon_draw < 0.15, rng.choice([10, 20, 25, 50], size=n), 0)
    coupon_cycles = np.where(
        pct > 0, np.select([im == 1, im == 3], [rng.choice([3, 6], n), 1], 1), 0
    )
    free = coupon_draw > 0.99
    pct = np.where(free, 100, pct)
    coupon_cycles = np.where(free, 10_000, coupon_cycles)
    # Involuntary churn: a cycle invoice that is never paid (marked uncollectible).
    inv_churn = (rng.random(n) < 0.06) & (n_cycles >= 4) & ~free
    k_inv = np.where(inv_churn, rng.integers(2, np.maximum(n_cycles, 3)), -1)
    n_cycles = np.where(inv_churn, k_inv + 1, n_cycles)
    return pl.DataFrame(
        {
            "acct": cust["acct"],
            "kind": PRIMARY,
            "plan_idx": plan,
            "im": im,
            "seats0": seats,
            "start_ts": start,
            "trial_end_ts": pl.Series(np.where(has_trial, trial_end, 0)).replace(0, None),
            "b0": b0,
            "n_cycles": n_cycles,
            "coupon_pct": pct,
            "coupon_cycles": coupon_cycles,
            "k_inv": k_inv,
            "has_usage": rng.random(n) < 0.08,
            "has_onboarding": rng.random(n) < 0.3,
        }
    )


def _end_instants(subs: pl.DataFrame) -> pl.DataFrame:
    """Add ``end_ts``: when the subscription stops (period end, trial end, or uncollectible)."""
    b0 = subs["b0"].to_numpy()
    im = subs["im"].to_numpy()
    n = subs["n_cycles"].to_numpy()
    k_inv = subs["k_inv"].to_numpy()
    voluntary_end = add_months(b0, n * im)
    inv_p0 = add_months(b0, np.maximum(k_inv, 0) * im)
    end = np.where(k_inv >= 0, inv_p0 + HOUR + 21 * DAY, voluntary_end)
    return subs.with_columns(end_ts=pl.Series(end, dtype=pl.Int64))


def _reactivations(
    rng: np.random.Generator, primary: pl.DataFrame, horizon: Horizon
) -> pl.DataFrame:
    """Some churned customers come back after a gap with a new subscription."""
    ended = primary.filter(
        (pl.col("end_ts") <= horizon.through - 30 * DAY) & (pl.col("n_cycles") > 0)
    )
    pick = rng.random(ended.height) < 0.4
    back = ended.filter(pl.Series(pick))
    n = back.height
    gap_months = rng.integers(1, 5, size=n)
    start = clamp_to_day_28(
        add_months(back["end_ts"].to_numpy(), gap_months) + rng.integers(0, 20, n) * DAY
    )
    im = np.where(back["im"].to_numpy() == 12, 12, 1)
    lo = np.maximum(1, (back["seats0"].to_numpy() * 0.5).astype("int64"))
    seats = rng.integers(lo, back["seats0"].to_numpy() + 2)
    return pl.DataFrame(
        {
            "acct": back["acct"],
            "kind": REACTIVATION,
            "plan_idx": back["plan_idx"],
            "im": im,
            "seats0": seats,
            "start_ts": start,
            "trial_end_ts": pl.Series([None] * n, dtype=pl.Int64),
            "b0": start,
            "n_cycles": _geometric_cycles(rng, im),
            "coupon_pct": np.zeros(n, dtype="int64"),
            "coupon_cycles": np.zeros(n, dtype="int64"),
            "k_inv": np.full(n, -1),
            "has_usage": np.zeros(n, dtype=bool),
            "has_onboarding": np.zeros(n, dtype=bool),
        }
    ).filter(pl.col("start_ts") <= horizon.through)


def _concurrent(
    rng: np.random.Generator, primary: pl.DataFrame, kind: str, share: float
) -> pl.DataFrame:
    """Monthly subscriptions running inside a primary's lifetime (add-ons, duplicate signups).

    Half of them stop before the primary does (a cancellation while another subscription of
    the same customer stays active: contraction, not churn).
    """
    paid = primary.filter(pl.col("n_cycles") > 0)
    months_alive = ((paid["end_ts"] - paid["b0"]) // (30 * DAY)).to_numpy()
    pick = (rng.random(paid.height) < share) & (months_alive >= 5)
    base = paid.filter(pl.Series(pick))
    alive = months_alive[pick]
    n = base.height
    offset = rng.integers(2, np.maximum(alive - 2, 3))
    start = clamp_to_day_28(
        add_months(base["b0"].to_numpy(), offset) + rng.integers(0, 20, n) * DAY
    )
    room = np.maximum(alive - offset - 1, 1)
    cycles = np.where(rng.random(n) < 0.5, room, rng.integers(1, room + 1))
    return pl.DataFrame(
        {
            "acct": base["acct"],
            "kind": kind,
            "plan_idx": base["plan_idx"],
            "im": np.ones(n, dtype="int64"),
            "seats0": rng.integers(1, 11, size=n),
            "start_ts": start,
            "trial_end_ts": pl.Series([None] * n, dtype=pl.Int64),
            "b0": start,
            "n_cycles": cycles,
            "coupon_pct": np.zeros(n, dtype="int64"),
            "coupon_cycles": np.zeros(n, dtype="int64"),
            "k_inv": np.full(n, -1),
            "has_usage": np.zeros(n, dtype=bool),
            "has_onboarding": np.zeros(n, dtype=bool),
            "parent_end_ts": base["end_ts"],
        }
    )


def build_subscriptions(
    rng: np.random.Generator,
    accounts: pl.DataFrame,
    horizon: Horizon,
    unprovisioned_accts: set[int],
    duplicate_accts: set[int],
) -> pl.DataFrame:
    """All licensed subscriptions, numbered ``sub``, in creation order."""
    primary = _draw_primary(rng, accounts, horizon)
    # Deals closed but not provisioned: those still inside the provisioning delay (start after
    # as-of) and the injected `closed_won_not_provisioned` anomalies.
    primary = primary.filter(
        (pl.col("start_ts") <= horizon.through) & ~pl.col("acct").is_in(list(unprovisioned_accts))
    )
    primary = _end_instants(primary)
    react = _end_instants(_reactivations(rng, primary, horizon))
    addons = _concurrent(rng, primary, ADDON, 0.12)
    dups = _concurrent(
        rng, primary.filter(pl.col("acct").is_in(list(duplicate_accts))), DUPLICATE, 1.0
    )
    extra = pl.concat([addons, dups], how="vertical")
    extra = _end_instants(extra).filter(pl.col("start_ts") <= horizon.through)
    # An add-on never outlives its primary (an uncollectible primary ends everything).
    extra = extra.filter(pl.col("end_ts") <= pl.col("parent_end_ts")).drop("parent_end_ts")
    subs = pl.concat([primary, react, extra], how="vertical").sort(["start_ts", "acct", "kind"])
    return subs.with_row_index("sub").with_columns(pl.col("sub").cast(pl.Int64))


def build_changes(rng: np.random.Generator, subs: pl.DataFrame, horizon: Horizon) -> pl.DataFrame:
    """Self-serve seat and plan changes inside billing cycles (at most one per cycle).

    Constraints that keep the sandbox's books exact and its truth unambiguous: no change
    before the third month (so the contract check's first full month is unaffected) or while a
    coupon applies, never in a subscription's last cycle or in the cycle before an unpaid one,
    and only in cycles that ended at least a day before the horizon's end (their prorations
    are billed by then; a drop exported earlier shows a change once its prorations are).
    Annual and quarterly terms only grow (their prorations are invoiced at once); monthly
    plans may shrink by at most 30%.
    """
    eligible = subs.filter(
        pl.col("kind").is_in([PRIMARY, REACTIVATION]) & (pl.col("n_cycles") >= 3)
    )
    rows = []
    for draw in range(2):
        n = eligible.height
        wants = rng.random(n) < (0.4 if draw == 0 else 0.25)
        im = eligible["im"].to_numpy()
        kmin = np.maximum(
            eligible["coupon_cycles"].to_numpy(), np.select([im == 1, im == 3], [3, 1], 0)
        )
        last_ok = eligible["n_cycles"].to_numpy() - np.where(
            eligible["k_inv"].to_numpy() >= 0, 3, 2
        )
        k = kmin + (rng.random(n) * np.maximum(last_ok - kmin + 1, 0)).astype("int64")
        b0 = eligible["b0"].to_numpy()
        p0 = add_months(b0, k * im)
        p1 = add_months(b0, (k + 1) * im)
        u = rng.uniform(0.2, 0.9, size=n)
        c = p0 + ((p1 - p0) * u).astype("int64")
        ok = wants & (k <= last_ok) & (p1 + DAY <= horizon.through)
        kind_draw = rng.random(n)
        rows.append(
            pl.DataFrame(
                {
                    "sub": eligible["sub"],
                    "k": k,
                    "c_ts": c,
                    "p0": p0,
                    "p1": p1,
                    "kind_draw": kind_draw,
                    "size_draw": rng.random(n),
                }
            ).filter(pl.Series(ok))
        )
    changes = (
        pl.concat(rows)
        .unique(subset=["sub", "k"], keep="first", maintain_order=True)
        .join(subs.select("sub", "im", "plan_idx", "seats0"), on="sub")
        .sort(["sub", "k"])
    )
    # Apply changes in order: each starts from the state the previous one left.
    out = []
    state = changes.group_by("sub", maintain_order=True).agg(
        pl.col("plan_idx").first(), pl.col("seats0").first().alias("seats")
    )
    changes = changes.with_columns(rank=pl.int_range(pl.len()).over("sub"))
    for rank in range(2):
        step = changes.filter(pl.col("rank") == rank).join(state, on="sub", suffix="_now")
        plan_b = step["plan_idx_now"].to_numpy()
        seats_b = step["seats"].to_numpy()
        monthly = step["im"].to_numpy() == 1
        kd = step["kind_draw"].to_numpy()
        sd = step["size_draw"].to_numpy()
        plan_up = (kd < 0.2) & (plan_b < len(PLANS) - 1)
        seats_down = monthly & ~plan_up & (kd > 0.7)
        up = np.ceil(seats_b * (0.1 + 0.4 * sd)).astype("int64")
        down = np.floor(seats_b * (0.1 + 0.2 * sd)).astype("int64")
        plan_a = np.where(plan_up, plan_b + 1, plan_b)
        seats_a = np.where(plan_up, seats_b, np.where(seats_down, seats_b - down, seats_b + up))
        step = step.with_columns(
            plan_before=pl.Series(plan_b),
            seats_before=pl.Series(seats_b),
            plan_after=pl.Series(plan_a),
            seats_after=pl.Series(seats_a),
        ).filter(
            (pl.col("plan_after") != pl.col("plan_before"))
            | (pl.col("seats_after") != pl.col("seats_before"))
        )
        out.append(step)
        state = pl.concat(
            [
                state.join(step.select("sub"), on="sub", how="anti"),
                step.select(
                    "sub",
                    pl.col("plan_after").alias("plan_idx"),
                    pl.col("seats_after").alias("seats"),
                ),
            ]
        )
    return (
        pl.concat(out)
        .select(
            "sub",
            "k",
            "c_ts",
            "p0",
            "p1",
            "plan_before",
            "seats_before",
            "plan_after",
            "seats_after",
        )
        .sort(["sub", "k"])
    )


def build_cycles(subs: pl.DataFrame, changes: pl.DataFrame, horizon: Horizon) -> pl.DataFrame:
    """Every billed cycle whose invoice exists by the horizon's end, with the state it bills."""
    exploded = (
        subs.select(
            "sub",
            "b0",
            "im",
            "plan_idx",
            "seats0",
            "coupon_pct",
            "coupon_cycles",
            "k_inv",
            pl.int_ranges(0, pl.col("n_cycles"), dtype=pl.Int64).alias("k"),
        )
        .explode("k", empty_as_null=False)
        .drop_nulls("k")
    )
    b0 = exploded["b0"].to_numpy()
    k = exploded["k"].to_numpy()
    im = exploded["im"].to_numpy()
    cycles = exploded.with_columns(
        p0=pl.Series(add_months(b0, k * im)), p1=pl.Series(add_months(b0, (k + 1) * im))
    ).filter(pl.col("p0") <= horizon.through)
    # State billed for cycle k: after the last change made in a cycle before k.
    after = changes.select(
        "sub", (pl.col("k") + 1).alias("k_eff"), "plan_after", "seats_after"
    ).sort("k_eff")
    cycles = (
        cycles.sort("k")
        .join_asof(
            after,
            left_on="k",
            right_on="k_eff",
            by="sub",
            strategy="backward",
            check_sortedness=False,
        )
        .with_columns(
            plan_idx=pl.coalesce("plan_after", "plan_idx"),
            seats=pl.coalesce("seats_after", "seats0"),
            pct=pl.when(pl.col("k") < pl.col("coupon_cycles")).then("coupon_pct").otherwise(0),
            is_uncollectible_cycle=pl.col("k") == pl.col("k_inv"),
        )
        .select("sub", "k", "p0", "p1", "im", "plan_idx", "seats", "pct", "is_uncollectible_cycle")
        .sort(["sub", "k"])
    )
    return cycles


def build_usage_subs(subs: pl.DataFrame, horizon: Horizon) -> pl.DataFrame:
    """Metered subscriptions beside the primary plan, from its first paid day to its end."""
    return (
        subs.filter(
            pl.col("has_usage") & (pl.col("n_cycles") > 0) & (pl.col("b0") <= horizon.through)
        )
        .select(
            pl.col("sub").alias("licensed_sub"),
            "acct",
            pl.col("b0").alias("start_ts"),
            "end_ts",
        )
        .with_row_index("usage_sub")
        .with_columns(pl.col("usage_sub").cast(pl.Int64))
    )


def timeline_at(tl: Timeline, as_of: int) -> Timeline:
    """The timeline as seen at ``as_of`` (``<= through``): only what exists by then.

    Customers created, subscriptions started, changes made, cycles invoiced (a cycle's invoice
    is created at its start) and metered subscriptions started by ``as_of``. Accounts stay
    whole: they are a lookup table here (the CRM export cuts them by creation itself).
    """
    return Timeline(
        accounts=tl.accounts,
        customers=tl.customers.filter(pl.col("created_ts") <= as_of),
        subs=tl.subs.filter(pl.col("start_ts") <= as_of),
        changes=tl.changes.filter(pl.col("c_ts") <= as_of),
        cycles=tl.cycles.filter(pl.col("p0") <= as_of),
        usage_subs=tl.usage_subs.filter(pl.col("start_ts") <= as_of),
    )
