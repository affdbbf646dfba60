-- grain: one row per Stripe product
-- family: the CRM Product2 family when a Product2 has the product's name (a labelled name
-- match: Stripe products carry no CRM id), else from the product's prices (licensed
-- recurring: Subscription, metered: Usage, one-time: Services).
with products as (
    select * from {{ ref('stg_stripe__products') }}
),

prices as (
    select * from {{ ref('stg_stripe__prices') }}
),

crm_products as (
    select * from {{ ref('stg_salesforce__products') }}
),

price_kinds as (
    select
        product_id,
        max(case when price_type = 'recurring' and usage_type = 'licensed' then 1 else 0 end)
            as has_licensed,
        max(case when price_type = 'recurring' and usage_type = 'metered' then 1 else 0 end)
            as has_metered,
        max(case when price_type = 'one_time' then 1 else 0 end) as has_one_time,
        count(*) as n_prices
    from prices
    group by product_id
),

crm_by_name as (
    select
        *,
        row_number() over (partition by lower(product_name) order by product2_id) as name_rank
    from crm_products
),

final as (
    select
        cast(p.product_id as varchar) as product_id,
        cast(p.product_name as varchar) as name,
        cast(coalesce(
            c.family,
            case
                when k.has_licensed = 1 then 'Subscription'
                when k.has_metered = 1 then 'Usage'
                when k.has_one_time = 1 then 'Services'
            end
        ) as varchar) as family,
        cast(case when c.family is not null then 'crm_product_name' else 'stripe_prices' end
            as varchar) as family_source,
        cast(c.product2_id as varchar) as crm_product_id,
        cast(c.product_code as varchar) as product_code,
        cast(p.is_active as boolean) as is_active,
        cast(coalesce(k.n_prices, 0) as integer) as price_count,
        cast(p.created_at as timestamp with time zone) as created_at
    from products as p
    left join price_kinds as k on p.product_id = k.product_id
    left join crm_by_name as c
        on lower(p.product_name) = lower(c.product_name)
        and c.name_rank = 1
)

select * from final
