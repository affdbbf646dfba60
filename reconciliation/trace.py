"""``revops trace ID``: one record's path across Salesforce, Stripe and NetSuite.

Given a Salesforce, Stripe or NetSuite id, or a canonical customer id, the trace follows the
links the core models keep (docs/architecture.md, "revops trace"):

    opportunity ─ subscription ─ invoice ─┬─ posting (NetSuite CustInvc)
                                          ├─ payment (Stripe charge) ─┬─ posting (CustPymt)
                                          │                           └─ application
                                          └─ credit note ─ posting (CustCred)

and the exceptions (``recon.exceptions``) raised on any record of the path. Each hop carries
its status, dates, amount with currency and how it was linked to the hop above it. Everything
is read from the serving snapshot; the scope and the hops are computed in SQL (a temporary
table holds the scope), Python only orders the rows into a tree and formats them.

Scope: from the record found, everything below it (an opportunity's subscriptions, their
invoices, …) and the one chain above it (an invoice's subscription and opportunity, not the
subscription's other invoices); a customer id (also a Salesforce Account, a Stripe customer or
a NetSuite customer) takes all of the customer's records.
"""

from __future__ import annotations

import io
import json
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb

STRIPE_PREFIXES = {
    "cus_": "customer",
    "sub_": "subscription",
    "in_": "invoice",
    "inpay_": "invoice payment",
    "il_": "invoice line",
    "ch_": "charge",
    "py_": "payment",
    "pi_": "payment intent",
    "cn_": "credit note",
}
UNTRACED_PREFIXES = {
    "price_": "price",
    "prod_": "product",
    "re_": "refund",
    "si_": "subscription item",
    "mtr_": "meter",
    "cnli_": "credit note line",
    "ii_": "invoice item",
}
SALESFORCE_PREFIXES = {"006": "opportunity", "001": "account"}
CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

MAX_INVOICES_SHOWN = 4  # per subscription (or opportunity…) in the table
MAX_BRANCHES_SHOWN = 8  # top-level hops (opportunities…) under the customer in the table
MAX_EXCEPTIONS_SHOWN = 25
WIDE = 110  # narrower terminals get one block per hop instead of a table
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG"})
ZERO_DECIMAL |= frozenset({"RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"})

NETSUITE_STATUS = {
    ("CustInvc", "A"): "open",
    ("CustInvc", "B"): "paid in full",
    ("CustPymt", "A"): "unapproved",
    ("CustPymt", "B"): "not deposited",
    ("CustPymt", "C"): "deposited",
    ("CustCred", "A"): "open",
    ("CustCred", "B"): "fully applied",
    ("Journal", "A"): "pending approval",
    ("Journal", "B"): "approved",
}


class TraceError(LookupError):
    """The id names no record of the snapshot (the message is one sentence)."""


@dataclass(frozen=True)
class Resolution:
    """What the id given was found to be.

    Attributes:
        kind: ``customer``, ``opportunity``, ``subscription``, ``invoice``, ``payment``,
            ``credit_note`` or ``posting`` (an Account, a Stripe or NetSuite customer resolve
            to ``customer``).
        system: The system of the record found (``core`` for a canonical customer).
        record_ids: The records the trace starts from (a payment intent's charges: several).
        via: How the id matched, in words.
        customer_id: The canonical customer of the records (None when unknown).
        also: Other kinds the same id matched, each a sentence saying how to trace it.
    """

    kind: str
    system: str
    record_ids: tuple[str, ...]
    via: str
    customer_id: str | None
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Identity:
    """One source record of the customer and how identity resolution linked it."""

    system: str
    source_id: str
    match_method: str


@dataclass(frozen=True)
class Customer:
    """The canonical customer of the trace (``core.customers``)."""

    customer_id: str
    name: str | None
    entity: str | None
    currency: str | None
    mrr: Decimal | None
    mrr_month: date | None
    identities: tuple[Identity, ...]


@dataclass(frozen=True)
class Hop:
    """One record on the path.

    Attributes:
        key: ``<kind>:<record_id>``, unique in a trace.
        parent: The key of the hop it hangs off (None: directly under the customer).
        depth: Its depth in the tree (0 under the customer).
        record_id: The id as ``recon.exceptions.record_id`` names it (a NetSuite transaction:
            its internal id; an application: ``<invoice txn>:<line>><payment txn>:<line>``).
        label: A second name (invoice number, tranid and type, opportunity name…).
        amount_label: What ``amount`` is (``total``, ``contracted ARR``…).
        dates: ``(what, day)`` pairs, in the order they happened or matter.
        match: How the hop is linked to its parent (the link column and its value).
        note: Anything else worth a glance (posting period, lag, failure code…).
        lag_days: A posting's delay after its Stripe record (days), else None.
        at: The instant the hop is ordered by among its siblings.
        exceptions: The check ids of the exceptions raised on this record.
    """

    key: str
    kind: str
    system: str
    record_id: str
    label: str | None
    parent: str | None
    depth: int
    status: str | None
    currency: str | None
    amount: Decimal | None
    amount_label: str | None
    dates: tuple[tuple[str, date], ...]
    match: str
    note: str | None
    lag_days: float | None
    at: datetime | None
    exceptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class TraceException:
    """A row of ``recon.exceptions`` whose record is on the path (``hop``: its key, or
    ``customer`` for one of the customer's source records)."""

    exception_id: str
    check_id: str
    record_system: str
    record_id: str
    hop: str
    status: str
    severity: str | None
    owner: str | None
    amount_at_risk: Decimal | None
    amount_local: Decimal | None
    currency: str | None
    detail: str
    first_seen_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class Trace:
    """Everything ``revops trace`` shows (``as_json`` and ``render`` format it)."""

    query: str
    resolution: Resolution
    as_of: datetime | None
    reporting_currency: str | None
    customer: Customer | None
    hops: tuple[Hop, ...]
    exceptions: tuple[TraceException, ...]


# --- id resolution ----------------------------------------------------------------------


