-- grain: one row per canonical customer
with identities as (
    select * from {{ ref('int_customer_identities') }}
),

accounts as (
    select * from {{ ref('stg_salesforce__accounts') }}
),

stripe_customers as (
    select * from {{ ref('stg_stripe__customers') }}
),

invoices as (
    select * from {{ ref('stg_stripe__invoices') }}
),

erp_customers as (
    select * from {{ ref('stg_netsuite__customers') }}
),

entities as (
    select * from {{ ref('entities') }}
),

canonical as (
    select
        customer_id,
        min(anchor_id) as anchor_id,
        max(case when system = 'salesforce' then source_id end) as crm_account_id,
        count(case when system = 'stripe' then 1 end) as billing_customer_count,
        count(case when system = 'netsuite' then 1 end) as erp_customer_count
    from identities
    group by customer_id
),

billing_ranked as (
    -- the primary billing customer is the earliest created
    select
        i.customer_id,
        s.*,
        row_number() over (
            partition by i.customer_id order by s.created_at, s.stripe_customer_id
        ) as billing_rank
    from identities as i
    inner join stripe_customers as s on i.source_id = s.stripe_customer_id
    where i.system = 'stripe'
),

billing_currencies as (
    -- a customer bills in its Stripe customers' currencies (and its invoices')
    select
        i.customer_id,
        count(distinct c.currency) as n_currencies,
        max(c.currency) as currency
    from identities as i
    inner join (
        select stripe_customer_id, currency from stripe_customers where currency is not null
        union
        select stripe_customer_id, currency from invoices where currency is not null
    ) as c on i.source_id = c.stripe_customer_id
    where i.system = 'stripe'
    group by i.customer_id
),

erp_ranked as (
    -- the primary ERP customer is the one of the primary billing customer, else the lowest id
    select
        i.customer_id,
        e.*,
        row_number() over (
            partition by i.customer_id
            order by
                case when e.external_id = b.stripe_customer_id then 0 else 1 end,
                e.erp_customer_id
        ) as erp_rank
    from identities as i
    inner join erp_customers as e
        on i.source_id = cast(e.erp_customer_id as {{ dbt.type_string() }})
    left join billing_ranked as b
        on i.customer_id = b.customer_id
        and b.billing_rank = 1
    where i.system = 'netsuite'
),

entity_by_currency as (
    select
        currency,
        entity,
        row_number() over (partition by currency order by subsidiary_id) as currency_rank
    from entities
),

configured_entity as (
    -- a NetSuite account without OneWorld: its customers, without a subsidiary, are in it
    select entity
    from entities
    where defined_by = 'configuration'
),

parent_entity as (
    select entity
    from (
        select
            entity,
            row_number() over (
                order by case when is_base_currency_entity then 0 else 1 end, subsidiary_id
            ) as parent_rank
        from entities
    ) as ranked
    where parent_rank = 1
),

resolved as (
    select
        c.customer_id,
        c.anchor_id,
        c.crm_account_id,
        b.stripe_customer_id as billing_customer_id,
        e.erp_customer_id,
        coalesce(a.account_name, b.customer_name, e.company_name) as name,
        case
            when bc.n_currencies > 1 then 'MULTI'
            else bc.currency
        end as currency,
        coalesce(b.email_domain, e.email_domain) as email_domain,
        coalesce(
            sub_entity.entity,
            erp_entity.entity,
            billing_entity.entity,
            crm_entity.entity,
            parent.entity
        ) as entity,
        case
            when coalesce(sub_entity.entity, erp_entity.entity) is not null then 'erp_subsidiary'
            when billing_entity.entity is not null then 'billing_currency'
            when crm_entity.entity is not null then 'crm_currency'
            else 'parent_entity'
        end as entity_source,
        c.billing_customer_count,
        c.erp_customer_count,
        a.currency as crm_currency,
        least(a.created_at, b.created_at, e.created_at) as created_at
    from canonical as c
    left join accounts as a on c.crm_account_id = a.account_id
    left join billing_ranked as b
        on c.customer_id = b.customer_id
        and b.billing_rank = 1
    left join billing_currencies as bc on c.customer_id = bc.customer_id
    left join erp_ranked as e
        on c.customer_id = e.customer_id
        and e.erp_rank = 1
    left join entities as sub_entity on e.subsidiary_id = sub_entity.subsidiary_id
    left join configured_entity as erp_entity
        on e.erp_customer_id is not null
        and e.subsidiary_id is null
    left join entity_by_currency as billing_entity
        on bc.currency = billing_entity.currency
        and bc.n_currencies = 1
        and billing_entity.currency_rank = 1
    left join entity_by_currency as crm_entity
        on a.currency = crm_entity.currency
        and crm_entity.currency_rank = 1
    left join parent_entity as parent on 1 = 1
),

final as (
    select
        cast(customer_id as varchar) as customer_id,
        cast(name as varchar) as name,
        cast(entity as varchar) as entity,
        cast(currency as varchar) as currency,
        cast(crm_account_id as varchar) as crm_account_id,
        cast(billing_customer_id as varchar) as billing_customer_id,
        cast(erp_customer_id as bigint) as erp_customer_id,
        cast(email_domain as varchar) as email_domain,
        cast(anchor_id as varchar) as anchor_id,
        cast(entity_source as varchar) as entity_source,
        cast(billing_customer_count as integer) as billing_customer_count,
        cast(erp_customer_count as integer) as erp_customer_count,
        cast(crm_currency as varchar) as crm_currency,
        cast(created_at as timestamp with time zone) as created_at
    from resolved
)

select * from final
