-- grain: one row per legal entity (NetSuite subsidiary, or the configured one without OneWorld)
-- A NetSuite account without OneWorld has no subsidiaries (no subsidiary table or column): the
-- company is then one entity, whose code, name and country are configuration (vars
-- netsuite_entity*) and whose currency is NetSuite's base currency. With subsidiaries present
-- the configuration is not used.
with subsidiaries as (
    select * from {{ ref('stg_netsuite__subsidiaries') }}
),

currencies as (
    select * from {{ ref('stg_netsuite__currencies') }}
),

from_subsidiaries as (
    select
        -- entity codes follow common usage: GB's entity is 'UK'
        case s.country when 'GB' then 'UK' else s.country end as entity,
        s.subsidiary_id,
        s.subsidiary_name as name,
        s.country,
        c.currency,
        coalesce(c.is_base_currency, false) as is_base_currency_entity,
        'netsuite_subsidiary' as defined_by
    from subsidiaries as s
    left join currencies as c on s.currency_id = c.currency_id
),

base_currency as (
    select max(currency) as currency
    from currencies
    where is_base_currency
),

configured as (
    select
        '{{ var("netsuite_entity") }}' as entity,
        cast(null as {{ dbt.type_bigint() }}) as subsidiary_id,
        '{{ var("netsuite_entity_name") }}' as name,
        upper('{{ var("netsuite_entity_country") }}') as country,
        b.currency,
        true as is_base_currency_entity,
        'configuration' as defined_by
    from base_currency as b
    where not exists (select 1 from subsidiaries)
),

unioned as (
    select * from from_subsidiaries
    union all
    select * from configured
),

final as (
    select
        cast(entity as varchar) as entity,
        cast(subsidiary_id as bigint) as subsidiary_id,
        cast(name as varchar) as name,
        cast(country as varchar) as country,
        cast(currency as varchar) as currency,
        cast(is_base_currency_entity as boolean) as is_base_currency_entity,
        cast(defined_by as varchar) as defined_by
    from unioned
)

select * from final