def salesforce_id_18(value: str) -> str:
    """The 18-character form of a Salesforce id (the ``salesforce_id_18`` dbt macro).

    A 15-character id gets its case checksum; an 18-character one gets the case of its first
    15 characters restored from its checksum (so an id typed in the wrong case still finds
    its record). Anything else is returned unchanged.

    Example:
        >>> salesforce_id_18("001A0000006Vm9r")
        '001A0000006Vm9rIAC'
        >>> salesforce_id_18("001a0000006vm9riac")
        '001A0000006Vm9rIAC'
    """
    if not value.isascii() or not value.isalnum():
        return value
    if len(value) == 15:
        suffix = ""
        for chunk in range(3):
            part = value[chunk * 5 : chunk * 5 + 5]
            bits = sum(1 << i for i, ch in enumerate(part) if "A" <= ch <= "Z")
            suffix += CHECKSUM_ALPHABET[bits]
        return value + suffix
    if len(value) == 18:
        suffix = value[15:].upper()
        if any(ch not in CHECKSUM_ALPHABET for ch in suffix):
            return value
        chars = []
        for chunk, check in enumerate(suffix):
            bits = CHECKSUM_ALPHABET.index(check)
            part = value[chunk * 5 : chunk * 5 + 5]
            chars += [ch.upper() if bits >> i & 1 else ch.lower() for i, ch in enumerate(part)]
        return "".join(chars) + suffix
    return value


# Every place an id can be found, with the kind it starts a trace as and its rank (the
# lowest rank found wins; others are reported as `also`).
LOOKUP_SQL = """
select 'customer' as kind, 'core' as system, customer_id as record_id, customer_id,
       'canonical customer id' as via, 0 as rank
from core.customers where customer_id = $id
union all
select 'opportunity', 'salesforce', opportunity_id, customer_id, 'Salesforce opportunity', 1
from core.contracts where opportunity_id = $sf
union all
select distinct 'opportunity', 'salesforce', crm_opportunity_id, customer_id,
       'Salesforce opportunity (not a won opportunity of core.contracts: named by a Stripe '
       || 'subscription''s metadata)', 2
from core.subscriptions
where crm_opportunity_id = $sf
  and crm_opportunity_id not in (select opportunity_id from core.contracts)
union all
select 'customer', 'salesforce', customer_id, customer_id,
       'Salesforce Account ' || source_id || ' of customer ' || customer_id, 1
from core.customer_identities where system = 'salesforce' and source_id = $sf
union all
select 'customer', 'stripe', customer_id, customer_id,
       'Stripe customer ' || source_id || ' of customer ' || customer_id, 1
from core.customer_identities where system = 'stripe' and source_id = $id
union all
select 'subscription', 'stripe', subscription_id, customer_id, 'Stripe subscription', 1
from core.subscriptions where subscription_id = $id
union all
select 'invoice', 'stripe', invoice_id, customer_id, 'Stripe invoice', 1
from core.invoices where invoice_id = $id
union all
select 'invoice', 'stripe', invoice_id, customer_id, 'Stripe invoice number ' || number, 2
from core.invoices where number = $id
union all
select 'invoice', 'stripe', p.invoice_id, i.customer_id,
       'Stripe invoice payment ' || p.invoice_payment_id || ' of invoice ' || p.invoice_id, 1
from core.invoice_payments as p left join core.invoices as i using (invoice_id)
where p.invoice_payment_id = $id
union all
select distinct 'invoice', 'stripe', l.invoice_id, l.customer_id,
       'Stripe invoice line ' || l.invoice_line_id || ' of invoice ' || l.invoice_id, 1
from core.invoice_lines as l where l.invoice_line_id = $id
union all
select 'payment', 'stripe', payment_id, customer_id, 'Stripe charge', 1
from core.payments where payment_id = $id
union all
select 'payment', 'stripe', payment_id, customer_id,
       'Stripe payment intent ' || payment_intent_id || ', its charges', 1
from core.payments where payment_intent_id = $id
union all
select 'credit_note', 'stripe', credit_note_id, customer_id, 'Stripe credit note', 1
from core.credit_notes where credit_note_id = $id
union all
select 'credit_note', 'stripe', credit_note_id, customer_id,
       'Stripe credit note number ' || number, 2
from core.credit_notes where number = $id
union all
select 'posting', 'netsuite', cast(transaction_id as varchar), customer_id,
       'NetSuite transaction ' || transaction_id || ' (' || type || ' ' || coalesce(tranid, '?')
       || ')', 2
from core.erp_transactions where transaction_id = try_cast($id as bigint)
union all
select 'posting', 'netsuite', cast(transaction_id as varchar), customer_id,
       'NetSuite transaction number ' || tranid || ' (' || type || ' ' || transaction_id || ')', 2
from core.erp_transactions where upper(tranid) = upper($id)
union all
select 'customer', 'netsuite', customer_id, customer_id,
       'NetSuite customer ' || source_id || ' of customer ' || customer_id, 3
from core.customer_identities where system = 'netsuite' and source_id = $id
"""


def resolve(con: duckdb.DuckDBPyConnection, raw: str) -> Resolution:
    """What ``raw`` names in the snapshot; raises TraceError when nothing."""
    query = raw.strip()
    if not query:
        raise TraceError("no id given: pass a Salesforce, Stripe or NetSuite id or a customer id")
    rows = con.execute(LOOKUP_SQL, {"id": query, "sf": salesforce_id_18(query)}).fetchall()
    if not rows:
        raise TraceError(_not_found(query))
    groups: dict[tuple[int, str, str], list[tuple[str, str | None, str]]] = defaultdict(list)
    for kind, system, record_id, customer_id, via, rank in rows:
        groups[(rank, kind, system)].append((record_id, customer_id, via))
    ranked = sorted(groups)
    rank, kind, system = ranked[0]
    found = groups[(rank, kind, system)]
    record_ids = tuple(sorted({r for r, _, _ in found}))
    customers = {c for _, c, _ in found if c is not None}
    also = tuple(_also(kind_, groups[(r, kind_, s)]) for r, kind_, s in ranked[1:])
    via = found[0][2] + (_sf_form(query) if system == "salesforce" else "")
    return Resolution(
        kind=kind,
        system=system,
        record_ids=record_ids,
        via=via if len(found) == 1 else f"{via} ({len(record_ids)} records)",
        customer_id=customers.pop() if len(customers) == 1 else None,
        also=also,
    )


