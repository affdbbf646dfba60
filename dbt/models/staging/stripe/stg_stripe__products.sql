with source as (
    select * from {{ source('raw_stripe', 'products') }}
),

final as (
    select
        id as product_id,
        name as product_name,
        coalesce(active, false) as is_active,
        metadata,
        created as created_at,
        updated as updated_at
    from source
)

select * from final
