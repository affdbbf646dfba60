with source as (
    select * from {{ source('raw_stripe', 'billing_meters') }}
),

final as (
    select
        id as meter_id,
        event_name,
        coalesce(formula, 'sum') as aggregation_formula,
        status,
        display_name,
        created as created_at,
        updated as updated_at
    from source
)

select * from final