def _sf_form(query: str) -> str:
    full = salesforce_id_18(query)
    return f" (18-character form {full})" if full != query and len(query) in (15, 18) else ""


def _also(kind: str, found: list[tuple[str, str | None, str]]) -> str:
    record_id, customer_id, via = found[0]
    target = customer_id if kind == "customer" else record_id
    return f"also a {via}: run `revops trace {target}` for it"


def _not_found(query: str) -> str:
    """The one sentence of an unknown id: what it looks like, what to try."""
    tail = "check the id, or run `revops run` if the record is newer than the serving snapshot"
    for prefix, name in UNTRACED_PREFIXES.items():
        if query.startswith(prefix):
            return (
                f"{query} looks like a Stripe {name} id, which the trace does not follow: "
                "trace its subscription (sub_…), invoice (in_…) or customer (cus_…) instead"
            )
    for prefix, name in STRIPE_PREFIXES.items():
        if query.startswith(prefix):
            return f"no Stripe {name} {query} in the serving snapshot: {tail}"
    if len(query) in (15, 18) and query.isalnum() and query[:3] in SALESFORCE_PREFIXES:
        name = SALESFORCE_PREFIXES[query[:3]]
        won = " (the snapshot keeps won opportunities only)" if name == "opportunity" else ""
        return f"no Salesforce {name} {query} in the serving snapshot{won}: {tail}"
    if query.isdigit():
        return (
            f"no NetSuite transaction or customer with internal id {query} in the serving "
            f"snapshot: {tail}"
        )
    return (
        f"{query} is no id the serving snapshot knows: pass a Salesforce opportunity or account "
        "id (15 or 18 characters), a Stripe id (cus_, sub_, in_, ch_, py_, pi_, cn_…), a NetSuite "
        "internal id or transaction number, or a canonical customer id (revops exceptions "
        "lists some)"
    )


# --- scope and hops ----------------------------------------------------------------------

# The records of the trace: everything below the seeds, and the one chain above them.
SCOPE_SQL = """
create or replace temp table trace_scope as
with
seed_postings as (
    -- a posting leads to the Stripe record of its kind its externalid names
    select transaction_id, type, external_id from core.erp_transactions
    where list_contains($postings::bigint[], transaction_id)
),
seed_subscriptions as (
    select subscription_id from core.subscriptions
    where list_contains($subscriptions::varchar[], subscription_id)
       or list_contains($opportunities::varchar[], crm_opportunity_id)
       or customer_id = $customer
),
seed_charges as (
    select payment_id, invoice_id from core.payments
    where list_contains($payments::varchar[], payment_id)
       or payment_id in (select external_id from seed_postings where type = 'CustPymt')
),
seed_credit_notes as (
    select credit_note_id, invoice_id from core.credit_notes
    where list_contains($credit_notes::varchar[], credit_note_id)
       or credit_note_id in (select external_id from seed_postings where type = 'CustCred')
),
seed_invoices as (
    select unnest($invoices::varchar[]) as invoice_id
    union select external_id from seed_postings where type = 'CustInvc'
    union select invoice_id from seed_charges
    union select invoice_id from core.invoice_payments
          where payment_id in (select payment_id from seed_charges)
    union select invoice_id from seed_credit_notes
),
invoices as (
    select invoice_id, subscription_id from core.invoices
    where invoice_id in (select invoice_id from seed_invoices)
       or subscription_id in (select subscription_id from seed_subscriptions)
       or customer_id = $customer
),
subscriptions as (
    select subscription_id from seed_subscriptions
    union select subscription_id from invoices where subscription_id is not null
),
opportunities as (
    select unnest($opportunities::varchar[]) as opportunity_id
    union select crm_opportunity_id from core.subscriptions
          where subscription_id in (select subscription_id from subscriptions)
            and crm_opportunity_id is not null
    union select opportunity_id from core.contracts where customer_id = $customer
),
charges as (
    select payment_id from seed_charges
    union select payment_id from core.invoice_payments
          where invoice_id in (select invoice_id from invoices) and payment_id is not null
    union select payment_id from core.payments where customer_id = $customer
),
credit_notes as (
    select credit_note_id from seed_credit_notes
    union select credit_note_id from core.credit_notes
          where invoice_id in (select invoice_id from invoices) or customer_id = $customer
),
postings as (
    select transaction_id from seed_postings
    union select transaction_id from core.erp_transactions
          where external_id in (
              select invoice_id from invoices
              union all select payment_id from charges
              union all select credit_note_id from credit_notes)
             or (customer_id = $customer and type in ('CustInvc', 'CustPymt', 'CustCred'))
)
select 'opportunity' as kind, opportunity_id as id from opportunities
union all select 'subscription', subscription_id from subscriptions
union all select 'invoice', invoice_id from invoices
union all select 'payment', payment_id from charges
union all select 'credit_note', credit_note_id from credit_notes
union all select 'posting', cast(transaction_id as varchar) from postings
"""


def _day(column: str) -> str:
    """SQL: the UTC calendar day of a timestamp with time zone."""
    return f"cast(timezone('UTC', {column}) as date)"


def _dates(*pairs: tuple[str, str]) -> str:
    """SQL: a list of ``{what, day}`` structs, the null days left out."""
    items = ", ".join(f"{{'what': '{what}', 'day': {day}}}" for what, day in pairs)
    return f"list_filter([{items}], lambda d: d.day is not null)"


def _netsuite_status(type_column: str, status_column: str) -> str:
    """SQL: the words of a NetSuite transaction status code (NETSUITE_STATUS), else null."""
    cases = " ".join(
        f"when {type_column} = '{t}' and {status_column} = '{code}' then '{code} ({words})'"
        for (t, code), words in NETSUITE_STATUS.items()
    )
    return f"case {cases} end"


