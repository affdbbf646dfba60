{{ config(
    meta={
        'dagster': {'ref': {'name': 'saas_metrics'}},
        'description': 'Invariant 6: grr_12m <= 1 and grr_12m <= nrr_12m.',
    },
) }}
-- Invariant 6 (docs/revenue-metrics.md, "Invariants"): grr_12m <= 1 and grr_12m <= nrr_12m.
with saas_metrics as (
    select * from {{ ref('saas_metrics') }}
),

final as (
    select *
    from saas_metrics
    where grr_12m > 1
       or grr_12m < 0
       or grr_12m > nrr_12m
       or (grr_12m is null) <> (nrr_12m is null)
)

select * from final
