with source as (
    select * from {{ source('raw_stripe', 'charges') }}
),

final as (
    select
        id as charge_id,
        customer as stripe_customer_id,
        payment_intent as payment_intent_id,
        balance_transaction as balance_transaction_id,
        status,
        failure_code,
        -- API versions before 2025-03-31 name the invoice the charge paid; later ones link
        -- them only through invoice payments
        invoice as invoice_id,
        coalesce(paid, false) as is_paid,
        coalesce(refunded, false) as is_refunded,
        upper(currency) as currency,
        {{ minor_to_major('amount', 'currency') }} as amount,
        {{ minor_to_major('amount_captured', 'currency') }} as amount_captured,
        {{ minor_to_major('coalesce(amount_refunded, 0)', 'currency') }} as amount_refunded,
        metadata,
        created as created_at
    from source
)

select * from final
