-- grain: one row per customer per month, from its first month with MRR > 0 to the as-of month
-- Local MRR per currency comes from int_mrr_customer_currency_months (rounded to the cent).
-- Reporting values (docs/revenue-metrics.md, "FX and rounding"):
-- mrr_reporting = round(sum local(M) * rate_M, 2);
-- movement_reporting = round(sum (local(M) - local(M-1)) * rate_M, 2) (0 for 'none');
-- fx_impact_reporting = mrr_reporting(M) - mrr_reporting(M-1) - movement_reporting(M), so
-- each customer's bridge, and every sum of them, closes to the cent.
with currency_months as (
    select * from {{ ref('int_mrr_customer_currency_months') }}
),

customers as (
    select * from {{ ref('customers') }}
),

with_previous as (
    select
        customer_id,
        currency,
        month,
        mrr,
        mrr_minor,
        fx_rate,
        coalesce(
            lag(mrr) over (partition by customer_id, currency order by month), 0
        ) as previous_mrr
    from currency_months
),

per_customer as (
    select
        customer_id,
        month,
        count(*) as n_currencies,
        max(currency) as any_currency,
        max(fx_rate) as any_fx_rate,
        sum(mrr) as mrr_local,
        sum(previous_mrr) as previous_mrr_local,
        sum(mrr * fx_rate) as mrr_at_rate,
        sum(previous_mrr * fx_rate) as previous_mrr_at_rate,
        sum((mrr - previous_mrr) * fx_rate) as change_at_rate,
        max(case when mrr_minor > 0 then 1 else 0 end) as is_active_flag
    from with_previous
    group by customer_id, month
),

classified as (
    select
        *,
        -- compared at M's rates; in one currency that is the local amounts themselves
        case when n_currencies = 1 then mrr_local else mrr_at_rate end as current_value,
        case when n_currencies = 1 then previous_mrr_local else previous_mrr_at_rate end
            as previous_value,
        coalesce(max(is_active_flag) over (
            partition by customer_id order by month
            rows between unbounded preceding and 1 preceding
        ), 0) as was_active_before
    from per_customer
),

movements as (
    select
        *,
        case
            when previous_value = 0 and current_value > 0 and was_active_before = 1
                then 'reactivation'
            when previous_value = 0 and current_value > 0 then 'new'
            when previous_value > 0 and current_value = 0 then 'churn'
            when previous_value > 0 and current_value > previous_value then 'expansion'
            when previous_value > 0 and current_value < previous_value then 'contraction'
            else 'none'
        end as movement,
        cast(round(mrr_at_rate, 2) as decimal(18, 2)) as mrr_reporting
    from classified
),

bridged as (
    select
        *,
        cast(case when movement = 'none' then 0 else round(change_at_rate, 2) end
            as decimal(18, 2)) as movement_reporting,
        coalesce(
            lag(mrr_reporting) over (partition by customer_id order by month), 0
        ) as previous_mrr_reporting,
        coalesce(
            lag(is_active_flag) over (partition by customer_id order by month), 0
        ) as previous_active_flag
    from movements
),

final as (
    select
        cast(b.customer_id as varchar) as customer_id,
        cast(c.crm_account_id as varchar) as crm_account_id,
        cast(c.billing_customer_id as varchar) as billing_customer_id,
        cast(coalesce(c.entity, 'UNASSIGNED') as varchar) as entity,
        cast(b.month as date) as month,
        cast(case
            when b.n_currencies > 1 or c.currency = 'MULTI' then 'MULTI' else b.any_currency
        end as varchar) as currency,
        cast(case when b.n_currencies > 1 or c.currency = 'MULTI' then null else b.mrr_local end
            as decimal(18, 2)) as mrr,
        cast(case
            when b.n_currencies > 1 or c.currency = 'MULTI' then null else b.previous_mrr_local
        end as decimal(18, 2)) as previous_mrr,
        cast(case when b.n_currencies > 1 or c.currency = 'MULTI' then null else b.any_fx_rate end
            as decimal(18, 8)) as fx_rate,
        cast('{{ var("reporting_currency") }}' as varchar) as reporting_currency,
        cast(b.mrr_reporting as decimal(18, 2)) as mrr_reporting,
        cast(b.previous_mrr_reporting as decimal(18, 2)) as previous_mrr_reporting,
        cast(b.movement as varchar) as movement,
        cast(b.movement_reporting as decimal(18, 2)) as movement_reporting,
        cast(b.mrr_reporting - b.previous_mrr_reporting - b.movement_reporting as decimal(18, 2))
            as fx_impact_reporting,
        cast(b.is_active_flag = 1 as boolean) as is_active,
        cast(b.previous_active_flag = 1 as boolean) as was_active_previous_month,
        cast(b.was_active_before = 0 and b.is_active_flag = 1 as boolean) as is_first_active_month
    from bridged as b
    left join customers as c on b.customer_id = c.customer_id
)

select * from final
