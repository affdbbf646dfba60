"""Injected anomalies: one kind per reconciliation check, each recorded in truth.

Each injection picks about ``rate`` of the records eligible for its check (at least one when
the rate is positive) from pools kept disjoint, so one record never carries two unrelated
faults and every exception the pipeline should raise is listed in ``truth/exceptions.csv``.

Pools are drawn over the whole horizon (to ``through``). Each injected exception carries the
instants between which it is open (``since``, ``until``): a drop exported at an earlier
as-of lists only those open then (e.g. an unposted invoice once 2 days have passed since its
finalization; a late posting is ``invoice_not_posted`` until it arrives, ``posting_late``
from then on).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import polars as pl

from connectors.sandbox.billing import Billing
from connectors.sandbox.calendar import DAY, HOUR, month_index, month_start
from connectors.sandbox.company import pick
from connectors.sandbox.ids import random_ids
from connectors.sandbox.timeline import Horizon, Timeline

CHECK_IDS = (
    "closed_won_not_provisioned",
    "contract_billing_mismatch",
    "customer_unlinked",
    "duplicate_customer",
    "invoice_not_posted",
    "invoice_amount_mismatch",
    "posting_late",
    "posting_period_mismatch",
    "payment_not_posted",
    "payment_unapplied",
    "credit_note_not_posted",
    "erp_orphan_posting",
    "usage_not_billed",
)


ALWAYS = (-(1 << 62), 1 << 62)  # (since, until) of an exception open at every instant


class Truth:
    """Collects ``(check_id, record_id)`` pairs as anomalies are injected.

    Each pair is open over ``[since, until)`` (Unix seconds; default: always).
    """

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, int, int]] = []

    def add(
        self,
        check_id: str,
        record_ids: list[str],
        since: list[int] | np.ndarray | None = None,
        until: list[int] | np.ndarray | None = None,
    ) -> None:
        if check_id not in CHECK_IDS:
            raise ValueError(f"unknown check id {check_id!r}")
        n = len(record_ids)
        lo = [ALWAYS[0]] * n if since is None else [int(v) for v in since]
        hi = [ALWAYS[1]] * n if until is None else [int(v) for v in until]
        if not len(lo) == len(hi) == n:
            raise ValueError(f"{check_id}: since/until do not match the {n} record ids")
        self.rows.extend(zip([check_id] * n, record_ids, lo, hi, strict=True))

    def frame(self, as_of: int | None = None) -> pl.DataFrame:
        """``check_id, record_id`` of the exceptions open at ``as_of`` (all when ``None``)."""
        df = pl.DataFrame(
            self.rows,
            schema={
                "check_id": pl.String,
                "record_id": pl.String,
                "since": pl.Int64,
                "until": pl.Int64,
            },
            orient="row",
        )
        if as_of is not None:
            df = df.filter((pl.col("since") <= as_of) & (as_of < pl.col("until")))
        return df.select("check_id", "record_id").sort(["check_id", "record_id"])


def choose_unlinked_customers(
    rng: np.random.Generator, tl: Timeline, b: Billing, rate: float, avoid_accts: set[int]
) -> pl.DataFrame:
    """Primary Stripe customers whose CRM link gets lost or mistyped (``customer_unlinked``).

    Returns ``customer, how`` where how is ``missing`` or ``mistyped``.
    """
    finalized = b.invoices.filter(pl.col("status").is_in(["open", "paid", "uncollectible"]))
    eligible = (
        tl.customers.filter(
            (pl.col("role") == "primary") & ~pl.col("acct").is_in(list(avoid_accts))
        )
        .join(finalized.select("customer").unique(), on="customer")
        .sort("customer")["customer"]
        .to_numpy()
    )
    chosen = pick(rng, eligible, rate)
    how = np.where(rng.random(len(chosen)) < 0.5, "missing", "mistyped")
    return pl.DataFrame({"customer": chosen.astype("int64"), "how": how})


def mistype(sf_id: str) -> str:
    """A typo in the middle of an id: the character case flips, so it names no Account."""
    i = 9
    ch = sf_id[i]
    swapped = (
        ch.lower() if ch.isupper() else ch.upper() if ch.isalpha() else str((int(ch) + 1) % 10)
    )
    return sf_id[:i] + swapped + sf_id[i + 1 :]


def inject_postings(
    rng: np.random.Generator,
    plan: pl.DataFrame,
    b: Billing,
    horizon: Horizon,
    rate: float,
    truth: Truth,
) -> tuple[pl.DataFrame, set[int], list[tuple[str, int]]]:
    """Alter the ERP posting plan for the posting checks.

    Returns the altered plan, the charges whose payment is left unapplied, and markers
    ``(check_id, plan_row)`` for anomalies whose record id is a NetSuite transaction id (known
    only once the ERP numbers its transactions; open from the posting's ``created_ts``, or
    from its ``void_ts`` for a posting of an invoice voided later).
    """
    T = horizon.through
    two_days = 2 * DAY
    plan = plan.with_row_index("row").with_columns(pl.col("row").cast(pl.Int64))
    inv = plan.filter(pl.col("kind") == "CustInvc").join(
        b.invoices.select(pl.col("invoice").alias("src"), "finalized_at", "status"), on="src"
    )
    live_inv = inv.filter(
        pl.col("status").is_in(["open", "paid", "uncollectible"])
        & (pl.col("finalized_at") <= T - two_days)
    )
    pool = live_inv["src"].to_numpy()
    used: set[int] = set()

    def take(eligible: np.ndarray) -> np.ndarray:
        chosen = pick(rng, np.array([e for e in eligible if e not in used], dtype="int64"), rate)
        used.update(chosen.tolist())
        return chosen

    ext = dict(zip(inv["src"].to_list(), inv["externalid"].to_list(), strict=True))
    fin = dict(zip(inv["src"].to_list(), inv["finalized_at"].to_list(), strict=True))
    posted_at = dict(zip(inv["src"].to_list(), inv["created_ts"].to_list(), strict=True))
    not_posted = take(pool)
    truth.add(
        "invoice_not_posted",
        [ext[i] for i in not_posted],
        since=[fin[i] + two_days for i in not_posted],
    )
    mismatch = take(pool)
    truth.add(
        "invoice_amount_mismatch",
        [ext[i] for i in mismatch],
        since=[posted_at[i] for i in mismatch],
    )
    late_ok = live_inv.filter(pl.col("finalized_at") + 3 * DAY <= T)["src"].to_numpy()
    late = take(late_ok)
    period = take(pool)
    void_posted = inv.filter(pl.col("status") == "void")["src"].to_numpy()
    void_open = pick(rng, void_posted, rate)

    # Invoice-level changes to the plan.
    late_lag = {
        int(i): int(rng.integers(2 * DAY + HOUR, min(10 * DAY, T - fin[i]) + 1)) for i in late
    }
    # A late posting: the invoice is unposted from 2 days after finalization until it arrives.
    late_ids = [ext[i] for i in late]
    late_arrives = [fin[i] + late_lag[int(i)] for i in late]
    truth.add("posting_late", late_ids, since=late_arrives)
    truth.add(
        "invoice_not_posted",
        late_ids,
        since=[fin[i] + two_days for i in late],
        until=late_arrives,
    )
    how = rng.integers(0, 3, len(mismatch))
    mismatch_kind = dict(zip(mismatch.tolist(), how.tolist(), strict=True))
    other = {"USD": "EUR", "GBP": "USD", "EUR": "GBP"}
    is_inv = pl.col("kind") == "CustInvc"
    plan = plan.filter(~(is_inv & pl.col("src").is_in(not_posted.tolist())))
    mk = pl.col("src").replace_strict(mismatch_kind, default=-1, return_dtype=pl.Int64)
    plan = plan.with_columns(
        amount=pl.when(is_inv & (mk == 0))
        .then(pl.col("amount") + 1000)
        .when(is_inv & (mk == 1))
        .then(pl.col("amount") * 9 // 10)
        .otherwise("amount"),
        currency_override=pl.when(is_inv & (mk == 2))
        .then(pl.col("currency").replace_strict(other))
        .otherwise(None),
        created_ts=pl.when(is_inv & pl.col("src").is_in(list(late_lag)))
        .then(
            pl.col("event_ts")
            + pl.col("src").replace_strict(late_lag, default=0, return_dtype=pl.Int64)
        )
        .otherwise("created_ts"),
        period_shift=pl.when(is_inv & pl.col("src").is_in(period.tolist()))
        .then(1)
        .otherwise(0)
        .cast(pl.Int64),
        voided=pl.when(is_inv & pl.col("src").is_in(void_open.tolist()))
        .then(False)
        .otherwise("voided"),
    )
    # A shifted period never runs past the last generated period: shift back instead then.
    last_month = int(month_index(np.array([T]))[0])
    plan = plan.with_columns(
        period_shift=pl.when(
            (pl.col("period_shift") == 1)
            & (
                pl.from_epoch("trandate_ts", time_unit="s").dt.month_start().dt.epoch("s")
                >= int(month_start(last_month))
            )
        )
        .then(-1)
        .otherwise("period_shift")
        .cast(pl.Int64)
    )
    markers = [
        ("posting_period_mismatch", r)
        for r in plan.filter(is_inv & (pl.col("period_shift") != 0))["row"].to_list()
    ]
    markers += [
        ("erp_orphan_posting", r)
        for r in plan.filter(is_inv & pl.col("src").is_in(void_open.tolist()))["row"].to_list()
    ]

    # Payments: never posted, or posted but never applied to the posted invoice.
    pay = (
        plan.filter(pl.col("kind") == "CustPymt")
        .join(b.charges.select(pl.col("charge").alias("src"), "invoice", "created"), on="src")
        .filter(~pl.col("invoice").is_in(list(used)) & (pl.col("created") <= T - two_days))
    )
    ch_ext = dict(zip(pay["src"].to_list(), pay["externalid"].to_list(), strict=True))
    charged = dict(zip(pay["src"].to_list(), pay["created"].to_list(), strict=True))
    pay_not_posted = pick(rng, pay["src"].to_numpy(), rate)
    truth.add(
        "payment_not_posted",
        [ch_ext[c] for c in pay_not_posted],
        since=[charged[c] + two_days for c in pay_not_posted],
    )
    posted_invoices = plan.filter(is_inv)["src"].to_list()
    unapplied_pool = pay.filter(
        ~pl.col("src").is_in(pay_not_posted.tolist()) & pl.col("invoice").is_in(posted_invoices)
    )["src"].to_numpy()
    unapplied = pick(rng, unapplied_pool, rate)
    # Unapplied once both postings exist (a late invoice posting may come after the payment's).
    inv_posted = dict(
        zip(
            plan.filter(is_inv)["src"].to_list(),
            plan.filter(is_inv)["created_ts"].to_list(),
            strict=True,
        )
    )
    pay_rows = pay.filter(pl.col("src").is_in(unapplied.tolist()))
    both_posted = dict(
        zip(
            pay_rows["src"].to_list(),
            [
                max(p, inv_posted[i])
                for p, i in zip(
                    pay_rows["created_ts"].to_list(), pay_rows["invoice"].to_list(), strict=True
                )
            ],
            strict=True,
        )
    )
    truth.add(
        "payment_unapplied",
        [ch_ext[c] for c in unapplied],
        since=[both_posted[c] for c in unapplied],
    )
    plan = plan.filter(
        ~((pl.col("kind") == "CustPymt") & pl.col("src").is_in(pay_not_posted.tolist()))
    )

    # Credit notes never posted.
    cn = (
        plan.filter(pl.col("kind") == "CustCred")
        .join(b.credit_notes.select(pl.col("credit_note").alias("src"), "effective_at"), on="src")
        .filter(pl.col("effective_at") <= T - two_days)
    )
    cn_ext = dict(zip(cn["src"].to_list(), cn["externalid"].to_list(), strict=True))
    effective = dict(zip(cn["src"].to_list(), cn["effective_at"].to_list(), strict=True))
    cn_missing = pick(rng, cn["src"].to_numpy(), rate)
    truth.add(
        "credit_note_not_posted",
        [cn_ext[c] for c in cn_missing],
        since=[effective[c] + two_days for c in cn_missing],
    )
    plan = plan.filter(~((pl.col("kind") == "CustCred") & pl.col("src").is_in(cn_missing.tolist())))

    # Orphans: postings whose externalid names nothing in Stripe (or the wrong kind of thing).
    plan, orphan_rows = _orphans(rng, plan, b, horizon, rate)
    markers += [("erp_orphan_posting", r) for r in orphan_rows]
    return plan, set(unapplied.tolist()), markers


def _orphans(
    rng: np.random.Generator, plan: pl.DataFrame, b: Billing, horizon: Horizon, rate: float
) -> tuple[pl.DataFrame, list[int]]:
    if rate <= 0:
        return plan, []
    n = max(1, round(rate * plan.filter(pl.col("kind") == "CustInvc").height / 4))
    base = plan.filter(pl.col("created_ts") <= horizon.through - DAY).sample(
        n, seed=int(rng.integers(1 << 31)), with_replacement=True
    )
    kinds = rng.choice(["CustInvc", "CustPymt", "CustCred", "wrong_kind"], size=n)
    fake_in = random_ids(rng, "in_", n, 24)
    fake_ch = random_ids(rng, "ch_", n, 24)
    fake_cn = random_ids(rng, "cn_", n, 24)
    real_invoice_ids = b.invoices["invoice_id"].to_list()
    ext, kind = [], []
    for i, k in enumerate(kinds.tolist()):
        if k == "wrong_kind":  # a payment recorded against an invoice id
            kind.append("CustPymt")
            ext.append(real_invoice_ids[int(rng.integers(0, len(real_invoice_ids)))])
        else:
            kind.append(k)
            ext.append({"CustInvc": fake_in, "CustPymt": fake_ch, "CustCred": fake_cn}[k][i])
    first_row = cast(int, plan["row"].max()) + 1  # an Int64 column: an int
    rows = list(range(first_row, first_row + n))
    orphans = base.with_columns(
        row=pl.Series(rows, dtype=pl.Int64),
        kind=pl.Series(kind),
        src=pl.lit(-1, dtype=pl.Int64),
        externalid=pl.Series(ext),
        created_ts=pl.col("created_ts") + 3600,
        voided=pl.lit(False),
        period_shift=pl.lit(0, dtype=pl.Int64),
        currency_override=pl.lit(None, dtype=pl.String),
        stripe_status=pl.lit("open"),
        void_ts=pl.lit(None, dtype=pl.Int64),
    )
    return pl.concat([plan, orphans.select(plan.columns)]), rows


def inject_unbilled_usage(
    rng: np.random.Generator, b: Billing, tl: Timeline, horizon: Horizon, rate: float, truth: Truth
) -> pl.DataFrame:
    """Usage events reported late for a billed month (they never reach an invoice).

    Returns the meter events with the extra events added.
    """
    usage_inv = b.invoices.filter((pl.col("src") == "usage") & (pl.col("status") != "void")).join(
        b.lines.select("invoice", "period_start", "quantity"), on="invoice"
    )
    ended = month_start(usage_inv["k"].to_numpy() + 1) <= horizon.through - 2 * DAY
    eligible = usage_inv.filter(pl.Series(ended) & (pl.col("quantity") > 0))
    chosen_idx = pick(rng, np.arange(eligible.height), rate)
    chosen = eligible[chosen_idx.tolist()] if len(chosen_idx) else eligible.clear()
    extra_value = np.ceil(
        chosen["quantity"].to_numpy() * rng.uniform(0.05, 0.2, chosen.height)
    ).astype("int64")
    m_start = month_start(chosen["k"].to_numpy())
    m_end = np.minimum(month_start(chosen["k"].to_numpy() + 1), horizon.through)
    ts = np.maximum(m_start, chosen["period_start"].to_numpy()) + (
        rng.random(chosen.height) * (m_end - np.maximum(m_start, chosen["period_start"].to_numpy()))
    ).astype("int64")
    extra = pl.DataFrame(
        {
            "usage_sub": chosen["usage_sub"],
            "customer": chosen["customer"],
            "ts": ts,
            "value": extra_value,
        }
    )
    ids = tl.customers.select("customer", "stripe_id")
    labels = (
        chosen.join(ids, on="customer", maintain_order="left")
        .select(
            pl.concat_str(
                "stripe_id",
                pl.lit(":"),
                pl.from_epoch(pl.col("period_start"), time_unit="s").dt.strftime("%Y-%m"),
            )
        )
        .to_series()
        .to_list()
    )
    # Open once the month ended 2 days ago (by then the invoice billed the rest of the month).
    truth.add("usage_not_billed", labels, since=month_start(chosen["k"].to_numpy() + 1) + 2 * DAY)
    return pl.concat([b.meter_events, extra.cast(b.meter_events.schema)]).sort(["ts", "usage_sub"])
