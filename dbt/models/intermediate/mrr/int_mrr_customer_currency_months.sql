-- grain: one row per customer, currency and month, from the customer's first month with MRR > 0 to the as-of month
-- MRR(customer, currency, M) = sum of the monthly values of the lines covering M, summed in
-- full precision (1e-12 minor units), then rounded half away from zero to the cent; a
-- negative sum is a data error: flagged (has_negative_mrr) and clamped to 0.
with line_months as (
    select * from {{ ref('int_mrr_line_months') }}
),

months as (
    select * from {{ ref('int_months') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates') }}
),

sums as (
    select
        customer_id,
        currency,
        month,
        sum(monthly_value_e12) as value_e12,
        count(*) as n_lines
    from line_months
    group by customer_id, currency, month
),

micro as (
    -- to 1e-6 minor units first, which absorbs the 1e-12 rounding of each line's value
    select
        customer_id,
        currency,
        month,
        n_lines,
        {{ round_half_away_div('value_e12', '1000000') }} as value_e6,
        {{ minor_units_per_cent('currency') }} as minor_per_cent
    from sums
),

rounded as (
    select
        customer_id,
        currency,
        month,
        n_lines,
        {{ round_half_away_div('value_e6', '1000000 * minor_per_cent') }} * minor_per_cent
            as mrr_minor_signed
    from micro
),

first_active as (
    select
        customer_id,
        min(month) as first_active_month
    from rounded
    where mrr_minor_signed > 0
    group by customer_id
),

customer_currencies as (
    select distinct
        r.customer_id,
        r.currency,
        f.first_active_month
    from rounded as r
    inner join first_active as f on r.customer_id = f.customer_id
),

grid as (
    select
        c.customer_id,
        c.currency,
        c.first_active_month,
        m.month,
        m.fx_rate_date
    from customer_currencies as c
    inner join months as m on c.first_active_month <= m.month
),

final as (
    select
        g.customer_id,
        g.currency,
        g.month,
        g.first_active_month,
        cast(greatest(coalesce(r.mrr_minor_signed, 0), 0) as {{ dbt.type_bigint() }}) as mrr_minor,
        {{ minor_to_major('greatest(coalesce(r.mrr_minor_signed, 0), 0)', 'g.currency') }} as mrr,
        coalesce(r.mrr_minor_signed, 0) < 0 as has_negative_mrr,
        coalesce(r.n_lines, 0) as n_lines,
        g.fx_rate_date,
        x.rate as fx_rate
    from grid as g
    left join rounded as r
        on g.customer_id = r.customer_id
        and g.currency = r.currency
        and g.month = r.month
    left join fx_rates as x
        on g.currency = x.currency
        and x.valid_from <= g.fx_rate_date
        and g.fx_rate_date < x.valid_to
)

select * from final
