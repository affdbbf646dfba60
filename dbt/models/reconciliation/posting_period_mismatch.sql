-- grain: one row per live NetSuite invoice of a finalized Stripe invoice
-- exception: posted to another period than the month the Stripe invoice was finalized in
-- discrepancy_at: the posting's date (trandate)
with monthly as (
    select * from {{ ref('accounting_periods') }}
    where not is_quarter and not is_year and not is_adjust
),

pairs as (
    select t.transaction_id, t.posting_period_id, i.invoice_id, i.customer_id, i.entity,
           i.currency, i.total, i.finalized_at, p.posting_period_id as expected_period_id,
           p.period_name as expected_name, q.period_name as actual_name, t.trandate
    from {{ ref('erp_transactions') }} as t
    inner join {{ ref('invoices') }} as i on i.invoice_id = t.external_id and i.is_finalized
    left join monthly as p
      on cast(i.finalized_at as date) between p.start_date and p.end_date
    left join {{ ref('accounting_periods') }} as q on q.posting_period_id = t.posting_period_id
    where t.type = 'CustInvc' and not t.is_voided
)

select
    cast(transaction_id as varchar) as record_id,
    customer_id,
    entity,
    currency,
    total as amount,
    posting_period_id is distinct from expected_period_id as is_exception,
    'NetSuite invoice ' || transaction_id || ' for Stripe invoice ' || invoice_id
        || ' (finalized ' || {{ recon_strftime('finalized_at', '%Y-%m-%d') }} || ') is posted in '
        || coalesce(actual_name, 'period ' || posting_period_id) || ' instead of '
        || coalesce(expected_name, 'the period of its finalization') as detail,
    cast(trandate as {{ revops_column_type('timestamp_tz') }}) as discrepancy_at
from pairs
