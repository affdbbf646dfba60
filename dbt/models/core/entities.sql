-- grain: one row per legal entity (NetSuite subsidiary)
with subsidiaries as (
    select * from {{ ref('stg_netsuite__subsidiaries') }}
),

currencies as (
    select * from {{ ref('stg_netsuite__currencies') }}
),

final as (
    select
        -- entity codes follow common usage: GB's entity is 'UK'
        cast(case s.country when 'GB' then 'UK' else s.country end as varchar) as entity,
        cast(s.subsidiary_id as bigint) as subsidiary_id,
        cast(s.subsidiary_name as varchar) as name,
        cast(s.country as varchar) as country,
        cast(c.currency as varchar) as currency,
        cast(coalesce(c.is_base_currency, false) as boolean) as is_base_currency_entity
    from subsidiaries as s
    left join currencies as c on s.currency_id = c.currency_id
)

select * from final
