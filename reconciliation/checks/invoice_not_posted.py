"""A finalized Stripe invoice with no NetSuite invoice after the SLA."""

from reconciliation.catalog import Check

CHECK = Check(
    check_id="invoice_not_posted",
    title="Invoice never posted to the ERP",
    compares=("stripe", "netsuite"),
    record_system="stripe",
    owner="finance",
    params={"sla_days": 2},
    sql="""
    with due as (
        select * from core.invoices
        where is_finalized and total <> 0
          and finalized_at <= {as_of} - to_seconds(cast({sla_days} * 86400 as bigint))
    ),
    posted as (
        select distinct external_id from core.erp_transactions
        where type = 'CustInvc' and not is_voided
    )
    select
        i.invoice_id as record_id,
        i.customer_id,
        i.entity,
        i.currency,
        i.total as amount,
        p.external_id is null as is_exception,
        'Stripe invoice ' || i.invoice_id || ' ('
            || format('{{}} {{:,.2f}}', i.currency, i.total) || ', finalized '
            || strftime(i.finalized_at, '%Y-%m-%d') || ') has no NetSuite invoice after '
            || cast({sla_days} as integer) || ' days' as detail
    from due i
    left join posted p on p.external_id = i.invoice_id
    """,
)
