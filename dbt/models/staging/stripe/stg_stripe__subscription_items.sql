with source as (
    select * from {{ source('raw_stripe', 'subscription_items') }}
),

final as (
    select
        id as subscription_item_id,
        subscription_id,
        position,
        price_id,
        quantity,
        current_period_start as current_period_start_at,
        current_period_end as current_period_end_at
    from source
)

select * from final
