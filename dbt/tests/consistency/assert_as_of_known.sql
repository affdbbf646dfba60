{{ config(
    meta={
        'dagster': {'ref': {'name': 'int_as_of'}},
        'description': 'The warehouse holds a loaded source, so the as-of instant is known.',
    },
) }}
-- The warehouse must hold a loaded source (raw_meta.source_state) to know its as-of instant.
with as_of as (
    select * from {{ ref('int_as_of') }}
),

final as (
    select *
    from as_of
    where as_of_at is null
)

select * from final
