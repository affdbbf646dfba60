with source as (
    select * from {{ source('raw_netsuite', 'currency') }}
),

final as (
    select
        id as currency_id,
        upper(symbol) as currency,
        name as currency_name,
        coalesce(isbasecurrency, false) as is_base_currency
    from source
)

select * from final
