-- grain: one row per Stripe credit note
with credit_notes as (
    select * from {{ ref('stg_stripe__credit_notes') }}
),

identities as (
    select * from {{ ref('int_customer_identities') }}
),

final as (
    select
        cast(n.credit_note_id as varchar) as credit_note_id,
        cast(n.credit_note_number as varchar) as number,
        cast(n.invoice_id as varchar) as invoice_id,
        cast(n.stripe_customer_id as varchar) as billing_customer_id,
        cast(i.customer_id as varchar) as customer_id,
        cast(n.status as varchar) as status,
        cast(n.credit_note_type as varchar) as type,
        cast(n.reason as varchar) as reason,
        cast(n.amount as decimal(18, 2)) as amount,
        cast(n.subtotal as decimal(18, 2)) as subtotal,
        cast(n.total as decimal(18, 2)) as total,
        cast(n.currency as varchar) as currency,
        cast(n.effective_at as timestamp with time zone) as effective_at,
        cast(n.created_at as timestamp with time zone) as created_at,
        cast(n.voided_at as timestamp with time zone) as voided_at
    from credit_notes as n
    left join identities as i
        on i.system = 'stripe'
        and n.stripe_customer_id = i.source_id
)

select * from final
