-- grain: one row per live NetSuite invoice, payment or credit memo that records a Stripe id
-- exception: the id names nothing of its kind in Stripe, or an invoice voided there (a
-- quarantined Stripe record of that id is named instead)
-- discrepancy_at: the posting's date (trandate)
{%- set lead -%}
    'NetSuite ' || t.type || ' ' || t.transaction_id || ' ('
        || {{ recon_money('t.currency', 'abs(t.foreign_total)') }} || ', '
        || {{ recon_strftime('t.trandate', '%Y-%m-%d') }} || ') records Stripe id '
        || t.external_id
{%- endset %}
{%- set claim -%}
    case when m.names_void_invoice then ', an invoice that was voided in Stripe'
         else ', which names no Stripe ' || case t.type
             when 'CustInvc' then 'invoice' when 'CustPymt' then 'charge'
             else 'credit note' end end
{%- endset %}
with postings as (
    select * from {{ ref('erp_transactions') }}
    where not is_voided and type in ('CustInvc', 'CustPymt', 'CustCred')
      and external_kind is not null
),

matched as (
    select t.transaction_id,
        case t.type
            when 'CustInvc' then exists (
                select 1 from {{ ref('invoices') }} as i
                where i.invoice_id = t.external_id and i.status <> 'void')
            when 'CustPymt' then exists (
                select 1 from {{ ref('payments') }} as p where p.payment_id = t.external_id)
            else exists (
                select 1 from {{ ref('credit_notes') }} as n
                where n.credit_note_id = t.external_id)
        end as has_source,
        exists (
            select 1 from {{ ref('invoices') }} as i
            where i.invoice_id = t.external_id and i.status = 'void'
        ) as names_void_invoice
    from postings as t
)

select
    cast(t.transaction_id as varchar) as record_id,
    t.customer_id,
    t.entity,
    t.currency,
    abs(t.foreign_total) as amount,
    not m.has_source as is_exception,
    {{ recon_unless_quarantined(
        lead, claim, 'stripe', ['invoices', 'charges', 'credit_notes'], 't.external_id'
    ) }} as detail,
    cast(t.trandate as {{ revops_column_type('timestamp_tz') }}) as discrepancy_at
from postings as t
inner join matched as m using (transaction_id)
