"""An issued Stripe credit note with no NetSuite credit memo after the SLA."""

from reconciliation.catalog import Check

CHECK = Check(
    check_id="credit_note_not_posted",
    title="Credit note never posted to the ERP",
    compares=("stripe", "netsuite"),
    record_system="stripe",
    owner="finance",
    params={"sla_days": 2},
    sql="""
    with due as (
        select * from core.credit_notes
        where status = 'issued'
          and effective_at <= {as_of} - to_seconds(cast({sla_days} * 86400 as bigint))
    ),
    posted as (
        select distinct external_id from core.erp_transactions
        where type = 'CustCred' and not is_voided
    )
    select
        n.credit_note_id as record_id,
        n.customer_id,
        c.entity,
        n.currency,
        n.total as amount,
        p.external_id is null as is_exception,
        'Stripe credit note ' || n.credit_note_id || ' ('
            || format('{{}} {{:,.2f}}', n.currency, n.total) || ' on invoice '
            || n.invoice_id || ', effective ' || strftime(n.effective_at, '%Y-%m-%d')
            || ') has no NetSuite credit memo after ' || cast({sla_days} as integer) || ' days'
            as detail
    from due n
    left join posted p on p.external_id = n.credit_note_id
    left join core.customers c on c.customer_id = n.customer_id
    """,
)
