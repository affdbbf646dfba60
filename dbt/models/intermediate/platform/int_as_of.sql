-- grain: one row: the as-of instant of the warehouse (the newest export loaded)
with source_states as (
    select * from {{ ref('stg_meta__source_states') }}
),

latest as (
    select max(exported_at) as as_of_at
    from source_states
),

final as (
    select
        as_of_at,
        -- the session runs in UTC, so these are the UTC date and month of the instant
        cast(as_of_at as date) as as_of_date,
        cast({{ dbt.date_trunc('month', 'as_of_at') }} as date) as as_of_month
    from latest
)

select * from final
