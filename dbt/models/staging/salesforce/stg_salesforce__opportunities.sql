with source as (
    select * from {{ source('raw_salesforce', 'opportunity') }}
),

final as (
    select
        Id as opportunity_id,
        AccountId as account_id,
        Name as opportunity_name,
        Type as opportunity_type,
        StageName as stage,
        coalesce(IsClosed, false) as is_closed,
        coalesce(IsWon, false) as is_won,
        CloseDate as close_date,
        Amount as amount,
        -- an org without multi-currency has no CurrencyIsoCode on any record: the org's
        -- currency (configuration) then; a missing one in a multi-currency org stays null
        upper(coalesce(
            CurrencyIsoCode,
            case
                when count(CurrencyIsoCode) over () = 0
                    then '{{ var("salesforce_org_currency") }}'
            end
        )) as currency,
        CreatedDate as created_at,
        SystemModstamp as system_modstamp_at
    from source
)

select * from final