HOP_COLUMNS = (
    "kind, system, record_id, label, parent, status, currency, amount, amount_label, dates, "
    "match, note, lag_days, at"
)

# One row per hop, every kind in the same shape (HOP_COLUMNS).
# The dates each kind of hop shows (SQL expressions over the aliases of HOPS_SQL).
OPPORTUNITY_DATES = _dates(("closed", "c.close_date"), ("created", _day("c.created_at")))
SUBSCRIPTION_DATES = _dates(
    ("created", _day("u.created_at")),
    ("started", _day("u.started_at")),
    ("trial ends", _day("u.trial_end_at")),
    ("canceled", _day("u.canceled_at")),
    ("ends", _day("u.cancel_at")),
    ("ended", _day("u.ended_at")),
)
INVOICE_DATES = _dates(
    ("created", _day("i.created_at")),
    ("finalized", _day("i.finalized_at")),
    ("due", _day("i.due_at")),
    ("paid", _day("i.paid_at")),
    ("voided", _day("i.voided_at")),
    ("uncollectible", _day("i.marked_uncollectible_at")),
)
PAYMENT_DATES = _dates(("charged", _day("p.created_at")), ("paid", _day("ip.paid_at")))
CREDIT_NOTE_DATES = _dates(
    ("created", _day("n.created_at")),
    ("effective", _day("n.effective_at")),
    ("voided", _day("n.voided_at")),
)
POSTING_DATES = _dates(
    ("dated", "t.trandate"),
    ("posted", _day("t.created_at")),
    (
        "modified",
        f"case when {_day('t.last_modified_at')} <> {_day('t.created_at')} "
        f"then {_day('t.last_modified_at')} end",
    ),
)
APPLICATION_DATES = _dates(("dated", "n.trandate"))
POSTING_STATUS = _netsuite_status("t.type", "t.status")
EXPECTED_KIND = (
    "case t.type when 'CustInvc' then 'invoice' when 'CustPymt' then 'payment' "
    "when 'CustCred' then 'credit_note' end"
)
KIND_WORDS = "case {kind} when 'payment' then 'charge' else replace({kind}, '_', ' ') end"

