"""A NetSuite posting whose Stripe id names nothing of its kind, or a voided invoice."""

from reconciliation.catalog import Check

CHECK = Check(
    check_id="erp_orphan_posting",
    title="ERP posting with no Stripe source",
    compares=("netsuite", "stripe"),
    record_system="netsuite",
    owner="finance",
    sql="""
    with postings as (
        select * from core.erp_transactions
        where not is_voided and type in ('CustInvc', 'CustPymt', 'CustCred')
          and external_kind is not null
    ),
    matched as (
        select t.transaction_id,
            case t.type
                when 'CustInvc' then exists (
                    select 1 from core.invoices i
                    where i.invoice_id = t.external_id and i.status <> 'void')
                when 'CustPymt' then exists (
                    select 1 from core.payments p where p.payment_id = t.external_id)
                else exists (
                    select 1 from core.credit_notes n where n.credit_note_id = t.external_id)
            end as has_source,
            exists (
                select 1 from core.invoices i
                where i.invoice_id = t.external_id and i.status = 'void'
            ) as names_void_invoice
        from postings t
    )
    select
        cast(t.transaction_id as varchar) as record_id,
        t.customer_id,
        t.entity,
        t.currency,
        abs(t.foreign_total) as amount,
        not m.has_source as is_exception,
        'NetSuite ' || t.type || ' ' || t.transaction_id || ' ('
            || format('{{}} {{:,.2f}}', t.currency, abs(t.foreign_total)) || ', '
            || strftime(t.trandate, '%Y-%m-%d') || ') records Stripe id ' || t.external_id
            || case when m.names_void_invoice then ', an invoice that was voided in Stripe'
                    else ', which names no Stripe ' || case t.type
                        when 'CustInvc' then 'invoice' when 'CustPymt' then 'charge'
                        else 'credit note' end end as detail
    from postings t
    join matched m using (transaction_id)
    """,
)
