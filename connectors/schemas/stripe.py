"""Stripe objects (API version 2026-10-28.endive) as the loader types and validates them."""

from __future__ import annotations

from connectors.schemas.fields import ChildSpec, Field, Hold, ObjectSpec, Reference

S = "stripe"


def sid(prefix: str) -> str:
    """Pattern of a Stripe id with ``prefix`` (``cus``, ``in``…)."""
    return rf"^{prefix}_[A-Za-z0-9]+$"


INVOICE_STATUS = ("draft", "open", "paid", "uncollectible", "void")
SUBSCRIPTION_STATUS = (
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
)

CUSTOMERS = ObjectSpec(
    S,
    "customers",
    "customers",
    ("id",),
    (
        Field("id", "str", required=True, pattern=sid("cus")),
        Field("created", "epoch", required=True),
        Field("email", "str"),
        Field("name", "str"),
        Field("currency", "str", currency=True),
        Field("salesforce_account_id", "str", path="$.metadata.salesforce_account_id"),
        Field("address_country", "str", path="$.address.country"),
        Field("tax_exempt", "str", enum=("none", "exempt", "reverse")),
        Field("deleted", "bool"),
        Field("metadata", "json"),
    ),
    modified_at="created",
    cursor="created",
    file_required=True,
)
PRODUCTS = ObjectSpec(
    S,
    "products",
    "products",
    ("id",),
    (
        Field("id", "str", required=True, pattern=sid("prod")),
        Field("name", "str", required=True),
        Field("active", "bool"),
        Field("created", "epoch"),
        Field("updated", "epoch"),
        Field("metadata", "json"),
    ),
    modified_at="coalesce(updated, created)",
    cursor="created",
    file_required=True,
)
PRICES = ObjectSpec(
    S,
    "prices",
    "prices",
    ("id",),
    (
        Field("id", "str", required=True, pattern=sid("price")),
        Field("product", "str", required=True, pattern=sid("prod")),
        Field("currency", "str", required=True, currency=True),
        Field("unit_amount", "int", min_value=0),
        Field("unit_amount_decimal", "str", pattern=r"^\d+(\.\d+)?$"),
        Field("type", "str", required=True, enum=("one_time", "recurring")),
        Field(
            "interval", "str", path="$.recurring.interval", enum=("day", "week", "month", "year")
        ),
        Field("interval_count", "int", path="$.recurring.interval_count", min_value=1),
        Field("usage_type", "str", path="$.recurring.usage_type", enum=("licensed", "metered")),
        Field("meter", "str", path="$.recurring.meter"),
        Field("lookup_key", "str"),
        Field("active", "bool"),
        Field("created", "epoch"),
    ),
    modified_at="created",
    references=(Reference("product", "products"),),
    cursor="created",
    file_required=True,
)
SUBSCRIPTIONS = ObjectSpec(
    S,
    "subscriptions",
    "subscriptions",
    ("id",),
    (
        Field("id", "str", required=True, pattern=sid("sub")),
        Field("customer", "str", required=True, pattern=sid("cus")),
        Field("status", "str", required=True, enum=SUBSCRIPTION_STATUS),
        Field("currency", "str", currency=True),
        Field("created", "epoch"),
        Field("start_date", "epoch"),
        Field("billing_cycle_anchor", "epoch"),
        Field("cancel_at", "epoch"),
        Field("canceled_at", "epoch"),
        Field("cancel_at_period_end", "bool"),
        Field("ended_at", "epoch"),
        Field("trial_start", "epoch"),
        Field("trial_end", "epoch"),
        # Before API version 2025-03-31 the current period is on the subscription, not its items.
        Field("current_period_start", "epoch"),
        Field("current_period_end", "epoch"),
        Field("salesforce_opportunity_id", "str", path="$.metadata.salesforce_opportunity_id"),
        Field("discounts", "json"),
        Field("metadata", "json"),
    ),
    modified_at="greatest(created, start_date, canceled_at, ended_at)",
    children=(
        ChildSpec(
            "subscription_items",
            "$.items.data",
            "subscription_id",
            (
                Field("id", "str", required=True, pattern=sid("si")),
                Field("price_id", "str", path="$.price.id", required=True, pattern=sid("price")),
                Field("quantity", "int", min_value=0),
                Field("current_period_start", "epoch"),
                Field("current_period_end", "epoch"),
            ),
        ),
    ),
    references=(Reference("price_id", "prices", child="subscription_items"),),
    cursor="created",
    holds=(Hold("customer", "customers"),),
    file_required=True,
)
INVOICES = ObjectSpec(
    S,
    "invoices",
    "invoices",
    ("id",),
    (
        Field("id", "str", required=True, pattern=sid("in")),
        Field("number", "str"),
        Field("customer", "str", required=True, pattern=sid("cus")),
        Field("status", "str", required=True, enum=INVOICE_STATUS),
        Field("billing_reason", "str"),
        Field("collection_method", "str", enum=("charge_automatically", "send_invoice")),
        Field("currency", "str", required=True, currency=True),
        Field("created", "epoch", required=True),
        Field("effective_at", "epoch"),
        Field("due_date", "epoch"),
        Field("period_start", "epoch"),
        Field("period_end", "epoch"),
        Field("subtotal", "int"),
        Field("total", "int", required=True),
        Field("total_excluding_tax", "int"),
        Field("amount_due", "int"),
        Field("amount_paid", "int"),
        Field("amount_remaining", "int"),
        Field("post_payment_credit_notes_amount", "int"),
        Field("finalized_at", "epoch", path="$.status_transitions.finalized_at"),
        Field("paid_at", "epoch", path="$.status_transitions.paid_at"),
        Field("voided_at", "epoch", path="$.status_transitions.voided_at"),
        Field(
            "marked_uncollectible_at", "epoch", path="$.status_transitions.marked_uncollectible_at"
        ),
        Field(
            "subscription_id",
            "str",
            path="$.parent.subscription_details.subscription",
            pattern=sid("sub"),
            alt_paths=("$.subscription",),
        ),
        # Before API version 2025-03-31: informational, the status and invoice payments say it.
        Field("paid", "bool"),
        Field("charge", "str"),
        Field("total_discount_amounts", "json"),
        Field("total_taxes", "json", alt_paths=("$.total_tax_amounts",)),
    ),
    modified_at="greatest(created, finalized_at, paid_at, voided_at, marked_uncollectible_at)",
    children=(
        ChildSpec(
            "invoice_lines",
            "$.lines.data",
            "invoice_id",
            (
                Field("id", "str", required=True, pattern=sid("il")),
                Field("amount", "int", required=True),
                Field("currency", "str", currency=True),
                Field("description", "str"),
                Field("quantity", "int", min_value=0),
                Field("period_start", "epoch", path="$.period.start"),
                Field("period_end", "epoch", path="$.period.end"),
                # Lines of API versions before 2025-03-31 carry the price object (``price``),
                # ``proration``, ``subscription``, ``subscription_item`` and ``type`` instead
                # of ``pricing`` and ``parent``.
                Field(
                    "price_id",
                    "str",
                    path="$.pricing.price_details.price",
                    pattern=sid("price"),
                    alt_paths=("$.price.id",),
                ),
                Field(
                    "product_id",
                    "str",
                    path="$.pricing.price_details.product",
                    alt_paths=("$.price.product",),
                ),
                Field(
                    "unit_amount_decimal",
                    "str",
                    path="$.pricing.unit_amount_decimal",
                    alt_paths=("$.price.unit_amount_decimal",),
                ),
                Field("discount_amounts", "json"),
                Field("taxes", "json", alt_paths=("$.tax_amounts",)),
                Field("parent_type", "str", path="$.parent.type"),
                Field(
                    "proration",
                    "bool",
                    path="$.parent.subscription_item_details.proration",
                    alt_paths=("$.proration",),
                ),
                Field(
                    "subscription_id",
                    "str",
                    path="$.parent.subscription_item_details.subscription",
                    alt_paths=("$.subscription",),
                ),
                Field(
                    "subscription_item_id",
                    "str",
                    path="$.parent.subscription_item_details.subscription_item",
                    alt_paths=("$.subscription_item",),
                ),
                Field("legacy_type", "str", path="$.type", enum=("subscription", "invoiceitem")),
            ),
        ),
    ),
    references=(Reference("price_id", "prices", child="invoice_lines"),),
    cursor="created",
    holds=(Hold("customer", "customers"), Hold("subscription_id", "subscriptions")),
    file_required=True,
)
INVOICE_PAYMENTS = ObjectSpec(
    S,
    "invoice_payments",
    "invoice_payments",
    ("id",),
    (
        Field("id", "str", required=True, pattern=sid("inpay")),
        Field("invoice", "str", required=True, pattern=sid("in")),
        Field("amount_paid", "int"),
        Field("amount_requested", "int"),
        Field("currency", "str", currency=True),
        Field("status", "str", required=True, enum=("open", "paid", "canceled")),
        Field("is_default", "bool"),
        Field("payment_type", "str", path="$.payment.type", enum=("charge", "payment_intent")),
        Field("charge", "str", path="$.payment.charge", pattern=sid("ch")),
        Field("payment_intent", "str", path="$.payment.payment_intent"),
        Field("paid_at", "epoch", path="$.status_transitions.paid_at"),
        Field("canceled_at", "epoch", path="$.status_transitions.canceled_at"),
        Field("created", "epoch", required=True),
    ),
    modified_at="greatest(created, paid_at, canceled_at)",
    cursor="created",
    holds=(Hold("invoice", "invoices"),),
)
CREDIT_NOTES = ObjectSpec(
    S,
    "credit_notes",
    "credit_notes",
    ("id",),
    (
        Field("id", "str", required=True, pattern=sid("cn")),
        Field("number", "str"),
        Field("invoice", "str", required=True, pattern=sid("in")),
        Field("customer", "str", required=True, pattern=sid("cus")),
        Field("status", "str", required=True, enum=("issued", "void")),
        Field("type", "str", enum=("pre_payment", "post_payment", "mixed")),
        Field("reason", "str"),
        Field("amount", "int"),
        Field("subtotal", "int"),
        Field("total", "int", required=True),
        Field("currency", "str", currency=True),
        Field("effective_at", "epoch"),
        Field("created", "epoch"),
        Field("voided_at", "epoch"),
        Field("refunds", "json"),
    ),
    modified_at="greatest(created, effective_at, voided_at)",
    holds=(Hold("invoice", "invoices"), Hold("customer", "customers")),
    children=(
        ChildSpec(
            "credit_note_lines",
            "$.lines.data",
            "credit_note_id",
            (
                Field("id", "str", required=True, pattern=sid("cnli")),
                Field("amount", "int"),
                Field("quantity", "int", min_value=0),
                Field("type", "str"),
                Field("invoice_line_item", "str"),
                Field("description", "str"),
            ),
        ),
    ),
    cursor="created",
)
CHARGES = ObjectSpec(
    S,
    "charges",
    "charges",
    ("id",),
    (
        Field("id", "str", required=True, pattern=sid("ch")),
        Field("amount", "int", required=True, min_value=0),
        Field("amount_captured", "int", min_value=0),
        Field("amount_refunded", "int", min_value=0),
        Field("currency", "str", required=True, currency=True),
        Field("customer", "str", pattern=sid("cus")),
        Field("status", "str", required=True, enum=("succeeded", "pending", "failed")),
        Field("paid", "bool"),
        Field("refunded", "bool"),
        Field("created", "epoch", required=True),
        Field("payment_intent", "str"),
        Field("balance_transaction", "str"),
        Field("failure_code", "str"),
        # Before API version 2025-03-31 a charge names the invoice it paid.
        Field("invoice", "str", pattern=sid("in")),
        Field("metadata", "json"),
    ),
    modified_at="created",
    cursor="created",
    holds=(Hold("customer", "customers"),),
)
REFUNDS = ObjectSpec(
    S,
    "refunds",
    "refunds",
    ("id",),
    (
        Field("id", "str", required=True, pattern=sid("re")),
        Field("amount", "int", required=True, min_value=0),
        Field("charge", "str", pattern=sid("ch")),
        Field("currency", "str", required=True, currency=True),
        Field(
            "status",
            "str",
            enum=("pending", "requires_action", "succeeded", "failed", "canceled"),
        ),
        Field("reason", "str"),
        Field("created", "epoch", required=True),
    ),
    modified_at="created",
    cursor="created",
)
BILLING_METERS = ObjectSpec(
    S,
    "billing_meters",
    "billing_meters",
    ("id",),
    (
        Field("id", "str", required=True, pattern=sid("mtr")),
        Field("event_name", "str", required=True),
        Field(
            "formula", "str", path="$.default_aggregation.formula", enum=("sum", "count", "last")
        ),
        Field("status", "str", enum=("active", "inactive")),
        Field("display_name", "str"),
        Field("created", "epoch"),
        Field("updated", "epoch"),
    ),
    modified_at="coalesce(updated, created)",
)
METER_EVENTS = ObjectSpec(
    S,
    "meter_events",
    "meter_events",
    ("identifier",),
    (
        Field("identifier", "str", required=True),
        Field("event_name", "str", required=True),
        Field(
            "stripe_customer_id",
            "str",
            path="$.payload.stripe_customer_id",
            required=True,
            pattern=sid("cus"),
        ),
        Field("value", "str", path="$.payload.value", required=True, pattern=r"^-?\d+(\.\d+)?$"),
        Field("timestamp", "epoch", required=True),
        Field("created", "epoch"),
    ),
    modified_at="timestamp",
    cursor="timestamp",
)

# What the system's raw tables hold (the dbt sources' description).
DESCRIPTION = (
    "Stripe billing objects (API version 2026-10-28.endive) as loaded by connectors.load: "
    "typed columns, the raw record in _payload, latest version wins. Money in integer "
    "minor units, times TIMESTAMPTZ. Objects of API versions before 2025-03-31 fill the "
    "same columns from their own paths, plus subscriptions.current_period_*, "
    "invoices.paid/charge, invoice_lines.legacy_type and charges.invoice (null under the "
    "current version)."
)

OBJECTS: tuple[ObjectSpec, ...] = (
    CUSTOMERS,
    PRODUCTS,
    PRICES,
    SUBSCRIPTIONS,
    INVOICES,
    INVOICE_PAYMENTS,
    CREDIT_NOTES,
    CHARGES,
    REFUNDS,
    BILLING_METERS,
    METER_EVENTS,
)
