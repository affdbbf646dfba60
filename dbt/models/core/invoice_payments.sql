-- grain: one row per Stripe invoice payment
-- payment_id is the charge that paid (directly, or through the payment intent it settled).
with invoice_payments as (
    select * from {{ ref('stg_stripe__invoice_payments') }}
),

charges as (
    select * from {{ ref('stg_stripe__charges') }}
),

intent_charges as (
    select
        payment_intent_id,
        charge_id,
        row_number() over (
            partition by payment_intent_id
            order by case when status = 'succeeded' then 0 else 1 end, created_at desc, charge_id
        ) as charge_rank
    from charges
    where payment_intent_id is not null
),

final as (
    select
        cast(p.invoice_payment_id as varchar) as invoice_payment_id,
        cast(p.invoice_id as varchar) as invoice_id,
        cast(coalesce(p.charge_id, c.charge_id) as varchar) as payment_id,
        cast(p.status as varchar) as status,
        cast(p.payment_type as varchar) as payment_type,
        cast(p.payment_intent_id as varchar) as payment_intent_id,
        cast(p.is_default as boolean) as is_default,
        cast(p.amount_paid as decimal(18, 2)) as amount_paid,
        cast(p.amount_requested as decimal(18, 2)) as amount_requested,
        cast(p.currency as varchar) as currency,
        cast(p.created_at as timestamp with time zone) as created_at,
        cast(p.paid_at as timestamp with time zone) as paid_at,
        cast(p.canceled_at as timestamp with time zone) as canceled_at
    from invoice_payments as p
    left join intent_charges as c
        on p.charge_id is null
        and p.payment_intent_id = c.payment_intent_id
        and c.charge_rank = 1
)

select * from final
