with source as (
    select * from {{ source('raw_stripe', 'subscriptions') }}
),

final as (
    select
        id as subscription_id,
        customer as stripe_customer_id,
        status,
        upper(currency) as currency,
        nullif(trim(salesforce_opportunity_id), '') as salesforce_opportunity_id,
        coalesce(cancel_at_period_end, false) as is_cancel_at_period_end,
        discounts,
        metadata,
        created as created_at,
        start_date as started_at,
        billing_cycle_anchor as billing_cycle_anchor_at,
        cancel_at,
        canceled_at,
        ended_at,
        trial_start as trial_start_at,
        trial_end as trial_end_at
    from source
)

select * from final
