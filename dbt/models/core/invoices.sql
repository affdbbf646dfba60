-- grain: one row per Stripe invoice
-- total_reporting: the total at the rate of the UTC date it was finalized (created, if not).
with invoices as (
    select * from {{ ref('stg_stripe__invoices') }}
),

identities as (
    select * from {{ ref('int_customer_identities') }}
),

customers as (
    select * from {{ ref('customers') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates') }}
),

dated as (
    select
        *,
        cast(coalesce(finalized_at, created_at) as date) as fx_rate_date
    from invoices
),

final as (
    select
        cast(v.invoice_id as varchar) as invoice_id,
        cast(v.invoice_number as varchar) as number,
        cast(v.stripe_customer_id as varchar) as billing_customer_id,
        cast(i.customer_id as varchar) as customer_id,
        cast(c.entity as varchar) as entity,
        cast(v.status as varchar) as status,
        cast(v.billing_reason as varchar) as billing_reason,
        cast(v.collection_method as varchar) as collection_method,
        cast(v.currency as varchar) as currency,
        cast(v.created_at as timestamp with time zone) as created_at,
        cast(v.finalized_at as timestamp with time zone) as finalized_at,
        cast(v.paid_at as timestamp with time zone) as paid_at,
        cast(v.voided_at as timestamp with time zone) as voided_at,
        cast(v.marked_uncollectible_at as timestamp with time zone) as marked_uncollectible_at,
        cast(v.due_at as timestamp with time zone) as due_at,
        cast(v.period_start_at as timestamp with time zone) as period_start_at,
        cast(v.period_end_at as timestamp with time zone) as period_end_at,
        cast(v.subtotal as decimal(18, 2)) as subtotal,
        cast(v.total as decimal(18, 2)) as total,
        cast(v.total_excluding_tax as decimal(18, 2)) as total_excluding_tax,
        cast(v.amount_due as decimal(18, 2)) as amount_due,
        cast(v.amount_paid as decimal(18, 2)) as amount_paid,
        cast(v.amount_remaining as decimal(18, 2)) as amount_remaining,
        cast(v.subscription_id as varchar) as subscription_id,
        cast(v.status in ('open', 'paid', 'uncollectible') as boolean) as is_finalized,
        cast(x.rate as decimal(18, 8)) as fx_rate,
        cast(round(v.total * x.rate, 2) as decimal(18, 2)) as total_reporting
    from dated as v
    left join identities as i
        on i.system = 'stripe'
        and v.stripe_customer_id = i.source_id
    left join customers as c on i.customer_id = c.customer_id
    left join fx_rates as x
        on v.currency = x.currency
        and x.valid_from <= v.fx_rate_date
        and v.fx_rate_date < x.valid_to
)

select * from final
