{{ config(
    meta={
        'dagster': {'ref': {'name': 'revenue_schedule'}},
        'description': 'Every non-void invoice line is recognised once: its months add up to its net amount.',
    },
) }}
-- Every non-void invoice line is recognised exactly once: its months add up to its net amount.
with revenue_schedule as (
    select * from {{ ref('revenue_schedule') }}
),

invoice_lines as (
    select * from {{ ref('invoice_lines') }}
),

recognized as (
    select
        invoice_line_id,
        sum(recognized_amount) as recognized_amount
    from revenue_schedule
    where entry_type = 'invoice_line'
    group by invoice_line_id
),

final as (
    select
        l.invoice_line_id,
        l.net_amount,
        r.recognized_amount
    from invoice_lines as l
    left join recognized as r on l.invoice_line_id = r.invoice_line_id
    where l.invoice_status <> 'void'
      and (r.recognized_amount is null or r.recognized_amount <> l.net_amount)
)

select * from final
