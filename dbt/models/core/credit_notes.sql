-- grain: one row per Stripe credit note
-- A credit note is in its invoice's currency; an export that omits it gets the invoice's, and
-- the minor-unit amounts are converted with that currency (a zero-decimal one included).
with credit_notes as (
    select * from {{ ref('stg_stripe__credit_notes') }}
),

invoices as (
    select * from {{ ref('stg_stripe__invoices') }}
),

identities as (
    select * from {{ ref('int_customer_identities') }}
),

resolved as (
    select
        n.*,
        coalesce(n.currency, v.currency) as resolved_currency
    from credit_notes as n
    left join invoices as v on n.invoice_id = v.invoice_id
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
        {{ minor_to_major('n.amount_minor', 'n.resolved_currency') }} as amount,
        {{ minor_to_major('n.subtotal_minor', 'n.resolved_currency') }} as subtotal,
        {{ minor_to_major('n.total_minor', 'n.resolved_currency') }} as total,
        cast(n.resolved_currency as varchar) as currency,
        cast(n.effective_at as timestamp with time zone) as effective_at,
        cast(n.created_at as timestamp with time zone) as created_at,
        cast(n.voided_at as timestamp with time zone) as voided_at
    from resolved as n
    left join identities as i
        on i.system = 'stripe'
        and n.stripe_customer_id = i.source_id
)

select * from final
