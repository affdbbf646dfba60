with source as (
    select * from {{ source('raw_netsuite', 'transactionline') }}
),

final as (
    select
        transaction as transaction_id,
        id as transaction_line_id,
        coalesce(mainline, false) as is_mainline,
        coalesce(taxline, false) as is_taxline,
        item as item_id,
        quantity,
        rate,
        netamount as net_amount,
        foreignamount as foreign_amount,
        subsidiary as subsidiary_id,
        memo
    from source
)

select * from final
