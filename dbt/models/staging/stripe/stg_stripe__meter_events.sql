with source as (
    select * from {{ source('raw_stripe', 'meter_events') }}
),

final as (
    select
        identifier as meter_event_id,
        event_name,
        stripe_customer_id,
        -- payload.value is a string on the wire
        cast(value as decimal(38, 6)) as event_value,
        "timestamp" as event_at,
        created as created_at
    from source
)

select * from final
