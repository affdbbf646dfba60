with source as (
    select * from {{ source('raw_netsuite', 'account') }}
),

final as (
    select
        id as gl_account_id,
        acctnumber as account_number,
        fullname as account_name,
        accttype as account_type
    from source
)

select * from final
