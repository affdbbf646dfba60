with source as (
    select * from {{ source('raw_netsuite', 'subsidiary') }}
),

final as (
    select
        id as subsidiary_id,
        name as subsidiary_name,
        currency as currency_id,
        upper(country) as country
    from source
)

select * from final