HOPS_SQL = f"""
with
scope as (select * from trace_scope),
scoped_postings as (
    select t.* from core.erp_transactions as t
    where cast(t.transaction_id as varchar) in (select id from scope where kind = 'posting')
),
stripe_sources as (
    -- the Stripe records of the trace a posting's externalid can name: the posting type that
    -- carries each kind, the instant the posting follows, whether a live posting carries it
    select 'invoice' as kind, invoice_id as id, 'CustInvc' as posting_type,
           customer_id, finalized_at as source_at, 'finalization' as source_event
    from core.invoices where invoice_id in (select id from scope where kind = 'invoice')
    union all
    select 'payment', payment_id, 'CustPymt', customer_id, created_at, 'the charge'
    from core.payments where payment_id in (select id from scope where kind = 'payment')
    union all
    select 'credit_note', credit_note_id, 'CustCred', customer_id, effective_at,
           'the credit note took effect'
    from core.credit_notes
    where credit_note_id in (select id from scope where kind = 'credit_note')
),
posted as (
    -- the Stripe records of the trace a live posting of their kind carries
    select distinct s.id
    from stripe_sources as s
    inner join core.erp_transactions as t
        on t.external_id = s.id and t.type = s.posting_type and not t.is_voided
),
named as (
    -- what the postings' externalids name in Stripe (ids are unique across kinds by prefix)
    select invoice_id as id, 'invoice' as kind, customer_id from core.invoices
    where invoice_id in (select external_id from scoped_postings)
    union all
    select payment_id, 'payment', customer_id from core.payments
    where payment_id in (select external_id from scoped_postings)
    union all
    select credit_note_id, 'credit_note', customer_id from core.credit_notes
    where credit_note_id in (select external_id from scoped_postings)
),
applied as (
    select distinct next_transaction_id as transaction_id from core.erp_payment_applications
),
opportunity_hops as (
    select
        'opportunity', 'salesforce', s.id,
        coalesce(c.opportunity_name, 'not in core.contracts'),
        cast(null as varchar),
        coalesce(c.stage, 'not a won opportunity'),
        c.currency, c.contracted_arr, 'contracted ARR',
        {OPPORTUNITY_DATES},
        case
            when c.opportunity_id is null
                then 'named by a Stripe subscription''s metadata.salesforce_opportunity_id'
            when c.customer_id is null
                then 'AccountId ' || c.crm_account_id || ' names no customer'
            else 'AccountId ' || c.crm_account_id || ' is the customer''s Salesforce Account'
        end,
        c.opportunity_type
            || case when c.amount is distinct from c.contracted_arr
                    then ', Amount ' || c.currency || ' ' || format('{{:,.2f}}', c.amount)
                    else '' end,
        cast(null as double),
        coalesce(cast(c.close_date as timestamptz), c.created_at)
    from scope as s
    left join core.contracts as c on c.opportunity_id = s.id
    where s.kind = 'opportunity'
),
subscription_hops as (
    select
        'subscription', 'stripe', u.subscription_id, cast(null as varchar),
        case when u.crm_opportunity_id is not null then 'opportunity:' || u.crm_opportunity_id end,
        u.status, coalesce(b.billing_currency, u.currency), b.billed_arr,
        case when b.billed_arr is not null then 'billed list ARR' end,
        {SUBSCRIPTION_DATES},
        case
            when u.crm_opportunity_id is not null
                then 'Stripe metadata.salesforce_opportunity_id ' || u.crm_opportunity_id
            else 'no metadata.salesforce_opportunity_id: Stripe customer '
                || u.billing_customer_id || ' of the customer'
        end,
        concat_ws(', ',
            u.item_count || ' item' || case when u.item_count = 1 then '' else 's' end,
            case when u.is_metered then 'metered' end,
            case when u.is_cancel_at_period_end then 'cancels at period end' end),
        cast(null as double),
        u.created_at
    from core.subscriptions as u
    left join core.contract_billing as b
        on b.subscription_id = u.subscription_id and b.opportunity_id = u.crm_opportunity_id
    where u.subscription_id in (select id from scope where kind = 'subscription')
),
invoice_hops as (
    select
        'invoice', 'stripe', i.invoice_id, i.number,
        case when i.subscription_id is not null then 'subscription:' || i.subscription_id end,
        i.status, i.currency, i.total, 'total',
        {INVOICE_DATES},
        case
            when i.subscription_id is not null
                then 'Stripe invoice''s subscription ' || i.subscription_id
            else 'no subscription: billed to Stripe customer ' || i.billing_customer_id
        end,
        concat_ws(', ', i.billing_reason,
            case when i.period_end_at > i.period_start_at then 'period '
                || strftime(timezone('UTC', i.period_start_at), '%Y-%m-%d') || ' to '
                || strftime(timezone('UTC', i.period_end_at), '%Y-%m-%d') end,
            case when i.amount_remaining > 0
                 then 'remaining ' || i.currency || ' ' || format('{{:,.2f}}', i.amount_remaining)
            end,
            case when i.is_finalized and i.total <> 0
                      and i.invoice_id not in (select id from posted)
                 then 'not posted: no live NetSuite CustInvc names it' end),
        cast(null as double),
        coalesce(i.finalized_at, i.created_at)
    from core.invoices as i
    where i.invoice_id in (select id from scope where kind = 'invoice')
),
payment_hops as (
    select
        'payment', 'stripe', p.payment_id, p.payment_intent_id,
        case when p.invoice_id is not null then 'invoice:' || p.invoice_id end,
        p.status, p.currency, p.amount, 'amount',
        {PAYMENT_DATES},
        case ip.linked_by
            when 'invoice_payment' then 'Stripe invoice payment ' || ip.invoice_payment_id
                || ' (' || ip.status || ') of invoice ' || ip.invoice_id
                || case when ip.payment_intent_id is not null
                        then ', through payment intent ' || ip.payment_intent_id else '' end
            when 'charge_invoice' then 'charge.invoice ' || ip.invoice_id
                || ' (API before 2025-03-31, no invoice payment)'
            else 'no invoice payment names this charge'
        end,
        concat_ws(', ',
            case when p.failure_code is not null then 'failed: ' || p.failure_code end,
            case when p.amount_refunded > 0
                 then 'refunded ' || p.currency || ' ' || format('{{:,.2f}}', p.amount_refunded)
            end,
            case when p.status = 'succeeded' and p.payment_id not in (select id from posted)
                 then 'not posted: no live NetSuite CustPymt names it' end),
        cast(null as double),
        p.created_at
    from core.payments as p
    left join core.invoice_payments as ip on ip.invoice_payment_id = p.invoice_payment_id
    where p.payment_id in (select id from scope where kind = 'payment')
),
credit_note_hops as (
    select
        'credit_note', 'stripe', n.credit_note_id, n.number,
        case when n.invoice_id is not null then 'invoice:' || n.invoice_id end,
        n.status, n.currency, n.total, 'total',
        {CREDIT_NOTE_DATES},
        case when n.invoice_id is not null then 'Stripe credit note''s invoice ' || n.invoice_id
             else 'no invoice' end,
        concat_ws(', ', n.type, n.reason,
            case when n.status = 'issued' and n.credit_note_id not in (select id from posted)
                 then 'not posted: no live NetSuite CustCred names it' end),
        cast(null as double),
        n.created_at
    from core.credit_notes as n
    where n.credit_note_id in (select id from scope where kind = 'credit_note')
),
posting_hops as (
    select
        'posting', 'netsuite', cast(t.transaction_id as varchar),
        t.type || ' ' || coalesce(t.tranid, '(no tranid)'),
        case when src.id is not null then src.kind || ':' || src.id end,
        case when t.is_voided then 'voided' else coalesce({POSTING_STATUS}, t.status) end,
        t.currency, t.foreign_total, 'foreign total',
        {POSTING_DATES},
        case
            when src.id is not null then 'NetSuite externalid ' || t.external_id
                || ' names the Stripe ' || {KIND_WORDS.format(kind="src.kind")}
            when t.external_id is null then 'no externalid'
            when n.id is null then 'externalid ' || t.external_id || ' names no Stripe record'
            when n.kind <> {EXPECTED_KIND} then 'externalid ' || t.external_id
                || ' names a Stripe ' || {KIND_WORDS.format(kind="n.kind")} || ', but a '
                || t.type || '''s should name a '
                || {KIND_WORDS.format(kind=EXPECTED_KIND)}
            else 'externalid ' || t.external_id || ' names a Stripe '
                || {KIND_WORDS.format(kind="n.kind")} || ' outside this trace'
        end,
        concat_ws(', ',
            'period ' || coalesce(ap.period_name, cast(t.posting_period_id as varchar)),
            case when src.source_at is not null then
                format('{{:.1f}}', epoch(t.created_at - src.source_at) / 86400.0)
                || ' days after ' || src.source_event end,
            case when not t.is_posting then 'non-posting' end,
            case when n.customer_id <> t.customer_id
                 then 'NetSuite customer ' || t.erp_customer_id || ' is another customer' end,
            case when t.type = 'CustPymt' and not t.is_voided
                      and t.transaction_id not in (select transaction_id from applied)
                 then 'applied to no invoice' end),
        case when src.source_at is not null
             then round(epoch(t.created_at - src.source_at) / 86400.0, 2) end,
        t.created_at
    from scoped_postings as t
    left join stripe_sources as src on src.id = t.external_id and src.posting_type = t.type
    left join named as n on n.id = t.external_id
    left join core.accounting_periods as ap on ap.posting_period_id = t.posting_period_id
),
application_hops as (
    select
        'application', 'netsuite',
        a.previous_transaction_id || ':' || a.previous_line_id || '>'
            || a.next_transaction_id || ':' || a.next_line_id,
        coalesce(n.type || ' ' || n.tranid, cast(a.next_transaction_id as varchar)) || ' → '
            || coalesce(p.type || ' ' || p.tranid, cast(a.previous_transaction_id as varchar)),
        'posting:' || case
            when n.transaction_id is not null then a.next_transaction_id
            else a.previous_transaction_id end,
        'applied', coalesce(n.currency, p.currency), a.foreign_amount, 'applied',
        {APPLICATION_DATES},
        'NetSuite previoustransactionlinelink (' || a.link_type || '): '
            || a.next_transaction_id || ' applied to ' || a.previous_transaction_id,
        case
            when n.transaction_id is null then 'payment side ' || a.next_transaction_id
                || ' is outside this trace'
            when p.transaction_id is null then 'applied to ' || a.previous_transaction_id
                || ', outside this trace'
        end,
        cast(null as double),
        coalesce(n.created_at, p.created_at)
    from core.erp_payment_applications as a
    left join scoped_postings as p on p.transaction_id = a.previous_transaction_id
    left join scoped_postings as n on n.transaction_id = a.next_transaction_id
    where p.transaction_id is not null or n.transaction_id is not null
)
select * from opportunity_hops
union all select * from subscription_hops
union all select * from invoice_hops
union all select * from payment_hops
union all select * from credit_note_hops
union all select * from posting_hops
union all select * from application_hops
"""


