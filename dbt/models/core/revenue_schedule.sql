-- grain: one row per invoice line (or credit note line) per month it recognises revenue in
-- Every non-void invoice line is recognised ratably over its service period, in proportion to
-- the time of the period inside each month (whole days for day-aligned periods), net of
-- discounts and without tax; a line without a period (or an empty one) on its invoice date.
-- Cumulative rounding makes a line's months add up to its net amount exactly. Issued credit
-- notes reduce revenue in the month they take effect. Months after the as-of month are
-- deferred revenue, valued at the as-of rate.
with invoice_lines as (
    select * from {{ ref('int_invoice_lines_enriched') }}
),

credit_notes as (
    -- core's: its currency is resolved (an export may omit it: the invoice's)
    select * from {{ ref('credit_notes') }}
),

credit_note_lines as (
    select * from {{ ref('stg_stripe__credit_note_lines') }}
),

customers as (
    select * from {{ ref('customers') }}
),

as_of as (
    select * from {{ ref('int_as_of') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates') }}
),

offsets as (
    {{ integers(3) }}
),

billed as (
    select
        *,
        amount_minor - discount_amount_minor as net_minor,
        coalesce(invoice_finalized_at, invoice_created_at) as invoice_date_at,
        period_start_at is not null
        and period_end_at is not null
        and period_end_at > period_start_at as has_period
    from invoice_lines
    where invoice_status <> 'void'
),

ratable as (
    select
        *,
        cast({{ dbt.date_trunc('month', 'period_start_at') }} as date) as first_month,
        {{ dbt.datediff('period_start_at', 'period_end_at', 'second') }} as period_seconds
    from billed
    where has_period
),

ratable_months as (
    select
        r.*,
        cast({{ dbt.dateadd('month', 'o.n', 'r.first_month') }} as date) as month
    from ratable as r
    inner join offsets as o
        on o.n <= {{ dbt.datediff(
            'r.first_month',
            dbt.date_trunc('month', dbt.dateadd('second', -1, 'r.period_end_at')),
            'month'
        ) }}
),

ratable_elapsed as (
    select
        *,
        -- seconds of the period before this month, and up to the end of this month
        greatest(0, least(period_seconds, {{ dbt.datediff(
            'period_start_at', 'cast(month as timestamp with time zone)', 'second'
        ) }})) as seconds_before,
        greatest(0, least(period_seconds, {{ dbt.datediff(
            'period_start_at',
            'cast(' ~ dbt.dateadd('month', 1, 'month') ~ ' as timestamp with time zone)',
            'second'
        ) }})) as seconds_through
    from ratable_months
),

line_entries as (
    select
        'invoice_line' as entry_type,
        invoice_line_id,
        invoice_id,
        cast(null as {{ dbt.type_string() }}) as credit_note_id,
        billing_customer_id,
        customer_id,
        line_type,
        invoice_status,
        currency,
        month,
        {{ round_half_away_div('cast(net_minor as ' ~ type_wide_integer() ~ ') * seconds_through', 'period_seconds') }}
        - {{ round_half_away_div('cast(net_minor as ' ~ type_wide_integer() ~ ') * seconds_before', 'period_seconds') }}
            as recognized_minor
    from ratable_elapsed

    union all

    select
        'invoice_line' as entry_type,
        invoice_line_id,
        invoice_id,
        cast(null as {{ dbt.type_string() }}) as credit_note_id,
        billing_customer_id,
        customer_id,
        line_type,
        invoice_status,
        currency,
        cast({{ dbt.date_trunc('month', 'invoice_date_at') }} as date) as month,
        net_minor as recognized_minor
    from billed
    where not has_period
),

credit_entries as (
    select
        'credit_note' as entry_type,
        l.invoice_line_id,
        n.invoice_id,
        n.credit_note_id,
        n.billing_customer_id,
        n.customer_id,
        coalesce(il.line_type, 'credit') as line_type,
        il.invoice_status,
        n.currency,
        cast({{ dbt.date_trunc('month', 'coalesce(n.effective_at, n.created_at)') }} as date)
            as month,
        - l.amount_minor as recognized_minor
    from credit_note_lines as l
    inner join credit_notes as n on l.credit_note_id = n.credit_note_id
    left join invoice_lines as il on l.invoice_line_id = il.invoice_line_id
    where n.status = 'issued'
),

entries as (
    select * from line_entries
    union all
    select * from credit_entries
),

valued as (
    select
        e.*,
        c.entity,
        e.month > a.as_of_month as is_deferred,
        case
            when e.month >= a.as_of_month then a.as_of_date
            else cast({{ dbt.last_day('e.month', 'month') }} as date)
        end as fx_rate_date
    from entries as e
    cross join as_of as a
    left join customers as c on e.customer_id = c.customer_id
),

final as (
    select
        cast(v.entry_type as varchar) as entry_type,
        cast(v.invoice_line_id as varchar) as invoice_line_id,
        cast(v.invoice_id as varchar) as invoice_id,
        cast(v.credit_note_id as varchar) as credit_note_id,
        cast(v.customer_id as varchar) as customer_id,
        cast(v.billing_customer_id as varchar) as billing_customer_id,
        cast(v.entity as varchar) as entity,
        cast(v.month as date) as month,
        cast(v.currency as varchar) as currency,
        cast(v.line_type as varchar) as line_type,
        cast(v.invoice_status as varchar) as invoice_status,
        cast(v.is_deferred as boolean) as is_deferred,
        {{ minor_to_major('v.recognized_minor', 'v.currency') }} as recognized_amount,
        cast(x.rate as decimal(18, 8)) as fx_rate,
        cast(
            round({{ minor_to_major('v.recognized_minor', 'v.currency') }} * x.rate, 2)
            as decimal(18, 2)
        ) as recognized_reporting
    from valued as v
    left join fx_rates as x
        on v.currency = x.currency
        and x.valid_from <= v.fx_rate_date
        and v.fx_rate_date < x.valid_to
)

select * from final
