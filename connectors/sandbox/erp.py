"""NetSuite records as SuiteQL returns them: every value a string, NULL columns omitted.

The integration posts each finalized Stripe invoice as a CustInvc, each succeeded charge as
a CustPymt applied to its invoice, and each credit note as a CustCred, with a realistic lag
(most within an hour or two, all within 48 hours). ``posting_plan`` lists those postings;
anomalies alter the plan; ``build_erp`` writes the tables from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from connectors.sandbox.billing import Billing, invoice_status_at
from connectors.sandbox.calendar import DAY, HOUR, month_index, month_start
from connectors.sandbox.catalog import CURRENCIES, CURRENCY_IDS, CURRENCY_NAMES, ENTITIES, Catalog
from connectors.sandbox.timeline import Horizon, Timeline

LINKS = pl.lit([], dtype=pl.List(pl.String))

ACCOUNTS = (
    # id, acctnumber, fullname, accttype
    (1, "1000", "Operating Bank", "Bank"),
    (2, "1100", "Accounts Receivable", "AcctRec"),
    (3, "2000", "Accrued Liabilities", "OthCurrLiab"),
    (4, "2400", "Deferred Revenue", "DeferRevenue"),
    (5, "4000", "Subscription Revenue", "Income"),
    (6, "4100", "Usage Revenue", "Income"),
    (7, "4200", "Professional Services Revenue", "Income"),
    (8, "6000", "Payroll Expense", "Expense"),
)
BANK, AR, ACCRUED, _DEFERRED, SUB_REV, USAGE_REV, SERVICES_REV, PAYROLL = (a[0] for a in ACCOUNTS)


@dataclass
class ErpFrames:
    subsidiary: pl.DataFrame
    currency: pl.DataFrame
    currencyrate: pl.DataFrame
    accountingperiod: pl.DataFrame
    account: pl.DataFrame
    customer: pl.DataFrame
    transaction: pl.DataFrame
    transactionline: pl.DataFrame
    transactionaccountingline: pl.DataFrame
    previoustransactionlinelink: pl.DataFrame


def ns_decimal(value: pl.Expr, scale: int) -> pl.Expr:
    """Integer ``value`` in units of 10**-scale as NetSuite prints it: no trailing zeros.

    ``123450`` at scale 2 -> ``"1234.5"``; ``-5000`` -> ``"-50"``.
    """
    sign = pl.when(value < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    absval = value.abs()
    whole = (absval // 10**scale).cast(pl.String)
    frac = (absval % 10**scale).cast(pl.String).str.zfill(scale).str.strip_chars_end("0")
    return pl.concat_str(
        sign, whole, pl.when(frac == "").then(pl.lit("")).otherwise(pl.lit(".") + frac)
    )


def ns_timestamp(col: str | pl.Expr) -> pl.Expr:
    c = pl.col(col) if isinstance(col, str) else col
    return pl.from_epoch(c, time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")


def ns_date(col: str | pl.Expr) -> pl.Expr:
    c = pl.col(col) if isinstance(col, str) else col
    return pl.from_epoch(c, time_unit="s").dt.strftime("%Y-%m-%d")


def tf(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr).then(pl.lit("T")).otherwise(pl.lit("F"))


def posting_lags(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds from the Stripe event to the ERP posting: 90% within 6 hours, all under 48."""
    fast = rng.integers(60, 6 * HOUR, n)
    slow = rng.integers(6 * HOUR, 40 * HOUR, n)
    return np.where(rng.random(n) < 0.9, fast, slow)


