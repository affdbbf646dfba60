-- grain: one row per Stripe invoice line
with invoice_lines as (
    select * from {{ ref('int_invoice_lines_enriched') }}
),

final as (
    select
        cast(invoice_line_id as varchar) as invoice_line_id,
        cast(invoice_id as varchar) as invoice_id,
        cast(customer_id as varchar) as customer_id,
        cast(billing_customer_id as varchar) as billing_customer_id,
        cast(subscription_id as varchar) as subscription_id,
        cast(subscription_item_id as varchar) as subscription_item_id,
        cast(price_id as varchar) as price_id,
        cast(product_id as varchar) as product_id,
        cast(line_type as varchar) as line_type,
        cast(is_proration as boolean) as is_proration,
        cast(description as varchar) as description,
        cast(quantity as bigint) as quantity,
        cast(unit_amount as decimal(18, 6)) as unit_amount,
        cast(amount as decimal(18, 2)) as amount,
        cast(discount_amount as decimal(18, 2)) as discount_amount,
        cast(net_amount as decimal(18, 2)) as net_amount,
        cast(tax_amount as decimal(18, 2)) as tax_amount,
        cast(currency as varchar) as currency,
        cast(period_start_at as timestamp with time zone) as period_start_at,
        cast(period_end_at as timestamp with time zone) as period_end_at,
        cast(recurring_interval as varchar) as "interval",
        cast(interval_count as integer) as interval_count,
        -- display value; the MRR math uses the exact fraction (int_invoice_lines_enriched)
        cast(
            cast(months_numerator as decimal(18, 6)) / months_denominator as decimal(18, 10)
        ) as interval_months,
        cast(meter_id as varchar) as meter_id,
        cast(invoice_status as varchar) as invoice_status,
        cast(is_mrr_line as boolean) as is_mrr_line,
        -- the line's monthly MRR value in major units (exact to 1e-6 minor unit)
        cast(
            cast({{ round_half_away_div('monthly_value_e12', '1000000') }} as decimal(38, 0))
            * 0.000001 * {{ major_per_minor('currency') }} as decimal(18, 6)
        ) as monthly_value
    from invoice_lines
)

select * from final
