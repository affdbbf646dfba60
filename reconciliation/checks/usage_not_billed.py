"""Metered usage of a calendar month that the month's invoice lines do not bill.

Compared per meter, for the meters of the prices the customer subscribes to: usage on a meter
that no price of the customer's uses is not billable (core.usage.is_billable) and never counted.
"""

from reconciliation.catalog import Check

CHECK = Check(
    check_id="usage_not_billed",
    title="Usage not billed",
    compares=("stripe", "stripe"),
    record_system="stripe",
    owner="billing",
    params={"sla_days": 2, "tolerance": 0.005},
    sql="""
    with months_done as (
        -- only usage on a meter of a price the customer subscribes to is billable
        select * from core.usage
        where is_billable
          and usage_month + interval 1 month
              <= {as_of} - to_seconds(cast({sla_days} * 86400 as bigint))
    ),
    events as (
        select billing_customer_id, max(customer_id) as customer_id, meter_id, usage_month,
               sum(quantity) as used
        from months_done
        group by billing_customer_id, meter_id, usage_month
    ),
    billed as (
        -- a metered line bills the meter of its price (a price the customer subscribes to)
        select l.billing_customer_id, l.meter_id,
               cast(date_trunc('month', l.period_start_at) as date) as usage_month,
               sum(l.quantity) as billed, max(l.unit_amount) as unit_amount,
               max(l.currency) as currency
        from core.invoice_lines l
        join core.invoices i on i.invoice_id = l.invoice_id and i.status <> 'void'
        where l.line_type = 'metered' and l.meter_id is not null
        group by all
    ),
    per_meter as (
        -- one row per customer, meter and month: the meter's usage against its billed lines
        select
            coalesce(e.billing_customer_id, b.billing_customer_id) as billing_customer_id,
            e.customer_id,
            coalesce(e.usage_month, b.usage_month) as usage_month,
            coalesce(e.used, 0) as used,
            coalesce(b.billed, 0) as billed,
            b.unit_amount, b.currency
        from events e
        full join billed b
          on b.billing_customer_id = e.billing_customer_id and b.meter_id = e.meter_id
         and b.usage_month = e.usage_month
        where coalesce(e.usage_month, b.usage_month) + interval 1 month
              <= {as_of} - to_seconds(cast({sla_days} * 86400 as bigint))
    ),
    per_month as (
        -- one exception per customer and month when any of its meters differs
        select billing_customer_id, max(customer_id) as customer_id, usage_month,
               sum(used) as used, sum(billed) as billed,
               bool_or(abs(used - billed) > {tolerance} * greatest(used, billed)) as differs,
               sum(greatest(used - billed, 0) * coalesce(unit_amount, 0)) as unbilled_amount,
               max(currency) as currency
        from per_meter group by all
    )
    select
        p.billing_customer_id || ':' || strftime(p.usage_month, '%Y-%m') as record_id,
        coalesce(p.customer_id, i.customer_id) as customer_id,
        c.entity,
        coalesce(p.currency, c.currency) as currency,
        p.unbilled_amount as amount,
        p.differs as is_exception,
        'Stripe customer ' || p.billing_customer_id || ' reported ' || p.used
            || ' units of metered usage in ' || strftime(p.usage_month, '%Y-%m')
            || ' but was billed for ' || p.billed as detail
    from per_month p
    left join core.customer_identities i
      on i.system = 'stripe' and i.source_id = p.billing_customer_id
    left join core.customers c on c.customer_id = coalesce(p.customer_id, i.customer_id)
    """,
)
