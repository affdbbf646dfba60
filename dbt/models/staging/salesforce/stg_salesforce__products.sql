with source as (
    select * from {{ source('raw_salesforce', 'product2') }}
),

final as (
    select
        Id as product2_id,
        Name as product_name,
        ProductCode as product_code,
        Family as family,
        coalesce(IsActive, false) as is_active
    from source
)

select * from final
