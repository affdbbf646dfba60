with source as (
    select * from {{ source('raw_stripe', 'refunds') }}
),

final as (
    select
        id as refund_id,
        charge as charge_id,
        status,
        reason,
        upper(currency) as currency,
        {{ minor_to_major('amount', 'currency') }} as amount,
        created as created_at
    from source
)

select * from final
