with source as (
    select * from {{ source('raw_netsuite', 'currencyrate') }}
),

final as (
    select
        -- an export need not carry the id: a rate is keyed by base currency, transaction
        -- currency and effective date
        id as currency_rate_id,
        basecurrency as base_currency_id,
        transactioncurrency as transaction_currency_id,
        -- one unit of the transaction currency is worth `exchange_rate` base units
        exchangerate as exchange_rate,
        effectivedate as effective_date
    from source
)

select * from final
