-- grain: one row per posted Stripe payment of a posted invoice it paid
-- exception: NetSuite does not apply the payment to that invoice (a quarantined application
-- link between the two is named instead)
-- discrepancy_at: the charge's creation (the payment date)
{%- set lead -%}
    'NetSuite payment ' || x.payment_txn || ' (Stripe charge ' || x.payment_id || ', '
        || {{ recon_money('x.currency', 'x.amount') }}
        || ') is not applied to NetSuite invoice ' || x.invoice_txn
        || ' (Stripe invoice ' || x.invoice_id || ')'
{%- endset %}
with live as (
    select * from {{ ref('erp_transactions') }} where not is_voided
),

pairs as (
    select distinct p.payment_id, p.customer_id, p.currency, p.amount, p.created_at,
           ip.invoice_id,
           inv.transaction_id as invoice_txn, pay.transaction_id as payment_txn
    from {{ ref('invoice_payments') }} as ip
    inner join {{ ref('payments') }} as p
      on p.payment_id = ip.payment_id and p.status = 'succeeded'
    inner join live as inv on inv.type = 'CustInvc' and inv.external_id = ip.invoice_id
    inner join live as pay on pay.type = 'CustPymt' and pay.external_id = p.payment_id
    where ip.status = 'paid'
)

select
    x.payment_id as record_id,
    x.customer_id,
    c.entity,
    x.currency,
    x.amount,
    a.next_transaction_id is null as is_exception,
    {{ recon_unless_quarantined(
        lead, "''", 'netsuite', ['previoustransactionlinelink'],
        "cast(x.invoice_txn as " ~ dbt.type_string() ~ ") || '>' || cast(x.payment_txn as "
        ~ dbt.type_string() ~ ")",
        by='linked_id',
    ) }} as detail,
    x.created_at as discrepancy_at
from pairs as x
left join {{ ref('erp_payment_applications') }} as a
  on a.previous_transaction_id = x.invoice_txn and a.next_transaction_id = x.payment_txn
left join {{ ref('customers') }} as c on c.customer_id = x.customer_id
