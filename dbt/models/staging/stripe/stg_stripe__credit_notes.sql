with source as (
    select * from {{ source('raw_stripe', 'credit_notes') }}
),

final as (
    select
        id as credit_note_id,
        number as credit_note_number,
        invoice as invoice_id,
        customer as stripe_customer_id,
        status,
        type as credit_note_type,
        reason,
        -- an export may omit the currency: core.credit_notes takes the invoice's then, and
        -- converts the minor amounts with it (major units here only when it is known)
        upper(currency) as currency,
        amount as amount_minor,
        subtotal as subtotal_minor,
        total as total_minor,
        {{ minor_to_major('amount', 'currency') }} as amount,
        {{ minor_to_major('subtotal', 'currency') }} as subtotal,
        {{ minor_to_major('total', 'currency') }} as total,
        refunds,
        effective_at,
        created as created_at,
        voided_at
    from source
)

select * from final
