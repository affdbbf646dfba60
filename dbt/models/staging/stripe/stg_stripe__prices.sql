with source as (
    select * from {{ source('raw_stripe', 'prices') }}
),

final as (
    select
        id as price_id,
        product as product_id,
        upper(currency) as currency,
        -- minor units; a price given only as a decimal string is rounded to its minor unit
        coalesce(
            unit_amount,
            cast(round(cast(unit_amount_decimal as decimal(38, 12)), 0) as {{ dbt.type_bigint() }})
        ) as unit_amount_minor,
        cast(unit_amount_decimal as decimal(38, 12)) as unit_amount_decimal_minor,
        cast(
            coalesce(cast(unit_amount_decimal as decimal(38, 12)), unit_amount)
            * {{ major_per_minor('currency') }} as decimal(18, 6)
        ) as unit_amount,
        type as price_type,
        interval as recurring_interval,
        cast(interval_count as integer) as interval_count,
        usage_type,
        meter as meter_id,
        lookup_key,
        coalesce(active, false) as is_active,
        created as created_at
    from source
)

select * from final
