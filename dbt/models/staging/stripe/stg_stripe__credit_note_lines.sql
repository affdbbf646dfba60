with source as (
    select * from {{ source('raw_stripe', 'credit_note_lines') }}
),

final as (
    select
        id as credit_note_line_id,
        credit_note_id,
        position,
        invoice_line_item as invoice_line_id,
        type as line_type,
        description,
        quantity,
        amount as amount_minor
    from source
)

select * from final
