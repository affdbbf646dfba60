with source as (
    select * from {{ source('raw_stripe', 'customers') }}
),

final as (
    select
        id as stripe_customer_id,
        name as customer_name,
        email,
        nullif(lower({{ dbt.split_part('email', "'@'", 2) }}), '') as email_domain,
        upper(currency) as currency,
        nullif(trim(salesforce_account_id), '') as salesforce_account_id,
        address_country,
        tax_exempt,
        coalesce(deleted, false) as is_deleted,
        metadata,
        created as created_at
    from source
)

select * from final
