"""A NetSuite invoice whose currency or total differs from its Stripe invoice."""

from reconciliation.catalog import Check

CHECK = Check(
    check_id="invoice_amount_mismatch",
    title="Posted invoice amount or currency differs",
    compares=("stripe", "netsuite"),
    record_system="stripe",
    owner="finance",
    params={"tolerance": 0.01},
    sql="""
    with posted as (
        select * from core.erp_transactions where type = 'CustInvc' and not is_voided
    ),
    pairs as (
        select i.*, t.transaction_id, t.currency as erp_currency, t.foreign_total
        from core.invoices i
        join posted t on t.external_id = i.invoice_id
        where i.is_finalized
    )
    select
        p.invoice_id as record_id,
        p.customer_id,
        p.entity,
        p.currency,
        p.total as amount,
        p.erp_currency <> p.currency or abs(p.foreign_total - p.total) > {tolerance}
            as is_exception,
        'Stripe invoice ' || p.invoice_id || ' is '
            || format('{{}} {{:,.2f}}', p.currency, p.total) || ' but NetSuite invoice '
            || p.transaction_id || ' records '
            || format('{{}} {{:,.2f}}', p.erp_currency, p.foreign_total) as detail
    from pairs p
    """,
)
