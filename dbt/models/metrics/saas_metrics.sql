-- grain: one row per month and entity, plus entity = 'ALL' (reporting currency)
-- Rates are ratios (1.0 = 100%); nrr_12m and grr_12m compare the customers active twelve
-- months earlier at this month's rates; usage_revenue is metered invoice lines by service
-- month, net of discounts; contracted_arr is the ARR of the deals closed won in the month.
-- An amount without an FX rate makes its total null (a test failure), never a silent 0.
with bridge as (
    select * from {{ ref('mrr_bridge') }}
),

retention as (
    select * from {{ ref('int_mrr_retention_12m') }}
),

customers as (
    select * from {{ ref('customers') }}
),

invoice_lines as (
    select * from {{ ref('int_invoice_lines_enriched') }}
),

contracts as (
    select * from {{ ref('contracts') }}
),

months as (
    select * from {{ ref('int_months') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates') }}
),

retention_scoped as (
    select
        r.month,
        coalesce(c.entity, 'UNASSIGNED') as entity,
        r.base_value,
        r.current_value
    from retention as r
    left join customers as c on r.customer_id = c.customer_id
),

retention_totals as (
    select
        month,
        entity,
        sum(base_value) as base_value,
        sum(current_value) as current_value,
        sum(case when current_value < base_value then current_value else base_value end)
            as retained_value
    from (
        select * from retention_scoped
        union all
        select month, 'ALL' as entity, base_value, current_value from retention_scoped
    ) as scoped
    group by month, entity
),

usage_lines as (
    select
        m.month,
        coalesce(c.entity, 'UNASSIGNED') as entity,
        l.net_amount * x.rate as net_reporting
    from invoice_lines as l
    inner join months as m
        on cast({{ dbt.date_trunc('month', 'l.period_start_at') }} as date) = m.month
    left join customers as c on l.customer_id = c.customer_id
    left join fx_rates as x
        on l.currency = x.currency
        and x.valid_from <= m.fx_rate_date
        and m.fx_rate_date < x.valid_to
    where l.line_type = 'metered'
      and l.invoice_status in ('open', 'paid', 'uncollectible')
),

usage_totals as (
    select
        month,
        entity,
        case
            when count(*) = count(net_reporting) then round(sum(net_reporting), 2)
        end as usage_revenue
    from (
        select * from usage_lines
        union all
        select month, 'ALL' as entity, net_reporting from usage_lines
    ) as scoped
    group by month, entity
),

bookings as (
    select
        m.month,
        coalesce(c.entity, 'UNASSIGNED') as entity,
        k.contracted_arr * x.rate as contracted_reporting
    from contracts as k
    inner join months as m
        on cast({{ dbt.date_trunc('month', 'k.close_date') }} as date) = m.month
    left join customers as c on k.customer_id = c.customer_id
    left join fx_rates as x
        on k.currency = x.currency
        and x.valid_from <= m.fx_rate_date
        and m.fx_rate_date < x.valid_to
),

booking_totals as (
    select
        month,
        entity,
        case
            when count(*) = count(contracted_reporting) then round(sum(contracted_reporting), 2)
        end as contracted_arr
    from (
        select * from bookings
        union all
        select month, 'ALL' as entity, contracted_reporting from bookings
    ) as scoped
    group by month, entity
),

final as (
    select
        cast(b.month as date) as month,
        cast(b.entity as varchar) as entity,
        cast(b.reporting_currency as varchar) as reporting_currency,
        cast(b.ending_mrr as decimal(18, 2)) as mrr,
        cast(12 * b.ending_mrr as decimal(18, 2)) as arr,
        cast(b.active_customers as integer) as active_customers,
        cast(case
            when b.active_customers > 0 then round(b.ending_mrr / b.active_customers, 2)
        end as decimal(18, 2)) as arpa,
        cast(b.starting_mrr as decimal(18, 2)) as starting_mrr,
        cast(b.new + b.expansion + b.reactivation as decimal(18, 2)) as gained_mrr,
        cast(b.contraction + b.churn as decimal(18, 2)) as lost_mrr,
        cast(case
            when b.starting_mrr > 0 then -(b.churn + b.contraction) / b.starting_mrr
        end as double) as gross_mrr_churn_rate,
        cast(case
            when b.starting_mrr > 0
                then -(b.churn + b.contraction + b.expansion + b.reactivation) / b.starting_mrr
        end as double) as net_mrr_churn_rate,
        cast(case
            when b.starting_active_customers > 0
                then cast(b.churned_customers as double) / b.starting_active_customers
        end as double) as customer_churn_rate,
        cast(case
            when b.churn + b.contraction < 0
                then (b.new + b.expansion + b.reactivation) / -(b.churn + b.contraction)
        end as double) as quick_ratio,
        cast(case
            when r.base_value > 0 then r.current_value / r.base_value
        end as double) as nrr_12m,
        cast(case
            when r.base_value > 0 then r.retained_value / r.base_value
        end as double) as grr_12m,
        cast(case when u.month is null then 0 else u.usage_revenue end as decimal(18, 2))
            as usage_revenue,
        cast(case when k.month is null then 0 else k.contracted_arr end as decimal(18, 2))
            as contracted_arr
    from bridge as b
    left join retention_totals as r
        on b.month = r.month
        and b.entity = r.entity
    left join usage_totals as u
        on b.month = u.month
        and b.entity = u.entity
    left join booking_totals as k
        on b.month = k.month
        and b.entity = k.entity
)

select * from final