EXCEPTIONS_SQL = """
select e.exception_id, e.check_id, e.record_system, e.record_id,
       coalesce(k.hop, 'customer') as hop, e.status, e.severity, e.owner,
       e.amount_at_risk_reporting, e.amount_local, e.currency, e.detail,
       e.first_seen_at, e.resolved_at
from recon.exceptions as e
inner join (select unnest($systems::varchar[]) as system, unnest($ids::varchar[]) as id,
                   unnest($hops::varchar[]) as hop) as k
  on k.system = e.record_system
 and (k.id = e.record_id or k.id = split_part(e.record_id, ':', 1))
order by e.status <> 'open', case e.severity when 'high' then 0 when 'medium' then 1 else 2 end,
         e.amount_at_risk_reporting desc nulls last, e.check_id, e.record_id
"""

CUSTOMER_SQL = """
select c.customer_id, c.name, c.entity, c.currency, m.mrr, m.month,
       list({'system': i.system, 'source_id': i.source_id, 'match_method': i.match_method}
            order by case i.system when 'salesforce' then 0 when 'stripe' then 1 else 2 end,
                     i.source_id) as identities
from core.customers as c
left join core.customer_identities as i on i.customer_id = c.customer_id
left join (
    select customer_id, month, sum(mrr) as mrr from metrics.mrr_monthly
    where customer_id = $customer and month = (select max(month) from metrics.mrr_monthly)
    group by all
) as m on m.customer_id = c.customer_id
where c.customer_id = $customer
group by all
"""

SNAPSHOT_SQL = """
select (select max(as_of) from recon.check_runs),
       (select any_value(reporting_currency) from metrics.saas_metrics)
"""


def _seeds(resolution: Resolution) -> dict[str, Any]:
    """The scope query's parameters for a resolution."""
    ids = list(resolution.record_ids)
    params: dict[str, Any] = {
        name: []
        for name in (
            "opportunities",
            "subscriptions",
            "invoices",
            "payments",
            "credit_notes",
            "postings",
        )
    }
    params["customer"] = ids[0] if resolution.kind == "customer" else None
    target = {
        "opportunity": "opportunities",
        "subscription": "subscriptions",
        "invoice": "invoices",
        "payment": "payments",
        "credit_note": "credit_notes",
    }.get(resolution.kind)
    if target is not None:
        params[target] = ids
    if resolution.kind == "posting":
        params["postings"] = [int(i) for i in ids]
    return params


def _hops(con: duckdb.DuckDBPyConnection, resolution: Resolution) -> list[Hop]:
    """The hops of the resolution's scope, unordered."""
    con.execute(SCOPE_SQL, _seeds(resolution))
    rows = con.execute(HOPS_SQL).fetchall()
    names = [c.strip() for c in HOP_COLUMNS.split(",")]
    hops = []
    for row in rows:
        values = dict(zip(names, row, strict=True))
        values["dates"] = tuple((d["what"], d["day"]) for d in values["dates"])
        values["key"] = f"{values['kind']}:{values['record_id']}"
        hops.append(Hop(depth=0, **values))
    return hops


def _ordered(hops: Sequence[Hop]) -> list[Hop]:
    """The hops depth first, each one's children by time; a hop whose parent is not in the
    trace hangs directly under the customer."""
    keys = {h.key for h in hops}
    children: dict[str | None, list[Hop]] = defaultdict(list)
    for hop in hops:
        children[hop.parent if hop.parent in keys else None].append(hop)
    out: list[Hop] = []

    def walk(parent: str | None, depth: int) -> None:
        for hop in sorted(children[parent], key=_chronological):
            out.append(replace(hop, depth=depth, parent=parent))
            walk(hop.key, depth + 1)

    walk(None, 0)
    return out


KIND_ORDER = ("opportunity", "subscription", "invoice", "posting", "payment", "application")


def _chronological(hop: Hop) -> tuple[int, str, str]:
    """Siblings by kind (postings before payments), then by time."""
    kind = KIND_ORDER.index(hop.kind) if hop.kind in KIND_ORDER else len(KIND_ORDER)
    return (kind, hop.at.isoformat() if hop.at is not None else "~", hop.record_id)


def _exceptions(
    con: duckdb.DuckDBPyConnection, hops: Sequence[Hop], customer: Customer | None
) -> list[TraceException]:
    """The exceptions raised on the hops' records and the customer's source records."""
    keys = [(h.system, h.record_id, h.key) for h in hops]
    if customer is not None:
        keys += [(i.system, i.source_id, "customer") for i in customer.identities]
    params = {
        "systems": [s for s, _, _ in keys],
        "ids": [i for _, i, _ in keys],
        "hops": [k for _, _, k in keys],
    }
    rows = con.execute(EXCEPTIONS_SQL, params).fetchall()
    return [TraceException(*row) for row in rows]


