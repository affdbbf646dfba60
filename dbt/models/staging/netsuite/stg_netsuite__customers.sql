with source as (
    select * from {{ source('raw_netsuite', 'customer') }}
),

final as (
    select
        id as erp_customer_id,
        entityid as entity_code,
        companyname as company_name,
        nullif(trim(externalid), '') as external_id,
        email,
        nullif(lower({{ dbt.split_part('email', "'@'", 2) }}), '') as email_domain,
        subsidiary as subsidiary_id,
        currency as currency_id,
        datecreated as created_at,
        lastmodifieddate as last_modified_at
    from source
)

select * from final
