"""A billed Stripe customer whose CRM link is missing or names no Account."""

from reconciliation.catalog import Check

CHECK = Check(
    check_id="customer_unlinked",
    title="Billing customer not linked to the CRM",
    compares=("stripe", "salesforce"),
    record_system="stripe",
    owner="revops",
    sql="""
    with billed as (
        select billing_customer_id, count(*) as n_invoices
        from core.invoices where is_finalized group by all
    ),
    ids as (
        select source_id, customer_id from core.customer_identities where system = 'stripe'
    ),
    links as (
        -- the id as written in Stripe, shown in the 15-character form the Salesforce UI
        -- shows (the same sentence whether it was pasted with its checksum suffix or not)
        select id,
               case when length(trim(salesforce_account_id)) = 18
                    then left(trim(salesforce_account_id), 15)
                    else nullif(trim(salesforce_account_id), '') end as shown_id
        from raw_stripe.customers
    ),
    mrr as (
        select customer_id, mrr_reporting from metrics.mrr_monthly
        where month = date_trunc('month', cast({as_of} as date))
    )
    select
        b.billing_customer_id as record_id,
        i.customer_id,
        c.entity,
        {reporting_currency} as currency,
        coalesce(m.mrr_reporting, 0) * 12 as amount,
        c.crm_account_id is null as is_exception,
        'Stripe customer ' || b.billing_customer_id || ' (' || coalesce(c.name, '?') || ', '
            || b.n_invoices || ' finalized invoices) has '
            || case when r.shown_id is null
                    then 'no metadata.salesforce_account_id'
                    else 'metadata.salesforce_account_id ' || r.shown_id
                         || ', which names no Salesforce Account' end
            || ': set it to the customer''s Account id' as detail
    from billed b
    join ids i on i.source_id = b.billing_customer_id
    left join core.customers c on c.customer_id = i.customer_id
    left join links r on r.id = b.billing_customer_id
    left join mrr m on m.customer_id = i.customer_id
    """,
)
