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
        upper(CurrencyIsoCode) as currency,
        CreatedDate as created_at,
        SystemModstamp as system_modstamp_at
    from source
)

select * from final
