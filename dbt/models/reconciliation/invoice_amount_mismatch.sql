-- grain: one row per finalized Stripe invoice and the live NetSuite invoice posting it
-- exception: another currency, or totals apart by more than the tolerance
-- discrepancy_at: the NetSuite invoice's creation (the posting that disagrees)
with posted as (
    select * from {{ ref('erp_transactions') }} where type = 'CustInvc' and not is_voided
),

pairs as (
    select i.*, t.transaction_id, t.currency as erp_currency, t.foreign_total,
           t.created_at as posted_at
    from {{ ref('invoices') }} as i
    inner join posted as t on t.external_id = i.invoice_id
    where i.is_finalized
)

select
    p.invoice_id as record_id,
    p.customer_id,
    p.entity,
    p.currency,
    p.total as amount,
    p.erp_currency <> p.currency
        or abs(p.foreign_total - p.total) > {{ recon_param('tolerance') }} as is_exception,
    'Stripe invoice ' || p.invoice_id || ' is '
        || {{ recon_money('p.currency', 'p.total') }} || ' but NetSuite invoice '
        || p.transaction_id || ' records '
        || {{ recon_money('p.erp_currency', 'p.foreign_total') }} as detail,
    p.posted_at as discrepancy_at
from pairs as p
