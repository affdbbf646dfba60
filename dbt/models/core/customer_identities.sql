-- grain: one row per source customer id (system, source_id)
with identities as (
    select * from {{ ref('int_customer_identities') }}
),

final as (
    select
        cast(customer_id as varchar) as customer_id,
        cast(system as varchar) as system,
        cast(source_id as varchar) as source_id,
        cast(match_method as varchar) as match_method,
        cast(crm_account_id as varchar) as crm_account_id,
        cast(anchor_id as varchar) as anchor_id
    from identities
)

select * from final
