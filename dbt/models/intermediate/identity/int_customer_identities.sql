-- grain: one row per source customer id (Salesforce Account, Stripe customer, NetSuite customer)
-- Anchors: the CRM account when a Stripe customer's metadata names an existing Account (two
-- Stripe customers of one Account share it), else the Stripe customer itself; a NetSuite
-- customer follows the Stripe customer its externalid names. customer_id = md5(anchor).
with accounts as (
    select * from {{ ref('stg_salesforce__accounts') }}
),

stripe_customers as (
    select * from {{ ref('stg_stripe__customers') }}
),

erp_customers as (
    select * from {{ ref('stg_netsuite__customers') }}
),

stripe_linked as (
    select
        s.stripe_customer_id,
        a.account_id as crm_account_id,
        coalesce(a.account_id, 'stripe:' || s.stripe_customer_id) as anchor_id,
        case when a.account_id is not null then 'stripe_metadata' else 'unlinked' end
            as match_method
    from stripe_customers as s
    left join accounts as a on s.salesforce_account_id = a.account_id
),

erp_linked as (
    select
        e.erp_customer_id,
        s.crm_account_id,
        coalesce(
            s.anchor_id, 'netsuite:' || cast(e.erp_customer_id as {{ dbt.type_string() }})
        ) as anchor_id,
        case when s.stripe_customer_id is not null then 'netsuite_externalid' else 'unlinked' end
            as match_method
    from erp_customers as e
    left join stripe_linked as s on e.external_id = s.stripe_customer_id
),

identities as (
    select
        'salesforce' as system,
        account_id as source_id,
        account_id as crm_account_id,
        account_id as anchor_id,
        'crm_account' as match_method
    from accounts

    union all

    select
        'stripe' as system,
        stripe_customer_id as source_id,
        crm_account_id,
        anchor_id,
        match_method
    from stripe_linked

    union all

    select
        'netsuite' as system,
        cast(erp_customer_id as {{ dbt.type_string() }}) as source_id,
        crm_account_id,
        anchor_id,
        match_method
    from erp_linked
),

final as (
    select
        {{ dbt.hash('anchor_id') }} as customer_id,
        system,
        source_id,
        crm_account_id,
        anchor_id,
        match_method
    from identities
)

select * from final
