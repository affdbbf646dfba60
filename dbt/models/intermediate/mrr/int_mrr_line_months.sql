-- grain: one row per MRR invoice line per month whose snapshot the line covers
-- A line covers month M when period.start < snapshot(M) <= period.end (Stripe's period end
-- is exclusive); snapshot(M) is the first instant of M+1, or the as-of instant.
with invoice_lines as (
    select * from {{ ref('int_invoice_lines_enriched') }}
),

months as (
    select * from {{ ref('int_months') }}
),

mrr_lines as (
    select *
    from invoice_lines
    where is_mrr_line
),

final as (
    select
        l.invoice_line_id,
        l.invoice_id,
        l.customer_id,
        l.billing_customer_id,
        l.subscription_id,
        l.currency,
        m.month,
        l.monthly_value_e12
    from mrr_lines as l
    inner join months as m
        on l.period_start_at < m.snapshot_at
        and m.snapshot_at <= l.period_end_at
)

select * from final
