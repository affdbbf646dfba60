"""A won New Business or Expansion deal that no Stripe subscription carries."""

from reconciliation.catalog import Check

CHECK = Check(
    check_id="closed_won_not_provisioned",
    title="Closed-won deal never provisioned",
    compares=("salesforce", "stripe"),
    record_system="salesforce",
    owner="revops",
    params={"sla_days": 7},
    sql="""
    with won as (
        select * from core.contracts
        where is_won and opportunity_type in ('New Business', 'Expansion')
          and close_date <= cast({as_of} - to_days(cast({sla_days} as integer)) as date)
    ),
    provisioned as (
        select distinct crm_opportunity_id from core.subscriptions
        where crm_opportunity_id is not null
    )
    select
        w.opportunity_id as record_id,
        w.customer_id,
        c.entity,
        w.currency,
        w.contracted_arr as amount,
        p.crm_opportunity_id is null as is_exception,
        'Salesforce opportunity ' || w.opportunity_id || ' (' || w.opportunity_type
            || ', closed ' || strftime(w.close_date, '%Y-%m-%d') || ', contracted ARR '
            || format('{{}} {{:,.2f}}', w.currency, w.contracted_arr)
            || ') has no Stripe subscription carrying it in metadata.salesforce_opportunity_id '
            || 'after ' || cast({sla_days} as integer) || ' days' as detail
    from won w
    left join provisioned p on p.crm_opportunity_id = w.opportunity_id
    left join core.customers c on c.customer_id = w.customer_id
    """,
)
