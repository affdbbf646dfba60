with source as (
    select * from {{ source('raw_stripe', 'invoice_payments') }}
),

final as (
    select
        id as invoice_payment_id,
        invoice as invoice_id,
        charge as charge_id,
        payment_intent as payment_intent_id,
        payment_type,
        status,
        coalesce(is_default, false) as is_default,
        upper(currency) as currency,
        {{ minor_to_major('amount_paid', 'currency') }} as amount_paid,
        {{ minor_to_major('amount_requested', 'currency') }} as amount_requested,
        created as created_at,
        paid_at,
        canceled_at
    from source
)

select * from final