def _customer(con: duckdb.DuckDBPyConnection, customer_id: str | None) -> Customer | None:
    if customer_id is None:
        return None
    rows = con.execute(CUSTOMER_SQL, {"customer": customer_id}).fetchall()
    if not rows:
        return None
    cid, name, entity, currency, mrr, month, identities = rows[0]
    return Customer(
        customer_id=cid,
        name=name,
        entity=entity,
        currency=currency,
        mrr=mrr,
        mrr_month=month,
        identities=tuple(Identity(**i) for i in identities if i["source_id"] is not None),
    )


def _trace_customer(
    con: duckdb.DuckDBPyConnection, resolution: Resolution, hops: Sequence[Hop]
) -> str | None:
    """The customer of the trace: the resolution's, else the one its records share."""
    if resolution.customer_id is not None:
        return resolution.customer_id
    ids = [h.record_id for h in hops if h.kind == "invoice"]
    rows = con.execute(
        "select distinct customer_id from core.invoices "
        "where list_contains($ids::varchar[], invoice_id) and customer_id is not null",
        {"ids": ids},
    ).fetchall()
    return str(rows[0][0]) if len(rows) == 1 else None


def trace(con: duckdb.DuckDBPyConnection, record_id: str) -> Trace:
    """The path of the record ``record_id`` names, read from the serving snapshot ``con``.

    Raises:
        TraceError: No record of the snapshot has this id, or the snapshot lacks a table the
            trace reads (one sentence: what was not found and what to try).
    """
    try:
        resolution = resolve(con, record_id)
        hops = _hops(con, resolution)
        customer = _customer(con, _trace_customer(con, resolution, hops))
        exceptions = _exceptions(con, hops, customer)
        as_of, reporting_currency = con.execute(SNAPSHOT_SQL).fetchall()[0]
    except duckdb.CatalogException as exc:
        first = str(exc).splitlines()[0].removeprefix("Catalog Error: ").rstrip(".!")
        raise TraceError(
            f"the serving snapshot lacks what the trace reads ({first}): it predates this "
            "version of revops; run `revops run` to publish a new one"
        ) from exc
    on_hop: dict[str, list[str]] = defaultdict(list)
    for found in exceptions:
        on_hop[found.hop].append(found.check_id)
    ordered = [replace(h, exceptions=tuple(on_hop.get(h.key, ()))) for h in _ordered(hops)]
    return Trace(
        query=record_id.strip(),
        resolution=resolution,
        as_of=as_of,
        reporting_currency=reporting_currency,
        customer=customer,
        hops=tuple(ordered),
        exceptions=tuple(exceptions),
    )


# --- formats -----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON value: decimals as exact strings, dates and instants ISO-8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def as_json(found: Trace) -> str:
    """The trace as JSON: every hop (none left out) with its parent key and depth, amounts
    as exact decimal strings, dates ``YYYY-MM-DD``."""
    data = asdict(found)
    for hop in data["hops"]:
        hop["dates"] = {what: day for what, day in hop["dates"]}
    return json.dumps(_plain(data), indent=2, ensure_ascii=False)


def money(amount: Decimal | None, currency: str | None) -> str:
    """``USD 1,234.50`` (no decimals for a zero-decimal currency); empty when no amount.

    Example:
        >>> money(Decimal("1234.5"), "USD")
        'USD 1,234.50'
    """
    if amount is None:
        return ""
    places = 0 if (currency or "").upper() in ZERO_DECIMAL else 2
    return f"{currency or '?'} {amount:,.{places}f}"


