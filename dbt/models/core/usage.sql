-- grain: one row per billing customer, meter and calendar month (UTC) with meter events
-- quantity aggregates the events as the meter's formula says (sum, count or last). An event
-- belongs to the meter whose event_name it carries. is_billable: the customer is subscribed
-- to a price of that meter (price.recurring.meter), as a subscription item now or as a
-- metered invoice line billed to it (only a subscription item bills a metered price). Usage
-- on a meter no price of the customer's uses (a meter kept for information, or events whose
-- event_name no meter has) is kept, not billable: usage_not_billed never counts it.
with meter_events as (
    select * from {{ ref('stg_stripe__meter_events') }}
),

meters as (
    select * from {{ ref('stg_stripe__billing_meters') }}
),

subscriptions as (
    select * from {{ ref('stg_stripe__subscriptions') }}
),

subscription_items as (
    select * from {{ ref('stg_stripe__subscription_items') }}
),

prices as (
    select * from {{ ref('stg_stripe__prices') }}
),

invoice_lines as (
    select * from {{ ref('int_invoice_lines_enriched') }}
),

identities as (
    select * from {{ ref('int_customer_identities') }}
),

subscribed_meters as (
    select
        s.stripe_customer_id,
        p.meter_id
    from subscription_items as it
    inner join subscriptions as s on it.subscription_id = s.subscription_id
    inner join prices as p on it.price_id = p.price_id
    where p.meter_id is not null

    union

    select
        billing_customer_id as stripe_customer_id,
        meter_id
    from invoice_lines
    where line_type = 'metered'
      and meter_id is not null
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
        cast(u.last_event_at as timestamp with time zone) as last_event_at,
        cast(sm.meter_id is not null as boolean) as is_billable
    from monthly as u
    left join subscribed_meters as sm
        on u.stripe_customer_id = sm.stripe_customer_id
        and u.meter_id = sm.meter_id
    left join identities as i
        on i.system = 'stripe'
        and u.stripe_customer_id = i.source_id
)

select * from final
