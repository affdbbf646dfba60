-- grain: one row per rate date, base currency and currency (NetSuite currencyrate)
-- One unit of `currency` is worth `rate` units of `base_currency` from 00:00 UTC of
-- rate_date until the pair's next rate.
with rates as (
    select * from {{ ref('int_fx_rates_named') }}
),

final as (
    select
        cast(rate_date as date) as rate_date,
        cast(base_currency as varchar) as base_currency,
        cast(currency as varchar) as currency,
        cast(rate as decimal(18, 8)) as rate
    from rates
)

select * from final
