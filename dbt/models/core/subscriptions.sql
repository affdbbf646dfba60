-- grain: one row per Stripe subscription
with subscriptions as (
    select * from {{ ref('stg_stripe__subscriptions') }}
),

items as (
    select * from {{ ref('stg_stripe__subscription_items') }}
),

prices as (
    select * from {{ ref('stg_stripe__prices') }}
),

identities as (
    select * from {{ ref('int_customer_identities') }}
),

item_periods as (
    -- API versions before 2025-03-31 keep the current period on the subscription, not on
    -- its items: an item without one has its subscription's
    select
        it.subscription_id,
        it.price_id,
        coalesce(it.current_period_start_at, s.current_period_start_at)
            as current_period_start_at,
        coalesce(it.current_period_end_at, s.current_period_end_at) as current_period_end_at
    from items as it
    left join subscriptions as s on it.subscription_id = s.subscription_id
),

item_summary as (
    select
        it.subscription_id,
        count(*) as item_count,
        max(case when p.usage_type = 'metered' then 1 else 0 end) as has_metered,
        min(it.current_period_start_at) as current_period_start_at,
        max(it.current_period_end_at) as current_period_end_at
    from item_periods as it
    left join prices as p on it.price_id = p.price_id
    group by it.subscription_id
),

final as (
    select
        cast(s.subscription_id as varchar) as subscription_id,
        cast(s.stripe_customer_id as varchar) as billing_customer_id,
        cast(i.customer_id as varchar) as customer_id,
        cast(s.status as varchar) as status,
        cast(s.currency as varchar) as currency,
        cast(s.created_at as timestamp with time zone) as created_at,
        cast(s.started_at as timestamp with time zone) as started_at,
        cast(s.canceled_at as timestamp with time zone) as canceled_at,
        cast(s.cancel_at as timestamp with time zone) as cancel_at,
        cast(s.ended_at as timestamp with time zone) as ended_at,
        cast(s.trial_start_at as timestamp with time zone) as trial_start_at,
        cast(s.trial_end_at as timestamp with time zone) as trial_end_at,
        cast(s.salesforce_opportunity_id as varchar) as crm_opportunity_id,
        cast(coalesce(m.has_metered, 0) = 1 as boolean) as is_metered,
        cast(s.is_cancel_at_period_end as boolean) as is_cancel_at_period_end,
        cast(coalesce(m.item_count, 0) as integer) as item_count,
        cast(coalesce(m.current_period_start_at, s.current_period_start_at)
            as timestamp with time zone) as current_period_start_at,
        cast(coalesce(m.current_period_end_at, s.current_period_end_at)
            as timestamp with time zone) as current_period_end_at
    from subscriptions as s
    left join item_summary as m on s.subscription_id = m.subscription_id
    left join identities as i
        on i.system = 'stripe'
        and s.stripe_customer_id = i.source_id
)

select * from final