def posting_plan(
    rng: np.random.Generator, tl: Timeline, b: Billing, horizon: Horizon
) -> pl.DataFrame:
    """Every posting the integration makes by the horizon's end, before any anomaly.

    Columns: kind, src (invoice/charge/credit note key), customer, currency, amount (minor
    units, positive), event_ts, created_ts, trandate_ts, voided, externalid, stripe_status,
    void_ts (when the posted invoice gets voided; ``build_erp`` shows it voided from then on).
    """
    T = horizon.through
    inv = b.invoices.filter((pl.col("status") != "draft") & (pl.col("total") != 0))
    lag = posting_lags(rng, inv.height)
    inv = inv.with_columns(created_ts=pl.col("finalized_at") + pl.Series(lag)).filter(
        # A voided invoice is posted only when the integration saw it before the void.
        pl.col("voided_at").is_null() | (pl.col("created_ts") < pl.col("voided_at"))
    )
    invoices = inv.select(
        pl.lit("CustInvc").alias("kind"),
        pl.col("invoice").alias("src"),
        "customer",
        "currency",
        pl.col("total").alias("amount"),
        pl.col("finalized_at").alias("event_ts"),
        "created_ts",
        pl.col("finalized_at").alias("trandate_ts"),
        pl.col("voided_at").is_not_null().alias("voided"),
        pl.col("invoice_id").alias("externalid"),
        pl.col("status").alias("stripe_status"),
        pl.col("voided_at").alias("void_ts"),
    )
    ch = b.charges.filter(pl.col("status") == "succeeded")
    payments = ch.with_columns(
        created_ts=pl.col("created") + pl.Series(posting_lags(rng, ch.height))
    ).select(
        pl.lit("CustPymt").alias("kind"),
        pl.col("charge").alias("src"),
        "customer",
        "currency",
        "amount",
        pl.col("created").alias("event_ts"),
        "created_ts",
        pl.col("created").alias("trandate_ts"),
        pl.lit(False).alias("voided"),
        pl.col("charge_id").alias("externalid"),
        pl.lit("succeeded").alias("stripe_status"),
        pl.lit(None, dtype=pl.Int64).alias("void_ts"),
    )
    cn = b.credit_notes
    credits = cn.with_columns(
        created_ts=pl.col("effective_at") + pl.Series(posting_lags(rng, cn.height))
    ).select(
        pl.lit("CustCred").alias("kind"),
        pl.col("credit_note").alias("src"),
        "customer",
        "currency",
        "amount",
        pl.col("effective_at").alias("event_ts"),
        "created_ts",
        pl.col("effective_at").alias("trandate_ts"),
        pl.lit(False).alias("voided"),
        pl.col("cn_id").alias("externalid"),
        pl.lit("issued").alias("stripe_status"),
        pl.lit(None, dtype=pl.Int64).alias("void_ts"),
    )
    plan = pl.concat([invoices, payments, credits]).filter(pl.col("created_ts") <= T)
    return plan.with_columns(
        period_shift=pl.lit(0, dtype=pl.Int64), currency_override=pl.lit(None, dtype=pl.String)
    )


def _periods(horizon: Horizon) -> pl.DataFrame:
    """Monthly posting periods, with their quarters and years, covering the horizon.

    Periods exist to the month after the horizon's end; those before the as-of month's
    predecessor are closed at as-of.
    """
    m0 = int(month_index(np.array([horizon.start]))[0]) - 3
    m1 = int(month_index(np.array([horizon.through]))[0]) + 1
    months = np.arange(m0, m1 + 1)
    start = month_start(months)
    end = month_start(months + 1) - DAY
    closed_before = month_start(np.array([int(month_index(np.array([horizon.as_of]))[0]) - 1]))[0]
    monthly = pl.DataFrame({"m": months, "startdate": start, "enddate": end}).with_columns(
        periodname=pl.from_epoch("startdate", time_unit="s").dt.strftime("%b %Y"),
        isquarter=pl.lit(False),
        isyear=pl.lit(False),
        closed=pl.col("startdate") < closed_before,
    )
    dates = pl.from_epoch("startdate", time_unit="s")
    q = (
        monthly.with_columns(y=dates.dt.year(), q=dates.dt.quarter())
        .group_by("y", "q")
        .agg(pl.col("startdate").min(), pl.col("enddate").max(), pl.col("closed").all())
        .with_columns(
            periodname=pl.format("Q{} {}", "q", "y"), isquarter=pl.lit(True), isyear=pl.lit(False)
        )
    )
    y = (
        monthly.with_columns(y=dates.dt.year())
        .group_by("y")
        .agg(pl.col("startdate").min(), pl.col("enddate").max(), pl.col("closed").all())
        .with_columns(
            periodname=pl.format("FY {}", "y"), isquarter=pl.lit(False), isyear=pl.lit(True)
        )
    )
    cols = ["periodname", "startdate", "enddate", "closed", "isquarter", "isyear"]
    allp = pl.concat([monthly.select(cols), q.select(cols), y.select(cols)]).sort(
        ["startdate", "isyear", "isquarter"], descending=[False, True, True]
    )
    return allp.with_row_index("id", offset=1).with_columns(pl.col("id").cast(pl.Int64))


