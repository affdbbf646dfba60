with source as (
    select * from {{ source('raw_stripe', 'customers') }}
),

cleaned as (
    select
        *,
        nullif(trim(salesforce_account_id), '') as pasted_account_id
    from source
),

final as (
    select
        id as stripe_customer_id,
        name as customer_name,
        email,
        nullif(lower({{ dbt.split_part('email', "'@'", 2) }}), '') as email_domain,
        upper(currency) as currency,
        -- an id pasted in its 15-character form resolves to the Account's 18-character id
        {{ salesforce_id_18('pasted_account_id') }} as salesforce_account_id,
        address_country,
        tax_exempt,
        coalesce(deleted, false) as is_deleted,
        metadata,
        created as created_at
    from cleaned
)

select * from final
