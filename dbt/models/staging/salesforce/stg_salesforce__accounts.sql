with source as (
    select * from {{ source('raw_salesforce', 'account') }}
),

final as (
    select
        Id as account_id,
        Name as account_name,
        Website as website,
        Type as account_type,
        ParentId as parent_account_id,
        BillingCountry as billing_country,
        -- an org without multi-currency has no CurrencyIsoCode on any record: the org's
        -- currency (configuration) then; a missing one in a multi-currency org stays null
        upper(coalesce(
            CurrencyIsoCode,
            case
                when count(CurrencyIsoCode) over () = 0
                    then '{{ var("salesforce_org_currency") }}'
            end
        )) as currency,
        coalesce(IsDeleted, false) as is_deleted,
        CreatedDate as created_at,
        SystemModstamp as system_modstamp_at
    from source
)

select * from final
