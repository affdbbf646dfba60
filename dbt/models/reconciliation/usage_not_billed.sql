-- grain: one row per Stripe customer and calendar month ended before the SLA with billable
-- metered usage or metered lines
-- exception: a meter's usage differs from what the month's invoice lines bill (beyond the
-- tolerance). Compared per meter, for the meters of the prices the customer subscribes to:
-- usage on a meter no price of the customer's uses is not billable (core.usage.is_billable)
-- and never counted.
-- discrepancy_at: the end of the month (its usage was due to be billed by then)
{%- set sla_days = recon_param('sla_days') %}
with as_of as (
    select as_of_at from {{ ref('int_as_of') }}
),

months_done as (
    -- only usage on a meter of a price the customer subscribes to is billable
    select u.*
    from {{ ref('usage') }} as u
    cross join as_of as a
    where u.is_billable
      and {{ dbt.dateadd('month', 1, 'u.usage_month') }}
          <= {{ recon_days_before('a.as_of_at', sla_days) }}
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
           cast({{ dbt.date_trunc('month', 'l.period_start_at') }} as date) as usage_month,
           sum(l.quantity) as billed, max(l.unit_amount) as unit_amount,
           max(l.currency) as currency
    from {{ ref('invoice_lines') }} as l
    inner join {{ ref('invoices') }} as i on i.invoice_id = l.invoice_id and i.status <> 'void'
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
    from events as e
    full join billed as b
      on b.billing_customer_id = e.billing_customer_id and b.meter_id = e.meter_id
     and b.usage_month = e.usage_month
    cross join as_of as a
    where {{ dbt.dateadd('month', 1, 'coalesce(e.usage_month, b.usage_month)') }}
          <= {{ recon_days_before('a.as_of_at', sla_days) }}
),

per_month as (
    -- one exception per customer and month when any of its meters differs
    select billing_customer_id, max(customer_id) as customer_id, usage_month,
           sum(used) as used, sum(billed) as billed,
           bool_or(abs(used - billed) > {{ recon_param('tolerance') }} * greatest(used, billed))
               as differs,
           sum(greatest(used - billed, 0) * coalesce(unit_amount, 0)) as unbilled_amount,
           max(currency) as currency
    from per_meter group by all
)

select
    p.billing_customer_id || ':' || {{ recon_strftime('p.usage_month', '%Y-%m') }} as record_id,
    coalesce(p.customer_id, i.customer_id) as customer_id,
    c.entity,
    coalesce(p.currency, c.currency) as currency,
    p.unbilled_amount as amount,
    p.differs as is_exception,
    'Stripe customer ' || p.billing_customer_id || ' reported ' || p.used
        || ' units of metered usage in ' || {{ recon_strftime('p.usage_month', '%Y-%m') }}
        || ' but was billed for ' || p.billed as detail,
    cast({{ dbt.dateadd('month', 1, 'p.usage_month') }} as {{ revops_column_type('timestamp_tz') }}) as discrepancy_at
from per_month as p
left join {{ ref('customer_identities') }} as i
  on i.system = 'stripe' and i.source_id = p.billing_customer_id
left join {{ ref('customers') }} as c on c.customer_id = coalesce(p.customer_id, i.customer_id)
