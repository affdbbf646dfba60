with source as (
    select * from {{ source('raw_netsuite', 'previoustransactionlinelink') }}
),

final as (
    select
        previousdoc as previous_transaction_id,
        previousline as previous_line_id,
        nextdoc as next_transaction_id,
        nextline as next_line_id,
        linktype as link_type,
        foreignamount as foreign_amount
    from source
)

select * from final
