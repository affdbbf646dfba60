-- grain: one row per NetSuite transaction
-- entity: the subsidiary of the transaction's main line (else its customer's subsidiary);
-- in an account without OneWorld (no subsidiaries) the configured entity (core.entities);
-- external_kind: the Stripe object its externalid names, by prefix.
with transactions as (
    select * from {{ ref('stg_netsuite__transactions') }}
),

transaction_lines as (
    select * from {{ ref('stg_netsuite__transaction_lines') }}
),

currencies as (
    select * from {{ ref('stg_netsuite__currencies') }}
),

erp_customers as (
    select * from {{ ref('stg_netsuite__customers') }}
),

entities as (
    select * from {{ ref('entities') }}
),

identities as (
    select * from {{ ref('int_customer_identities') }}
),

configured_entity as (
    select entity
    from entities
    where defined_by = 'configuration'
),

main_lines as (
    select
        transaction_id,
        min(subsidiary_id) as subsidiary_id
    from transaction_lines
    where is_mainline
    group by transaction_id
),

final as (
    select
        cast(t.transaction_id as bigint) as transaction_id,
        cast(t.tranid as varchar) as tranid,
        cast(t.transaction_type as varchar) as type,
        cast(t.transaction_date as date) as trandate,
        cast(t.posting_period_id as bigint) as posting_period_id,
        cast(coalesce(e.entity, ce.entity) as varchar) as entity,
        cast(coalesce(ml.subsidiary_id, ec.subsidiary_id) as bigint) as subsidiary_id,
        cast(t.erp_customer_id as bigint) as erp_customer_id,
        cast(i.customer_id as varchar) as customer_id,
        cast(c.currency as varchar) as currency,
        cast(t.exchange_rate as decimal(18, 8)) as exchange_rate,
        cast(t.foreign_total as decimal(18, 2)) as foreign_total,
        cast(t.status as varchar) as status,
        cast(t.external_id as varchar) as external_id,
        cast(case substring(t.external_id, 1, 3)
            when 'in_' then 'invoice'
            when 'ch_' then 'charge'
            when 'cn_' then 'credit_note'
        end as varchar) as external_kind,
        cast(t.memo as varchar) as memo,
        cast(t.is_posting as boolean) as is_posting,
        cast(t.is_voided as boolean) as is_voided,
        cast(t.created_at as timestamp with time zone) as created_at,
        cast(t.last_modified_at as timestamp with time zone) as last_modified_at
    from transactions as t
    left join main_lines as ml on t.transaction_id = ml.transaction_id
    left join erp_customers as ec on t.erp_customer_id = ec.erp_customer_id
    left join entities as e on coalesce(ml.subsidiary_id, ec.subsidiary_id) = e.subsidiary_id
    left join configured_entity as ce
        on ml.subsidiary_id is null
        and ec.subsidiary_id is null
    left join currencies as c on t.currency_id = c.currency_id
    left join identities as i
        on i.system = 'netsuite'
        and cast(t.erp_customer_id as {{ dbt.type_string() }}) = i.source_id
)

select * from final
