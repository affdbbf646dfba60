-- grain: one row per closed-won opportunity and the Stripe subscription that carries it
-- Billed list ARR (docs/reconciliation-checks.md, "The checks", contract_billing_mismatch):
-- 12 * sum of unit_amount * quantity / interval_months (list price: before any coupon, a
-- zero-amount line at its list value, a proration credit negative) over the subscription's
-- licensed lines of finalized invoices that cover the snapshot of M, where M is the first
-- calendar month whose first and last instants are both inside a line's period, else (a
-- subscription that never covered a whole month, e.g. a trial that did not convert) its first
-- covered month, valued by the lines covering its snapshot or, when none does, by the lines in
-- it.
with contracts as (
    select * from {{ ref('contracts') }}
),

subscriptions as (
    select * from {{ ref('subscriptions') }}
),

invoice_lines as (
    select * from {{ ref('int_invoice_lines_enriched') }}
),

months as (
    select * from {{ ref('int_months') }}
),

linked as (
    select
        c.opportunity_id,
        c.crm_account_id,
        c.customer_id,
        c.opportunity_type,
        c.close_date,
        c.contracted_arr,
        c.currency as contract_currency,
        s.subscription_id,
        s.currency as billing_currency
    from contracts as c
    inner join subscriptions as s on c.opportunity_id = s.crm_opportunity_id
),

licensed as (
    select
        l.*,
        case when l.amount_minor < 0 then -1 else 1 end
        * {{ round_half_away_div(
            'cast(l.price_unit_amount_minor as ' ~ type_wide_integer() ~ ') * l.quantity'
            ~ ' * l.months_denominator * 1000000000000',
            'l.months_numerator'
        ) }} as list_value_e12
    from invoice_lines as l
    where l.line_type = 'licensed'
      and l.invoice_status in ('open', 'paid', 'uncollectible')
      and l.subscription_id in (select subscription_id from linked)
),

coverage as (
    select
        l.subscription_id,
        m.month,
        max(case
            when l.amount_minor >= 0
                and l.period_start_at <= m.month_start_at
                and m.month_start_at < l.period_end_at
            then 1 else 0
        end) as covers_first_instant,
        -- the last instant of M is one second before the next month starts
        max(case
            when l.amount_minor >= 0
                and l.period_start_at < m.next_month_start_at
                and m.next_month_start_at <= l.period_end_at
            then 1 else 0
        end) as covers_last_instant
    from licensed as l
    inner join months as m
        on l.period_start_at < m.next_month_start_at
        and m.month_start_at < l.period_end_at
    group by l.subscription_id, m.month
),

chosen as (
    select
        subscription_id,
        coalesce(
            min(case when covers_first_instant = 1 and covers_last_instant = 1 then month end),
            min(month)
        ) as billed_month
    from coverage
    group by subscription_id
),

in_month as (
    select
        c.subscription_id,
        c.billed_month,
        m.snapshot_at,
        l.invoice_line_id,
        l.list_value_e12,
        l.period_start_at < m.snapshot_at and m.snapshot_at <= l.period_end_at as covers_snapshot
    from chosen as c
    inner join months as m on c.billed_month = m.month
    inner join licensed as l
        on c.subscription_id = l.subscription_id
        and l.period_start_at < m.next_month_start_at
        and m.month_start_at < l.period_end_at
),

basis as (
    select
        *,
        max(case when covers_snapshot then 1 else 0 end)
            over (partition by subscription_id) as has_snapshot_lines
    from in_month
),

billed as (
    select
        subscription_id,
        billed_month,
        snapshot_at,
        count(*) as billed_lines,
        sum(list_value_e12) as list_value_e12
    from basis
    where covers_snapshot or has_snapshot_lines = 0
    group by subscription_id, billed_month, snapshot_at
),

final as (
    select
        cast(k.opportunity_id as varchar) as opportunity_id,
        cast(k.subscription_id as varchar) as subscription_id,
        cast(k.customer_id as varchar) as customer_id,
        cast(k.crm_account_id as varchar) as crm_account_id,
        cast(k.opportunity_type as varchar) as opportunity_type,
        cast(k.close_date as date) as close_date,
        cast(k.contract_currency as varchar) as contract_currency,
        cast(k.contracted_arr as decimal(18, 2)) as contracted_arr,
        cast(k.billing_currency as varchar) as billing_currency,
        {{ minor_to_major(
            round_half_away_div(
                '12 * coalesce(b.list_value_e12, 0)',
                '1000000000000 * ' ~ minor_units_per_cent('k.billing_currency')
            ) ~ ' * ' ~ minor_units_per_cent('k.billing_currency'),
            'k.billing_currency'
        ) }} as billed_arr,
        cast(b.billed_month as date) as billed_month,
        cast(b.snapshot_at as timestamp with time zone) as billed_snapshot_at,
        cast(coalesce(b.billed_lines, 0) as integer) as billed_lines
    from linked as k
    left join billed as b on k.subscription_id = b.subscription_id
)

select * from final
