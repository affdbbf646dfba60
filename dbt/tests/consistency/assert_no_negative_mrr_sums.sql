{{ config(
    severity='warn',
    meta={
        'dagster': {'ref': {'name': 'int_mrr_customer_currency_months'}},
        'description': 'No customer-month whose MRR lines sum below zero (a data error, clamped to 0).',
    },
) }}
-- A customer-month whose MRR lines sum below zero is a data error (docs/revenue-metrics.md,
-- "MRR per customer and month"): flagged here, clamped to 0 in the metric.
with currency_months as (
    select * from {{ ref('int_mrr_customer_currency_months') }}
),

final as (
    select *
    from currency_months
    where has_negative_mrr
)

select * from final
