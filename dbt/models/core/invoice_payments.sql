-- grain: one row per Stripe invoice payment (recorded, or synthesised from a legacy charge)
-- payment_id is the charge that paid (directly, or through the payment intent it settled).
-- API versions before 2025-03-31 have no invoice payments: there a charge names the invoice
-- it paid (charge.invoice), and each such charge that no invoice payment covers becomes the
-- invoice payment the current API would have recorded for it (linked_by 'charge_invoice').
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

recorded as (
    select
        p.invoice_payment_id,
        p.invoice_id,
        coalesce(p.charge_id, c.charge_id) as payment_id,
        p.status,
        p.payment_type,
        p.payment_intent_id,
        p.is_default,
        p.amount_paid,
        p.amount_requested,
        p.currency,
        p.created_at,
        p.paid_at,
        p.canceled_at,
        'invoice_payment' as linked_by
    from invoice_payments as p
    left join intent_charges as c
        on p.charge_id is null
        and p.payment_intent_id = c.payment_intent_id
        and c.charge_rank = 1
),

synthesised as (
    -- paid for the captured amount at the charge's creation when it succeeded, canceled
    -- when it failed, open while it is pending
    select
        {{ dbt.concat(["'charge:'", 'c.charge_id']) }} as invoice_payment_id,
        c.invoice_id,
        c.charge_id as payment_id,
        case c.status
            when 'succeeded' then 'paid'
            when 'failed' then 'canceled'
            else 'open'
        end as status,
        'charge' as payment_type,
        cast(null as {{ dbt.type_string() }}) as payment_intent_id,
        c.status = 'succeeded' as is_default,
        c.amount_captured as amount_paid,
        c.amount as amount_requested,
        c.currency,
        c.created_at,
        case when c.status = 'succeeded' then c.created_at end as paid_at,
        case when c.status = 'failed' then c.created_at end as canceled_at,
        'charge_invoice' as linked_by
    from charges as c
    left join recorded as r on c.charge_id = r.payment_id
    where c.invoice_id is not null
      and r.payment_id is null
),

unioned as (
    select * from recorded
    union all
    select * from synthesised
),

final as (
    select
        cast(invoice_payment_id as varchar) as invoice_payment_id,
        cast(invoice_id as varchar) as invoice_id,
        cast(payment_id as varchar) as payment_id,
        cast(status as varchar) as status,
        cast(payment_type as varchar) as payment_type,
        cast(payment_intent_id as varchar) as payment_intent_id,
        cast(is_default as boolean) as is_default,
        cast(amount_paid as decimal(18, 2)) as amount_paid,
        cast(amount_requested as decimal(18, 2)) as amount_requested,
        cast(currency as varchar) as currency,
        cast(created_at as timestamp with time zone) as created_at,
        cast(paid_at as timestamp with time zone) as paid_at,
        cast(canceled_at as timestamp with time zone) as canceled_at,
        cast(linked_by as varchar) as linked_by
    from unioned
)

select * from final
