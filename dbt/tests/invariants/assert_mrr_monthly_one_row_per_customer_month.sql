{{ config(
    meta={
        'dagster': {'ref': {'name': 'mrr_monthly'}},
        'description': 'Invariant 1: one row per customer and month, first active month to the as-of month.',
    },
) }}
-- Invariant 1 (docs/revenue-metrics.md, "Invariants"): metrics.mrr_monthly has exactly one row
-- per (customer, month) from the customer's first month with MRR > 0 to the as-of month, and
-- none after it.
with mrr_monthly as (
    select * from {{ ref('mrr_monthly') }}
),

as_of as (
    select * from {{ ref('int_as_of') }}
),

per_customer as (
    select
        customer_id,
        count(*) as n_rows,
        count(distinct month) as n_months,
        min(month) as first_month,
        max(month) as last_month,
        min(case when is_active then month end) as first_active_month
    from mrr_monthly
    group by customer_id
),

final as (
    select
        p.*,
        a.as_of_month
    from per_customer as p
    cross join as_of as a
    where p.n_rows <> p.n_months
       or p.first_active_month is null
       or p.first_month <> p.first_active_month
       or p.last_month <> a.as_of_month
       or p.n_rows <> {{ dbt.datediff('p.first_month', 'a.as_of_month', 'month') }} + 1
)

select * from final
