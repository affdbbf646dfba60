with source as (
    select * from {{ source('raw_netsuite', 'transaction') }}
),

final as (
    select
        id as transaction_id,
        tranid,
        type as transaction_type,
        trandate as transaction_date,
        postingperiod as posting_period_id,
        entity as erp_customer_id,
        currency as currency_id,
        exchangerate as exchange_rate,
        foreigntotal as foreign_total,
        status,
        nullif(trim(externalid), '') as external_id,
        memo,
        coalesce(posting, false) as is_posting,
        coalesce(voided, false) as is_voided,
        createddate as created_at,
        lastmodifieddate as last_modified_at
    from source
)

select * from final
