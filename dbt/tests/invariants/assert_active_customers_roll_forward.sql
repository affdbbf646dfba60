{{ config(
    meta={
        'dagster': {'ref': {'name': 'mrr_bridge'}},
        'description': 'Invariant 4: active(M) = active(M-1) + new + reactivated - churned.',
    },
) }}
-- Invariant 4 (docs/revenue-metrics.md, "Invariants"): per month and entity,
-- active_customers(M) = active_customers(M-1) + new + reactivated - churned.
with bridge as (
    select * from {{ ref('mrr_bridge') }}
),

with_previous as (
    select
        *,
        coalesce(
            lag(active_customers) over (partition by entity order by month), 0
        ) as previous_active_customers
    from bridge
),

final as (
    select *
    from with_previous
    where active_customers
          <> previous_active_customers + new_customers + reactivated_customers - churned_customers
       or starting_active_customers <> previous_active_customers
)

select * from final
