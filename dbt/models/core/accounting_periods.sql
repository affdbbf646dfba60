-- grain: one row per NetSuite accounting period (months, quarters, years, adjustments)
with periods as (
    select * from {{ ref('stg_netsuite__accounting_periods') }}
),

final as (
    select
        cast(posting_period_id as bigint) as posting_period_id,
        cast(period_name as varchar) as period_name,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(is_closed as boolean) as is_closed,
        cast(is_adjust as boolean) as is_adjust,
        cast(is_quarter as boolean) as is_quarter,
        cast(is_year as boolean) as is_year
    from periods
)

select * from final
