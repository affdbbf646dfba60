-- grain: one row per month and entity, plus entity = 'ALL' (reporting currency)
-- starting_mrr + new + expansion + reactivation + contraction + churn + fx = ending_mrr.
with mrr_monthly as (
    select * from {{ ref('mrr_monthly') }}
),

scoped as (
    select *, entity as scope from mrr_monthly
    union all
    select *, 'ALL' as scope from mrr_monthly
),

aggregated as (
    select
        month,
        scope as entity,
        sum(previous_mrr_reporting) as starting_mrr,
        sum(case when movement = 'new' then movement_reporting else 0 end) as new,
        sum(case when movement = 'expansion' then movement_reporting else 0 end) as expansion,
        sum(case when movement = 'reactivation' then movement_reporting else 0 end)
            as reactivation,
        sum(case when movement = 'contraction' then movement_reporting else 0 end)
            as contraction,
        sum(case when movement = 'churn' then movement_reporting else 0 end) as churn,
        sum(fx_impact_reporting) as fx,
        sum(mrr_reporting) as ending_mrr,
        sum(case when is_active then 1 else 0 end) as active_customers,
        sum(case when was_active_previous_month then 1 else 0 end) as starting_active_customers,
        sum(case when movement = 'new' then 1 else 0 end) as new_customers,
        sum(case when movement = 'reactivation' then 1 else 0 end) as reactivated_customers,
        sum(case when movement = 'churn' then 1 else 0 end) as churned_customers,
        sum(case when movement = 'expansion' then 1 else 0 end) as expansion_customers,
        sum(case when movement = 'contraction' then 1 else 0 end) as contraction_customers
    from scoped
    group by month, scope
),

final as (
    select
        cast(month as date) as month,
        cast(entity as varchar) as entity,
        cast('{{ var("reporting_currency") }}' as varchar) as reporting_currency,
        cast(starting_mrr as decimal(18, 2)) as starting_mrr,
        cast(new as decimal(18, 2)) as new,
        cast(expansion as decimal(18, 2)) as expansion,
        cast(contraction as decimal(18, 2)) as contraction,
        cast(churn as decimal(18, 2)) as churn,
        cast(reactivation as decimal(18, 2)) as reactivation,
        cast(fx as decimal(18, 2)) as fx,
        cast(ending_mrr as decimal(18, 2)) as ending_mrr,
        cast(active_customers as integer) as active_customers,
        cast(starting_active_customers as integer) as starting_active_customers,
        cast(new_customers as integer) as new_customers,
        cast(reactivated_customers as integer) as reactivated_customers,
        cast(churned_customers as integer) as churned_customers,
        cast(expansion_customers as integer) as expansion_customers,
        cast(contraction_customers as integer) as contraction_customers
    from aggregated
)

select * from final
