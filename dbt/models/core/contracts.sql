-- grain: one row per closed-won opportunity (IsWon)
-- contracted_arr: sum of Quantity * UnitPrice over its line items whose Product2 family is
-- 'Subscription' (line items state annual values; terms are 12 months).
with opportunities as (
    select * from {{ ref('stg_salesforce__opportunities') }}
),

line_items as (
    select * from {{ ref('stg_salesforce__opportunity_line_items') }}
),

crm_products as (
    select * from {{ ref('stg_salesforce__products') }}
),

identities as (
    select * from {{ ref('int_customer_identities') }}
),

subscription_items as (
    select
        li.opportunity_id,
        sum(li.quantity * li.unit_price) as contracted_arr,
        count(*) as subscription_line_items
    from line_items as li
    inner join crm_products as p on li.product2_id = p.product2_id
    where p.family = 'Subscription'
    group by li.opportunity_id
),

final as (
    select
        cast(o.opportunity_id as varchar) as opportunity_id,
        cast(o.account_id as varchar) as crm_account_id,
        cast(i.customer_id as varchar) as customer_id,
        cast(o.opportunity_name as varchar) as opportunity_name,
        cast(o.opportunity_type as varchar) as opportunity_type,
        cast(o.stage as varchar) as stage,
        cast(o.is_won as boolean) as is_won,
        cast(o.is_closed as boolean) as is_closed,
        cast(o.close_date as date) as close_date,
        cast(o.currency as varchar) as currency,
        cast(o.amount as decimal(18, 2)) as amount,
        cast(round(coalesce(s.contracted_arr, 0), 2) as decimal(18, 2)) as contracted_arr,
        cast(coalesce(s.subscription_line_items, 0) as integer) as subscription_line_items,
        cast(o.created_at as timestamp with time zone) as created_at
    from opportunities as o
    left join subscription_items as s on o.opportunity_id = s.opportunity_id
    left join identities as i
        on i.system = 'salesforce'
        and o.account_id = i.source_id
    where o.is_won
)

select * from final
