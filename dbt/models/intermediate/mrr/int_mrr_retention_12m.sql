-- grain: one row per customer and month M for the customers active at M-12
-- Both values at M's rates (constant currency): the cohort's MRR twelve months earlier
-- (base_value) and now (current_value), for nrr_12m and grr_12m.
with currency_months as (
    select * from {{ ref('int_mrr_customer_currency_months') }}
),

paired as (
    select
        cur.customer_id,
        cur.month,
        sum(base.mrr * cur.fx_rate) as base_value,
        sum(cur.mrr * cur.fx_rate) as current_value,
        max(case when base.mrr_minor > 0 then 1 else 0 end) as was_active
    from currency_months as cur
    inner join currency_months as base
        on cur.customer_id = base.customer_id
        and cur.currency = base.currency
        and base.month = cast({{ dbt.dateadd('month', -12, 'cur.month') }} as date)
    group by cur.customer_id, cur.month
),

final as (
    select
        customer_id,
        month,
        base_value,
        current_value
    from paired
    where was_active = 1
)

select * from final
