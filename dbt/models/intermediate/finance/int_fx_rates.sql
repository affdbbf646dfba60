-- grain: one row per currency and validity range of its rate into the reporting currency
-- A rate applies from 00:00 UTC of its date until the next rate's date (exclusive); the
-- reporting currency's own rate is 1. A date before a currency's first rate has no row:
-- lookups leave it null and the not_null tests on *_reporting columns fail the build.
-- Only rows whose base is the reporting currency say what one unit of a currency is worth in
-- it. NetSuite keeps a set of rates per base currency of the account (one per subsidiary
-- currency): a GBP-base row for USD says what one USD is worth in GBP, the other direction
-- against another base, and is never used here. Rows need no id (keyed by base, currency, date).
with named as (
    select * from {{ ref('int_fx_rates_named') }}
),

reporting as (
    select
        currency,
        rate,
        rate_date as valid_from,
        lead(rate_date) over (partition by currency order by rate_date) as valid_to
    from named
    where base_currency = '{{ var("reporting_currency") }}'
      and currency <> '{{ var("reporting_currency") }}'
),

final as (
    select
        currency,
        cast(rate as decimal(18, 8)) as rate,
        valid_from,
        coalesce(valid_to, cast('9999-12-31' as date)) as valid_to
    from reporting

    union all

    select
        '{{ var("reporting_currency") }}' as currency,
        cast(1 as decimal(18, 8)) as rate,
        cast('0001-01-01' as date) as valid_from,
        cast('9999-12-31' as date) as valid_to
)

select * from final
