with source as (
    select * from {{ source('raw_stripe', 'invoices') }}
),

final as (
    select
        id as invoice_id,
        number as invoice_number,
        customer as stripe_customer_id,
        subscription_id,
        -- API versions before 2025-03-31 only (informational: status and payments say it)
        paid as is_paid,
        charge as latest_charge_id,
        status,
        billing_reason,
        collection_method,
        upper(currency) as currency,
        subtotal as subtotal_minor,
        total as total_minor,
        {{ minor_to_major('subtotal', 'currency') }} as subtotal,
        {{ minor_to_major('total', 'currency') }} as total,
        {{ minor_to_major('total_excluding_tax', 'currency') }} as total_excluding_tax,
        {{ minor_to_major('amount_due', 'currency') }} as amount_due,
        {{ minor_to_major('amount_paid', 'currency') }} as amount_paid,
        {{ minor_to_major('amount_remaining', 'currency') }} as amount_remaining,
        {{ minor_to_major('post_payment_credit_notes_amount', 'currency') }}
            as post_payment_credit_notes_amount,
        total_discount_amounts,
        total_taxes,
        created as created_at,
        effective_at,
        due_date as due_at,
        period_start as period_start_at,
        period_end as period_end_at,
        finalized_at,
        paid_at,
        voided_at,
        marked_uncollectible_at
    from source
)

select * from final
