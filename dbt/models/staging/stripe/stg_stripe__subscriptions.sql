with source as (
    select * from {{ source('raw_stripe', 'subscriptions') }}
),

cleaned as (
    select
        *,
        nullif(trim(salesforce_opportunity_id), '') as pasted_opportunity_id
    from source
),

final as (
    select
        id as subscription_id,
        customer as stripe_customer_id,
        status,
        upper(currency) as currency,
        -- an id pasted in its 15-character form resolves to the Opportunity's 18-character id
        {{ salesforce_id_18('pasted_opportunity_id') }} as salesforce_opportunity_id,
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
        trial_end as trial_end_at,
        -- API versions before 2025-03-31 keep the current period on the subscription (its
        -- items have none there); later ones only on the items
        current_period_start as current_period_start_at,
        current_period_end as current_period_end_at
    from cleaned
)

select * from final
