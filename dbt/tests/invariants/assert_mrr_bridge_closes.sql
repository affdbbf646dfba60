{{ config(
    meta={
        'dagster': {'ref': {'name': 'mrr_bridge'}},
        'description': 'Invariant 3: the bridge closes to the cent and starting_mrr(M) = ending_mrr(M-1).',
    },
) }}
-- Invariant 3 (docs/revenue-metrics.md, "Invariants"): per month and entity the bridge closes
-- to the cent, starting_mrr + new + expansion + reactivation + contraction + churn + fx =
-- ending_mrr, and starting_mrr(M) = ending_mrr(M-1) (0 in an entity's first month; no month
-- skipped).
with bridge as (
    select * from {{ ref('mrr_bridge') }}
),

with_previous as (
    select
        *,
        lag(month) over (partition by entity order by month) as previous_month,
        lag(ending_mrr) over (partition by entity order by month) as previous_ending_mrr
    from bridge
),

final as (
    select *
    from with_previous
    where starting_mrr + new + expansion + reactivation + contraction + churn + fx <> ending_mrr
       or (previous_month is null and starting_mrr <> 0)
       or (previous_month is not null and starting_mrr <> previous_ending_mrr)
       or (previous_month is not null
           and previous_month <> cast({{ dbt.dateadd('month', -1, 'month') }} as date))
)

select * from final
