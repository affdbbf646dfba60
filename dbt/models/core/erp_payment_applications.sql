-- grain: one row per NetSuite transaction line link (a payment or credit applied to an invoice)
with links as (
    select * from {{ ref('stg_netsuite__previous_transaction_line_links') }}
),

final as (
    select
        cast(previous_transaction_id as bigint) as previous_transaction_id,
        cast(previous_line_id as bigint) as previous_line_id,
        cast(next_transaction_id as bigint) as next_transaction_id,
        cast(next_line_id as bigint) as next_line_id,
        cast(link_type as varchar) as link_type,
        cast(foreign_amount as decimal(18, 2)) as foreign_amount
    from links
)

select * from final
