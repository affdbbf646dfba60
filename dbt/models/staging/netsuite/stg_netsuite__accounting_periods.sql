with source as (
    select * from {{ source('raw_netsuite', 'accountingperiod') }}
),

final as (
    select
        id as posting_period_id,
        periodname as period_name,
        startdate as start_date,
        enddate as end_date,
        coalesce(closed, false) as is_closed,
        coalesce(isadjust, false) as is_adjust,
        coalesce(isquarter, false) as is_quarter,
        coalesce(isyear, false) as is_year
    from source
)

select * from final
