-- grain: one row per calendar month from the first billed month to the as-of month
with as_of as (
    select * from {{ ref('int_as_of') }}
),

invoice_lines as (
    select * from {{ ref('stg_stripe__invoice_lines') }}
),

invoices as (
    select * from {{ ref('stg_stripe__invoices') }}
),

first_instants as (
    select min(period_start_at) as first_at from invoice_lines
    union all
    select min(created_at) as first_at from invoices
),

bounds as (
    select
        coalesce(
            cast({{ dbt.date_trunc('month', 'min(f.first_at)') }} as date), max(a.as_of_month)
        ) as first_month,
        max(a.as_of_month) as as_of_month,
        max(a.as_of_at) as as_of_at,
        max(a.as_of_date) as as_of_date
    from first_instants as f
    cross join as_of as a
),

offsets as (
    {{ integers(4) }}
),

spine as (
    select
        cast({{ dbt.dateadd('month', 'o.n', 'b.first_month') }} as date) as month,
        b.as_of_month,
        b.as_of_at,
        b.as_of_date
    from bounds as b
    inner join offsets as o
        on o.n <= {{ dbt.datediff('b.first_month', 'b.as_of_month', 'month') }}
),

final as (
    select
        month,
        cast({{ dbt.last_day('month', 'month') }} as date) as month_end_date,
        cast(month as timestamp with time zone) as month_start_at,
        cast({{ dbt.dateadd('month', 1, 'month') }} as timestamp with time zone)
            as next_month_start_at,
        month = as_of_month as is_as_of_month,
        -- MRR snapshot: the end of the month (first instant of the next), or the as-of instant
        case
            when month = as_of_month then as_of_at
            else cast({{ dbt.dateadd('month', 1, 'month') }} as timestamp with time zone)
        end as snapshot_at,
        -- MRR is valued at the rate of the month's last day (as-of date for the as-of month)
        case
            when month = as_of_month then as_of_date
            else cast({{ dbt.last_day('month', 'month') }} as date)
        end as fx_rate_date
    from spine
)

select * from final
