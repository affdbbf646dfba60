{{ config(
    meta={
        'dagster': {'ref': {'name': 'saas_metrics'}},
        'description': 'Invariant 5: MRR >= 0, arr = 12 * mrr, sum of customer MRR = company MRR.',
    },
) }}
-- Invariant 5 (docs/revenue-metrics.md, "Invariants"): MRR is never negative, arr = 12 * mrr,
-- and the sum of customer MRR is the company MRR (per entity, and for 'ALL' over every
-- customer).
with mrr_monthly as (
    select * from {{ ref('mrr_monthly') }}
),

saas_metrics as (
    select * from {{ ref('saas_metrics') }}
),

customer_totals as (
    select month, entity, sum(mrr_reporting) as mrr, sum(case when is_active then 1 else 0 end) as active
    from mrr_monthly
    group by month, entity

    union all

    select month, 'ALL' as entity, sum(mrr_reporting) as mrr, sum(case when is_active then 1 else 0 end) as active
    from mrr_monthly
    group by month
),

negative as (
    select
        'negative customer mrr' as problem,
        month,
        entity
    from mrr_monthly
    where mrr < 0 or mrr_reporting < 0
),

arr as (
    select
        'arr is not 12 * mrr' as problem,
        month,
        entity
    from saas_metrics
    where arr <> 12 * mrr or mrr < 0
),

totals as (
    select
        'company mrr differs from the sum of customer mrr' as problem,
        coalesce(c.month, s.month) as month,
        coalesce(c.entity, s.entity) as entity
    from customer_totals as c
    full outer join saas_metrics as s
        on c.month = s.month
        and c.entity = s.entity
    where c.mrr is null
       or s.mrr is null
       or c.mrr <> s.mrr
       or c.active <> s.active_customers
),

final as (
    select * from negative
    union all
    select * from arr
    union all
    select * from totals
)

select * from final
