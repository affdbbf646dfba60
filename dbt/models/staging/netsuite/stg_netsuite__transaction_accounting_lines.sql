with source as (
    select * from {{ source('raw_netsuite', 'transactionaccountingline') }}
),

final as (
    select
        transaction as transaction_id,
        transactionline as transaction_line_id,
        account as gl_account_id,
        amount,
        debit,
        credit,
        coalesce(posting, false) as is_posting
    from source
)

select * from final
