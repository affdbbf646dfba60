-- grain: one row per Stripe charge (payment_id = charge id)
-- invoice_id: the invoice the charge pays through its invoice payment (a paid one first).
with charges as (
    select * from {{ ref('stg_stripe__charges') }}
),

invoice_payments as (
    select * from {{ ref('invoice_payments') }}
),

identities as (
    select * from {{ ref('int_customer_identities') }}
),

charge_invoices as (
    select
        payment_id,
        invoice_id,
        invoice_payment_id,
        status,
        row_number() over (
            partition by payment_id
            order by case when status = 'paid' then 0 else 1 end, created_at desc,
                invoice_payment_id
        ) as payment_rank
    from invoice_payments
    where payment_id is not null
),

final as (
    select
        cast(c.charge_id as varchar) as payment_id,
        cast(ci.invoice_id as varchar) as invoice_id,
        cast(c.stripe_customer_id as varchar) as billing_customer_id,
        cast(i.customer_id as varchar) as customer_id,
        cast(c.status as varchar) as status,
        cast(c.amount as decimal(18, 2)) as amount,
        cast(c.amount_captured as decimal(18, 2)) as amount_captured,
        cast(c.amount_refunded as decimal(18, 2)) as amount_refunded,
        cast(c.currency as varchar) as currency,
        cast(c.created_at as timestamp with time zone) as created_at,
        cast(c.is_paid as boolean) as is_paid,
        cast(c.is_refunded as boolean) as is_refunded,
        cast(c.failure_code as varchar) as failure_code,
        cast(c.payment_intent_id as varchar) as payment_intent_id,
        cast(ci.invoice_payment_id as varchar) as invoice_payment_id,
        cast(ci.status as varchar) as invoice_payment_status
    from charges as c
    left join charge_invoices as ci
        on c.charge_id = ci.payment_id
        and ci.payment_rank = 1
    left join identities as i
        on i.system = 'stripe'
        and c.stripe_customer_id = i.source_id
)

select * from final
