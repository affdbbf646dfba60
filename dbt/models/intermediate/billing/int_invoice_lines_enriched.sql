-- grain: one row per Stripe invoice line, with its price, invoice status and canonical customer
-- The MRR value of a line (docs/revenue-metrics.md, "MRR of an invoice line") is exact: a
-- rational number carried as an integer in 1e-12 minor units (monthly_value_e12), because
-- DECIMAL division is a DOUBLE.
--   monthly value = sign(amount) * unit_amount * quantity / interval_months
--                   * (1 - |sum(discount_amounts)| / |amount|)
--   interval_months = interval_count * (1 month, 12 year, 12/52 week, 12/365 day)
--                   = months_numerator / months_denominator
with lines as (
    select * from {{ ref('stg_stripe__invoice_lines') }}
),

invoices as (
    select * from {{ ref('stg_stripe__invoices') }}
),

prices as (
    select * from {{ ref('stg_stripe__prices') }}
),

identities as (
    select * from {{ ref('int_customer_identities') }}
    where system = 'stripe'
),

joined as (
    select
        l.invoice_line_id,
        l.invoice_id,
        l.position,
        i.stripe_customer_id as billing_customer_id,
        c.customer_id,
        coalesce(l.subscription_id, i.subscription_id) as subscription_id,
        l.subscription_item_id,
        l.price_id,
        coalesce(l.product_id, p.product_id) as product_id,
        case
            when p.price_type = 'recurring' and p.usage_type = 'metered' then 'metered'
            when p.price_type = 'recurring' then 'licensed'
            else 'one_time'
        end as line_type,
        l.is_proration,
        l.parent_type,
        l.description,
        l.quantity,
        coalesce(l.unit_amount, p.unit_amount) as unit_amount,
        p.unit_amount_minor as price_unit_amount_minor,
        l.amount_minor,
        l.discount_amount_minor,
        l.amount,
        l.discount_amount,
        l.tax_amount,
        cast(l.amount - l.discount_amount as decimal(18, 2)) as net_amount,
        l.currency,
        l.period_start_at,
        l.period_end_at,
        p.recurring_interval,
        p.interval_count,
        case p.recurring_interval
            when 'month' then p.interval_count
            when 'year' then 12 * p.interval_count
            when 'week' then 12 * p.interval_count
            when 'day' then 12 * p.interval_count
        end as months_numerator,
        case p.recurring_interval
            when 'month' then 1
            when 'year' then 1
            when 'week' then 52
            when 'day' then 365
        end as months_denominator,
        p.meter_id,
        i.status as invoice_status,
        i.created_at as invoice_created_at,
        i.finalized_at as invoice_finalized_at
    from lines as l
    inner join invoices as i on l.invoice_id = i.invoice_id
    left join prices as p on l.price_id = p.price_id
    left join identities as c on i.stripe_customer_id = c.source_id
),

valued as (
    select
        *,
        invoice_status in ('open', 'paid') and line_type = 'licensed' and amount_minor <> 0
            as is_mrr_line,
        -- numerator and denominator of |monthly value| in minor units (exact integers)
        cast(price_unit_amount_minor as {{ type_wide_integer() }}) * quantity * months_denominator
            * (abs(amount_minor) - abs(discount_amount_minor)) as value_numerator,
        cast(months_numerator as {{ type_wide_integer() }}) * abs(amount_minor) as value_denominator
    from joined
),

final as (
    select
        invoice_line_id,
        invoice_id,
        position,
        billing_customer_id,
        customer_id,
        subscription_id,
        subscription_item_id,
        price_id,
        product_id,
        line_type,
        is_proration,
        parent_type,
        description,
        quantity,
        unit_amount,
        price_unit_amount_minor,
        amount_minor,
        discount_amount_minor,
        amount,
        discount_amount,
        tax_amount,
        net_amount,
        currency,
        period_start_at,
        period_end_at,
        recurring_interval,
        interval_count,
        months_numerator,
        months_denominator,
        meter_id,
        invoice_status,
        invoice_created_at,
        invoice_finalized_at,
        is_mrr_line,
        case
            when line_type <> 'licensed' or amount_minor = 0 or value_denominator = 0 then 0
            when amount_minor > 0
                then {{ round_half_away_div('value_numerator * 1000000000000', 'value_denominator') }}
            else - {{ round_half_away_div('value_numerator * 1000000000000', 'value_denominator') }}
        end as monthly_value_e12
    from valued
)

select * from final
