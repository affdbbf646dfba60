"""An invoice posted to NetSuite more than the SLA after Stripe finalized it."""

from reconciliation.catalog import Check

CHECK = Check(
    check_id="posting_late",
    title="Invoice posted late",
    compares=("stripe", "netsuite"),
    record_system="stripe",
    owner="engineering",
    params={"sla_days": 2},
    sql="""
    with first_posting as (
        select external_id, min(created_at) as posted_at, min(transaction_id) as transaction_id
        from core.erp_transactions
        where type = 'CustInvc' and not is_voided
        group by all
    )
    select
        i.invoice_id as record_id,
        i.customer_id,
        i.entity,
        i.currency,
        i.total as amount,
        f.posted_at > i.finalized_at + to_seconds(cast({sla_days} * 86400 as bigint))
            as is_exception,
        'Stripe invoice ' || i.invoice_id || ' (finalized '
            || strftime(i.finalized_at, '%Y-%m-%d %H:%M') || ' UTC) was posted to NetSuite as '
            || f.transaction_id || ' on ' || strftime(f.posted_at, '%Y-%m-%d %H:%M')
            || ' UTC, ' || round(epoch(f.posted_at - i.finalized_at) / 86400.0, 1)
            || ' days later (SLA ' || cast({sla_days} as integer) || ' days)' as detail
    from core.invoices i
    join first_posting f on f.external_id = i.invoice_id
    where i.is_finalized
    """,
)