def _when(value: datetime | date | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d")


def _header(found: Trace) -> list[str]:
    r = found.resolution
    lines = [f"trace {found.query}: {r.via} (snapshot as of {_when(found.as_of) or '?'})"]
    lines += [f"  {sentence}" for sentence in r.also]
    c = found.customer
    if c is None:
        lines.append("customer: none resolved")
        return lines
    mrr = (
        f", MRR {money(c.mrr, c.currency)} in {c.mrr_month:%Y-%m}"
        if c.mrr is not None and c.mrr_month is not None and c.currency != "MULTI"
        else ""
    )
    facts = ", ".join(filter(None, [c.entity and f"entity {c.entity}", c.currency]))
    lines.append(f"customer {c.customer_id} {c.name or '?'} ({facts or 'no entity'}{mrr})")
    lines += [
        f"  {i.system} {i.source_id} ({IDENTITY_MATCH.get(i.match_method, i.match_method)})"
        for i in c.identities
    ]
    return lines


IDENTITY_MATCH = {
    "crm_account": "the Salesforce Account",
    "stripe_metadata": "metadata.salesforce_account_id names the Account",
    "netsuite_externalid": "externalid names the Stripe customer",
    "unlinked": "linked to nothing: a customer of its own",
}


def _has_exceptions(hops: Sequence[Hop]) -> set[str]:
    """The keys of the hops with an exception on them or on a hop below them."""
    parent = {h.key: h.parent for h in hops}
    marked: set[str] = set()
    for hop in hops:
        key: str | None = hop.key if hop.exceptions else None
        while key is not None and key not in marked:
            marked.add(key)
            key = parent.get(key)
    return marked


def _shown(found: Trace) -> tuple[list[Hop | str], int]:
    """The rows the table shows: hops, and under a parent whose children were capped a
    sentence saying how many were left out (at most MAX_INVOICES_SHOWN invoices per parent
    and MAX_BRANCHES_SHOWN branches under the customer; those with exceptions first, then the
    newest). Also the
    number of hops left out."""
    flagged = _has_exceptions(found.hops)
    siblings: dict[str | None, list[Hop]] = defaultdict(list)
    for hop in found.hops:
        if hop.parent is None or hop.kind == "invoice":
            siblings[hop.parent].append(hop)
    dropped: set[str] = set()
    notes: dict[str | None, str] = {}
    for parent, group in siblings.items():
        cap = MAX_BRANCHES_SHOWN if parent is None else MAX_INVOICES_SHOWN
        if len(group) <= cap:
            continue
        ranked = sorted(group, key=lambda h: (h.key in flagged, _when(h.at)), reverse=True)
        cut = ranked[cap:]
        dropped |= {h.key for h in cut}
        with_exceptions = sum(h.key in flagged for h in cut)
        what = "invoices" if parent is not None else "branches"
        notes[parent] = (
            f"{len(cut)} more {what} not shown ({with_exceptions} with exceptions; the "
            "ones shown: with exceptions first, then the newest; --format json lists all)"
        )
    rows: list[Hop | str] = []
    hidden: set[str] = set()
    for hop in found.hops:
        if hop.key in dropped or hop.parent in hidden:
            hidden.add(hop.key)
            continue
        rows.append(hop)
        if hop.key in notes:
            rows.append(notes.pop(hop.key))
    rows += notes.values()
    return rows, len(hidden)


def _hop_cells(hop: Hop) -> list[str]:
    mark = " !" if hop.exceptions else ""
    name = "  " * hop.depth + hop.kind.replace("_", " ") + mark
    ident = hop.record_id + (f"\n{hop.label}" if hop.label else "")
    dates = "\n".join(f"{what} {day:%Y-%m-%d}" for what, day in hop.dates)
    amount = money(hop.amount, hop.currency)
    if amount and hop.amount_label:
        amount += f"\n{hop.amount_label}"
    link = hop.match + (f"\n{hop.note}" if hop.note else "")
    return [name, ident, "\n".join(filter(None, [hop.status, dates])), amount, link]


def _exception_cells(exc: TraceException, currency: str | None) -> list[str]:
    at_risk = money(exc.amount_at_risk, currency)
    if exc.currency and exc.currency != currency and exc.amount_local is not None:
        at_risk += f"\n({money(exc.amount_local, exc.currency)})"
    on = exc.hop.split(":", 1)[0].replace("_", " ")
    return [
        f"{exc.check_id}\non {on} {exc.record_id}",
        f"{exc.status}\n{exc.severity or ''}, {exc.owner or ''}",
        at_risk,
        exc.detail,
    ]


# The columns that wrap, and their widest (the id column grows with the terminal, up to 48).
FOLDED = {"id": 30, "check": 34, "status": 18, "status · dates": 22}


def _rich_table(headers: Sequence[str], rows: Iterable[list[str] | str], width: int) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    grid = Table(
        box=box.SIMPLE_HEAD, pad_edge=False, header_style="bold", show_edge=False, expand=True
    )
    for header in headers[:-1]:
        if header in FOLDED:
            widest = min(max(FOLDED[header], width // 5), 48) if header == "id" else None
            grid.add_column(header, overflow="fold", max_width=widest or FOLDED[header])
        else:
            grid.add_column(header, no_wrap=True, justify="right" if header == "amount" else "left")
    grid.add_column(headers[-1], overflow="fold", ratio=1, min_width=24)
    for row in rows:
        if isinstance(row, str):
            grid.add_row("…", *[""] * (len(headers) - 2), row)
        else:
            grid.add_row(*row)
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, highlight=False).print(grid)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


def _blocks(rows: Iterable[list[str] | str], width: int) -> str:
    """The narrow layout: a row's first two cells on one line, its other cells wrapped below."""
    width = max(width, 40)
    out: list[str] = []
    for row in rows:
        if isinstance(row, str):
            out += textwrap.wrap(row, width=width)
            continue
        head, ident, *rest = (" · ".join(p for p in cell.split("\n") if p) for cell in row)
        depth = len(row[0]) - len(row[0].lstrip())
        pad = " " * (depth + 4)
        out += textwrap.wrap(
            f"{head.strip()}  {ident}",
            width=width,
            initial_indent=" " * depth,
            subsequent_indent=pad,
        )
        for text in rest:
            out += textwrap.wrap(text, width=width, initial_indent=pad, subsequent_indent=pad)
    return "\n".join(out)


def render(found: Trace, width: int = 120) -> str:
    """The trace as text for a terminal ``width`` characters wide: the customer, the hops as
    an indented tree (a table on a wide terminal), then the exceptions on the path."""
    rows, hidden = _shown(found)
    hop_rows: list[list[str] | str] = [r if isinstance(r, str) else _hop_cells(r) for r in rows]
    exc_rows: list[list[str] | str] = [
        _exception_cells(e, found.reporting_currency)
        for e in found.exceptions[:MAX_EXCEPTIONS_SHOWN]
    ]
    if len(found.exceptions) > MAX_EXCEPTIONS_SHOWN:
        more = len(found.exceptions) - MAX_EXCEPTIONS_SHOWN
        exc_rows.append(f"… {more} more exceptions not shown (--format json lists them all)")
    hop_headers = ("hop", "id", "status · dates", "amount", "linked by · note")
    exc_headers = ("check", "status", "at risk", "detail")
    if width >= WIDE:
        hops_text = _rich_table(hop_headers, hop_rows, width)
        exc_text = _rich_table(exc_headers, exc_rows, width)
    else:
        hops_text = _blocks(hop_rows, width)
        exc_text = _blocks(exc_rows, width)
    open_count = sum(e.status == "open" for e in found.exceptions)
    summary = (
        f"{len(found.hops)} hops ({hidden} not shown), {len(found.exceptions)} exceptions "
        f"({open_count} open)"
    )
    header = [
        "\n".join(textwrap.wrap(line, width=max(width, 40), subsequent_indent="    "))
        for line in _header(found)
    ]
    parts = ["\n".join(header), hops_text or "no hops"]
    parts.append(f"exceptions on the path ({open_count} open):\n{exc_text}" if exc_rows else "")
    parts.append(summary)
    return "\n\n".join(p for p in parts if p)
