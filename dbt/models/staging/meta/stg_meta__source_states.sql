with source as (
    select * from {{ source('raw_meta', 'source_state') }}
),

final as (
    select
        source as source_name,
        exported_at,
        loaded_at
    from source
)

select * from final
