"""A posted payment not applied to the posted invoice it paid."""

from reconciliation.catalog import Check

CHECK = Check(
    check_id="payment_unapplied",
    title="Payment not applied to its invoice",
    compares=("stripe", "netsuite"),
    record_system="stripe",
    owner="finance",
    sql="""
    with live as (select * from core.erp_transactions where not is_voided),
    pairs as (
        select distinct p.payment_id, p.customer_id, p.currency, p.amount, ip.invoice_id,
               inv.transaction_id as invoice_txn, pay.transaction_id as payment_txn
        from core.invoice_payments ip
        join core.payments p on p.payment_id = ip.payment_id and p.status = 'succeeded'
        join live inv on inv.type = 'CustInvc' and inv.external_id = ip.invoice_id
        join live pay on pay.type = 'CustPymt' and pay.external_id = p.payment_id
        where ip.status = 'paid'
    )
    select
        x.payment_id as record_id,
        x.customer_id,
        c.entity,
        x.currency,
        x.amount,
        a.next_transaction_id is null as is_exception,
        'NetSuite payment ' || x.payment_txn || ' (Stripe charge ' || x.payment_id || ', '
            || format('{{}} {{:,.2f}}', x.currency, x.amount)
            || ') is not applied to NetSuite invoice ' || x.invoice_txn
            || ' (Stripe invoice ' || x.invoice_id || ')' as detail
    from pairs x
    left join core.erp_payment_applications a
      on a.previous_transaction_id = x.invoice_txn and a.next_transaction_id = x.payment_txn
    left join core.customers c on c.customer_id = x.customer_id
    """,
)
