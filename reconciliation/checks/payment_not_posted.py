"""A succeeded charge that paid an invoice, with no NetSuite payment after the SLA."""

from reconciliation.catalog import Check

CHECK = Check(
    check_id="payment_not_posted",
    title="Payment never posted to the ERP",
    compares=("stripe", "netsuite"),
    record_system="stripe",
    owner="finance",
    params={"sla_days": 2},
    sql="""
    with paying as (
        select distinct p.*
        from core.payments p
        join core.invoice_payments ip on ip.payment_id = p.payment_id and ip.status = 'paid'
        where p.status = 'succeeded'
          and p.created_at <= {as_of} - to_seconds(cast({sla_days} * 86400 as bigint))
    ),
    posted as (
        select distinct external_id from core.erp_transactions
        where type = 'CustPymt' and not is_voided
    )
    select
        p.payment_id as record_id,
        p.customer_id,
        c.entity,
        p.currency,
        p.amount,
        s.external_id is null as is_exception,
        'Stripe charge ' || p.payment_id || ' (' || format('{{}} {{:,.2f}}', p.currency, p.amount)
            || ', ' || strftime(p.created_at, '%Y-%m-%d') || ', paying invoice '
            || coalesce(p.invoice_id, '?') || ') has no NetSuite payment after '
            || cast({sla_days} as integer) || ' days' as detail
    from paying p
    left join posted s on s.external_id = p.payment_id
    left join core.customers c on c.customer_id = p.customer_id
    """,
)