def _rates(rng: np.random.Generator, horizon: Horizon) -> pl.DataFrame:
    """Daily exchange rates for every ordered pair of currencies (a drifting random walk).

    Drawn to the horizon's end; the rates of days after the as-of day are not exported.
    """
    d0 = horizon.start // DAY - 35
    d1 = horizon.through // DAY
    days = np.arange(d0, d1 + 1)
    usd_per = {"USD": np.ones(len(days))}
    for cur, base in (("GBP", 1.27), ("EUR", 1.08)):
        steps = rng.normal(0, 0.004, len(days))
        usd_per[cur] = base * np.exp(np.cumsum(steps))
    frames = []
    for b in CURRENCIES:
        for t in CURRENCIES:
            if b == t:
                continue
            rate = np.round(usd_per[t] / usd_per[b] * 1_000_000).astype("int64")
            frames.append(
                pl.DataFrame(
                    {
                        "basecurrency": CURRENCY_IDS[b],
                        "transactioncurrency": CURRENCY_IDS[t],
                        "rate": rate,
                        "day": days,
                    }
                )
            )
    rates = (
        pl.concat(frames)
        .sort(["day", "basecurrency", "transactioncurrency"])
        .with_row_index("id", offset=1)
        .filter(pl.col("day") <= horizon.as_of // DAY)
    )
    return rates.select(
        LINKS.alias("links"),
        pl.col("id").cast(pl.String),
        pl.col("basecurrency").cast(pl.String),
        pl.col("transactioncurrency").cast(pl.String),
        ns_decimal(pl.col("rate"), 6).alias("exchangerate"),
        ns_date(pl.col("day") * DAY).alias("effectivedate"),
    )


def build_erp(
    rng: np.random.Generator,
    tl: Timeline,
    b: Billing,
    catalog: Catalog,
    horizon: Horizon,
    plan: pl.DataFrame,
    unapplied_charges: set[int],
) -> tuple[ErpFrames, pl.DataFrame]:
    """All NetSuite tables from the (possibly altered) posting plan, as seen at as-of.

    Ids are numbered over the whole horizon; customers synced and postings made after as-of
    are not exported, and a posting shows its invoice's void and payment only once they
    happened. Returns the frames and the whole plan with its NetSuite transaction ids and
    ``created_ts`` (for truth).
    """
    A = horizon.as_of
    T = horizon.through
    periods = _periods(horizon)
    monthly = (
        periods.filter(~pl.col("isquarter") & ~pl.col("isyear"))
        .select(pl.col("id").alias("period_id"), "startdate", "enddate")
        .with_columns(pidx=pl.int_range(pl.len()))
    )
    cur_ids = {c: str(CURRENCY_IDS[c]) for c in CURRENCIES}
    entity_of = tl.accounts.select("acct", "entity_idx")
    # Customers: synced a minute after their Stripe customer was created.
    cust_all = (
        tl.customers.join(entity_of, on="acct")
        .join(tl.accounts.select("acct", "currency"), on="acct")
        .with_columns(ns_created=pl.col("created_ts") + 60)
        .filter(pl.col("ns_created") <= T)
        .with_columns(ns_id=pl.int_range(pl.len()) + 2001)
    )
    cust = cust_all.filter(pl.col("ns_created") <= A)
    customer = cust.select(
        LINKS.alias("links"),
        pl.col("ns_id").cast(pl.String).alias("id"),
        pl.format("CUST{}", pl.col("ns_id")).alias("entityid"),
        pl.col("name").alias("companyname"),
        pl.col("stripe_id").alias("externalid"),
        "email",
        (pl.col("entity_idx") + 1).cast(pl.String).alias("subsidiary"),
        pl.col("currency").replace_strict(cur_ids).alias("currency"),
        ns_timestamp("ns_created").alias("datecreated"),
        ns_timestamp("ns_created").alias("lastmodifieddate"),
    )
    # Transactions, numbered in posting order.
    day = pl.col("trandate_ts") // DAY * DAY
    tx_all = (
        plan.join(cust_all.select("customer", "ns_id", "entity_idx"), on="customer")
        .sort(["created_ts", "kind", "src"])
        .with_columns(txn_id=pl.int_range(pl.len()) + FIRST_TRANSACTION_ID)
        .with_columns(day=day)
        .sort("day")
        .join_asof(
            monthly.sort("startdate"), left_on="day", right_on="startdate", strategy="backward"
        )
        .sort("txn_id")
        .with_columns(pidx=pl.col("pidx") + pl.col("period_shift"))
        .drop("period_id")
        .join(monthly.select("pidx", "period_id"), on="pidx", how="left")
    )
    # Seen at as-of: postings made by then; an invoice's posting is voided once the invoice is
    # (unless an anomaly keeps it), and paid in full once the invoice is paid.
    status_at = invoice_status_at(b.invoices, A).select(
        pl.col("invoice").alias("src"), pl.col("status").alias("status_at")
    )
    tx = (
        tx_all.filter(pl.col("created_ts") <= A)
        .join(status_at, on="src", how="left", maintain_order="left")
        .with_columns(
            voided=pl.col("voided") & (pl.col("void_ts") <= A).fill_null(False),
            stripe_status=pl.when((pl.col("kind") == "CustInvc") & (pl.col("src") >= 0))
            .then(pl.col("status_at"))
            .otherwise(pl.col("stripe_status")),
        )
        .drop("status_at")
    )
    prefix = pl.col("kind").replace_strict(
        {"CustInvc": "INV", "CustPymt": "PYMT", "CustCred": "CM"}
    )
    signed = (
        pl.when(pl.col("kind") == "CustCred").then(-pl.col("amount")).otherwise(pl.col("amount"))
    )
    status = (
        pl.when(pl.col("kind") == "CustPymt")
        .then(pl.lit("C"))
        .when(pl.col("kind") == "CustCred")
        .then(pl.lit("B"))
        .when(pl.col("stripe_status") == "paid")
        .then(pl.lit("B"))
        .otherwise(pl.lit("A"))
    )
    currency_code = pl.coalesce("currency_override", "currency")
    journals = _journals(horizon, monthly, first_id=_first_journal_id(tx_all.height))
    tx_rows = tx.select(
        LINKS.alias("links"),
        pl.col("txn_id").cast(pl.String).alias("id"),
        pl.concat_str(prefix, pl.col("txn_id").cast(pl.String)).alias("tranid"),
        pl.col("kind").alias("type"),
        ns_date("trandate_ts").alias("trandate"),
        pl.col("period_id").cast(pl.String).alias("postingperiod"),
        pl.col("ns_id").cast(pl.String).alias("entity"),
        currency_code.replace_strict(cur_ids).alias("currency"),
        pl.lit("1").alias("exchangerate"),
        ns_decimal(signed, 2).alias("foreigntotal"),
        status.alias("status"),
        pl.col("externalid"),
        pl.col("externalid").alias("memo"),
        pl.lit("T").alias("posting"),
        tf(pl.col("voided")).alias("voided"),
        ns_timestamp("created_ts").alias("createddate"),
        ns_timestamp("created_ts").alias("lastmodifieddate"),
    )
    transaction = pl.concat([tx_rows, journals["transaction"]], how="diagonal").sort(
        pl.col("id").cast(pl.Int64)
    )
    lines, acct_lines = _lines(tx, b, catalog)
    lines = pl.concat([lines, journals["transactionline"]], how="diagonal")
    acct_lines = pl.concat([acct_lines, journals["transactionaccountingline"]], how="diagonal")
    links = _links(tx, b, unapplied_charges)
    frames = ErpFrames(
        subsidiary=pl.DataFrame(
            {
                "id": [str(e.subsidiary_id) for e in ENTITIES],
                "name": [e.name for e in ENTITIES],
                "currency": [cur_ids[e.currency] for e in ENTITIES],
                "country": [e.country for e in ENTITIES],
            }
        ).select(LINKS.alias("links"), pl.all()),
        currency=pl.DataFrame(
            {
                "id": [cur_ids[c] for c in CURRENCIES],
                "symbol": list(CURRENCIES),
                "name": [CURRENCY_NAMES[c] for c in CURRENCIES],
                "isbasecurrency": ["T" if c == "USD" else "F" for c in CURRENCIES],
            }
        ).select(LINKS.alias("links"), pl.all()),
        currencyrate=_rates(rng, horizon),
        accountingperiod=periods.select(
            LINKS.alias("links"),
            pl.col("id").cast(pl.String),
            "periodname",
            ns_date("startdate").alias("startdate"),
            ns_date("enddate").alias("enddate"),
            tf(pl.col("closed")).alias("closed"),
            pl.lit("F").alias("isadjust"),
            tf(pl.col("isquarter")).alias("isquarter"),
            tf(pl.col("isyear")).alias("isyear"),
        ),
        account=pl.DataFrame(
            {
                "id": [str(a[0]) for a in ACCOUNTS],
                "acctnumber": [a[1] for a in ACCOUNTS],
                "fullname": [a[2] for a in ACCOUNTS],
                "accttype": [a[3] for a in ACCOUNTS],
            }
        ).select(LINKS.alias("links"), pl.all()),
        customer=customer,
        transaction=transaction,
        transactionline=lines,
        transactionaccountingline=acct_lines,
        previoustransactionlinelink=links,
    )
    return frames, tx_all


def _lines(tx: pl.DataFrame, b: Billing, catalog: Catalog) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Main lines for every posting; item lines for invoices (income lines are negative)."""
    sub = (pl.col("entity_idx") + 1).cast(pl.String)
    signed = (
        pl.when(pl.col("kind") == "CustCred").then(-pl.col("amount")).otherwise(pl.col("amount"))
    )
    main = tx.select(
        LINKS.alias("links"),
        pl.lit("0").alias("id"),
        pl.col("txn_id").cast(pl.String).alias("transaction"),
        pl.lit("T").alias("mainline"),
        pl.lit("F").alias("taxline"),
        ns_decimal(signed, 2).alias("netamount"),
        ns_decimal(signed, 2).alias("foreignamount"),
        sub.alias("subsidiary"),
        pl.col("externalid").alias("memo"),
    )
    item_of = {pid: catalog.ns_item_ids[k] for k, pid in catalog.plan_product_ids.items()}
    item_of[catalog.usage_product_id] = catalog.ns_item_ids["api_calls"]
    item_of[catalog.onboarding_product_id] = catalog.ns_item_ids["onboarding"]
    income_of = {pid: SUB_REV for pid in catalog.plan_product_ids.values()}
    income_of[catalog.usage_product_id] = USAGE_REV
    income_of[catalog.onboarding_product_id] = SERVICES_REV
    inv_tx = tx.filter(pl.col("kind") == "CustInvc").select(
        "txn_id", pl.col("src").alias("invoice"), "entity_idx", "externalid"
    )
    items = (
        b.lines.join(inv_tx, on="invoice")
        .sort(["txn_id", "line"])
        .with_columns(
            n=pl.int_range(1, pl.len() + 1).over("txn_id"),
            net=pl.col("amount") - pl.col("discount_amount"),
        )
    )
    item_lines = items.select(
        LINKS.alias("links"),
        pl.col("n").cast(pl.String).alias("id"),
        pl.col("txn_id").cast(pl.String).alias("transaction"),
        pl.lit("F").alias("mainline"),
        pl.lit("F").alias("taxline"),
        pl.col("product_id").replace_strict(item_of).cast(pl.String).alias("item"),
        pl.col("quantity").cast(pl.String).alias("quantity"),
        ns_decimal(pl.col("unit_amount"), 2).alias("rate"),
        ns_decimal(-pl.col("net"), 2).alias("netamount"),
        ns_decimal(-pl.col("net"), 2).alias("foreignamount"),
        sub.alias("subsidiary"),
        pl.col("externalid").alias("memo"),
    )
    lines = pl.concat([main, item_lines], how="diagonal")
    # Accounting: debit/credit per line in the subsidiary's currency (amount = debit - credit).
    debit_account = pl.col("kind").replace_strict(
        {"CustInvc": AR, "CustPymt": BANK, "CustCred": SERVICES_REV}
    )
    credit_account = pl.col("kind").replace_strict(
        {"CustInvc": SUB_REV, "CustPymt": AR, "CustCred": AR}
    )

    def acct_line(account: pl.Expr, amount: pl.Expr, line: pl.Expr) -> list[pl.Expr]:
        return [
            LINKS.alias("links"),
            pl.col("txn_id").cast(pl.String).alias("transaction"),
            line.alias("transactionline"),
            account.cast(pl.String).alias("account"),
            ns_decimal(amount, 2).alias("amount"),
            pl.when(amount > 0).then(ns_decimal(amount, 2)).alias("debit"),
            pl.when(amount < 0).then(ns_decimal(-amount, 2)).alias("credit"),
            pl.lit("T").alias("posting"),
        ]

    debits = tx.select(acct_line(debit_account, pl.col("amount"), pl.lit("0")))
    non_invoice = tx.filter(pl.col("kind") != "CustInvc")
    credits = non_invoice.select(acct_line(credit_account, -pl.col("amount"), pl.lit("0")))
    income = items.with_columns(acct=pl.col("product_id").replace_strict(income_of)).select(
        acct_line(pl.col("acct"), -pl.col("net"), pl.col("n").cast(pl.String))
    )
    return lines, pl.concat([debits, credits, income])


def _links(tx: pl.DataFrame, b: Billing, unapplied_charges: set[int]) -> pl.DataFrame:
    """Payments and credit memos applied to the invoices they settle."""
    inv_tx = tx.filter(pl.col("kind") == "CustInvc").select(
        pl.col("src").alias("invoice"), pl.col("txn_id").alias("prev")
    )
    pay = (
        tx.filter((pl.col("kind") == "CustPymt") & ~pl.col("src").is_in(list(unapplied_charges)))
        .join(b.charges.select(pl.col("charge").alias("src"), "invoice"), on="src")
        .join(inv_tx, on="invoice")
    )
    cred = (
        tx.filter(pl.col("kind") == "CustCred")
        .join(b.credit_notes.select(pl.col("credit_note").alias("src"), "invoice"), on="src")
        .join(inv_tx, on="invoice")
    )
    both = pl.concat(
        [pay.select("prev", "txn_id", "amount"), cred.select("prev", "txn_id", "amount")]
    )
    return both.sort(["txn_id", "prev"]).select(
        LINKS.alias("links"),
        pl.col("prev").cast(pl.String).alias("previousdoc"),
        pl.lit("0").alias("previousline"),
        pl.col("txn_id").cast(pl.String).alias("nextdoc"),
        pl.lit("0").alias("nextline"),
        pl.lit("Payment").alias("linktype"),
        ns_decimal(pl.col("amount"), 2).alias("foreignamount"),
    )


FIRST_TRANSACTION_ID = 10_001
FIRST_JOURNAL_ID = 900_001


def _first_journal_id(n_transactions: int) -> int:
    """Journals are numbered in a range of their own, above every Stripe-derived transaction.

    900001 while the transactions fit below it; a larger company (50,000 customers over 36
    months has more than 890,000) moves the journals to the next 100,000 above them, so two
    transactions never share an internal id.
    """
    last = FIRST_TRANSACTION_ID + n_transactions - 1
    return max(FIRST_JOURNAL_ID, (last // 100_000 + 1) * 100_000 + 1)


def _journals(horizon: Horizon, monthly: pl.DataFrame, *, first_id: int) -> dict[str, pl.DataFrame]:
    """ERP-native month-end payroll accruals per subsidiary (no Stripe externalid)."""
    ends = monthly.filter(pl.col("enddate") + DAY <= horizon.as_of)
    rows = ends.join(
        pl.DataFrame(
            {"sub": [e.subsidiary_id for e in ENTITIES], "cur": [e.currency for e in ENTITIES]}
        ),
        how="cross",
    )
    rows = rows.sort(["startdate", "sub"]).with_columns(
        txn_id=pl.int_range(pl.len()) + first_id, amount=pl.lit(25_000_000)
    )
    ts = pl.col("enddate") + 18 * HOUR
    transaction = rows.select(
        LINKS.alias("links"),
        pl.col("txn_id").cast(pl.String).alias("id"),
        pl.format("JE{}", "txn_id").alias("tranid"),
        pl.lit("Journal").alias("type"),
        ns_date("enddate").alias("trandate"),
        pl.col("period_id").cast(pl.String).alias("postingperiod"),
        pl.col("cur")
        .replace_strict({c: str(CURRENCY_IDS[c]) for c in CURRENCIES})
        .alias("currency"),
        pl.lit("1").alias("exchangerate"),
        ns_decimal(pl.col("amount"), 2).alias("foreigntotal"),
        pl.lit("B").alias("status"),
        pl.lit("Payroll accrual").alias("memo"),
        pl.lit("T").alias("posting"),
        pl.lit("F").alias("voided"),
        ns_timestamp(ts).alias("createddate"),
        ns_timestamp(ts).alias("lastmodifieddate"),
    )
    line = rows.select(
        LINKS.alias("links"),
        pl.lit("0").alias("id"),
        pl.col("txn_id").cast(pl.String).alias("transaction"),
        pl.lit("T").alias("mainline"),
        pl.lit("F").alias("taxline"),
        ns_decimal(pl.col("amount"), 2).alias("netamount"),
        ns_decimal(pl.col("amount"), 2).alias("foreignamount"),
        pl.col("sub").cast(pl.String).alias("subsidiary"),
        pl.lit("Payroll accrual").alias("memo"),
    )
    acct = pl.concat(
        [
            rows.select(
                pl.col("txn_id"), pl.lit(PAYROLL).alias("a"), pl.col("amount").alias("amt")
            ),
            rows.select(
                pl.col("txn_id"), pl.lit(ACCRUED).alias("a"), (-pl.col("amount")).alias("amt")
            ),
        ]
    ).select(
        LINKS.alias("links"),
        pl.col("txn_id").cast(pl.String).alias("transaction"),
        pl.lit("0").alias("transactionline"),
        pl.col("a").cast(pl.String).alias("account"),
        ns_decimal(pl.col("amt"), 2).alias("amount"),
        pl.when(pl.col("amt") > 0).then(ns_decimal(pl.col("amt"), 2)).alias("debit"),
        pl.when(pl.col("amt") < 0).then(ns_decimal(-pl.col("amt"), 2)).alias("credit"),
        pl.lit("T").alias("posting"),
    )
    return {"transaction": transaction, "transactionline": line, "transactionaccountingline": acct}
