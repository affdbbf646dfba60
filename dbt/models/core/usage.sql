-- grain: one row per billing customer, meter and calendar month (UTC) with meter events
-- quantity aggregates the events as the meter's formula says (sum, count or last).
with meter_events as (
    select * from {{ ref('stg_stripe__meter_events') }}
),

meters as (
    select * from {{ ref('stg_stripe__billing_meters') }}
),

identities as (
    select * from {{ ref('int_customer_identities') }}
),

events as (
    select
        e.stripe_customer_id,
        m.meter_id,
        e.event_name,
        coalesce(m.aggregation_formula, 'sum') as aggregation_formula,
        cast({{ dbt.date_trunc('month', 'e.event_at') }} as date) as usage_month,
        e.event_value,
        e.event_at,
        row_number() over (
            partition by e.stripe_customer_id, e.event_name,
                {{ dbt.date_trunc('month', 'e.event_at') }}
            order by e.event_at desc, e.meter_event_id desc
        ) as recency
    from meter_events as e
    left join meters as m on e.event_name = m.event_name
),

monthly as (
    select
        stripe_customer_id,
        meter_id,
        event_name,
        usage_month,
        max(aggregation_formula) as aggregation_formula,
        sum(event_value) as value_sum,
        count(*) as event_count,
        max(case when recency = 1 then event_value end) as last_value,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from events
    group by stripe_customer_id, meter_id, event_name, usage_month
),

final as (
    select
        cast(u.stripe_customer_id as varchar) as billing_customer_id,
        cast(i.customer_id as varchar) as customer_id,
        cast(u.meter_id as varchar) as meter_id,
        cast(u.event_name as varchar) as event_name,
        cast(u.usage_month as date) as usage_month,
        cast(case u.aggregation_formula
            when 'count' then u.event_count
            when 'last' then u.last_value
            else u.value_sum
        end as decimal(38, 6)) as quantity,
        cast(u.aggregation_formula as varchar) as aggregation_formula,
        cast(u.event_count as bigint) as event_count,
        cast(u.first_event_at as timestamp with time zone) as first_event_at,
        cast(u.last_event_at as timestamp with time zone) as last_event_at
    from monthly as u
    left join identities as i
        on i.system = 'stripe'
        and u.stripe_customer_id = i.source_id
)

select * from final
