-- grain: one row per (rate date, base currency, currency): NetSuite currencyrate with ISO codes
with rates as (
    select * from {{ ref('stg_netsuite__currency_rates') }}
),

currencies as (
    select * from {{ ref('stg_netsuite__currencies') }}
),

named as (
    select
        r.currency_rate_id,
        r.effective_date as rate_date,
        b.currency as base_currency,
        t.currency,
        r.exchange_rate as rate,
        -- rates are keyed by (base, currency, date), so a pair and date repeats only when two
        -- currency records share an ISO code: the row with the highest id wins (rows without
        -- an id last), the higher rate on a tie, so the choice never depends on row order
        row_number() over (
            partition by r.effective_date, b.currency, t.currency
            order by
                case when r.currency_rate_id is null then 1 else 0 end,
                r.currency_rate_id desc,
                r.exchange_rate desc
        ) as recency
    from rates as r
    inner join currencies as b on r.base_currency_id = b.currency_id
    inner join currencies as t on r.transaction_currency_id = t.currency_id
),

final as (
    select
        rate_date,
        base_currency,
        currency,
        rate
    from named
    where recency = 1
)

select * from final
