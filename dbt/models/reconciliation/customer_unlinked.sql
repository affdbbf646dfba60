-- grain: one billed Stripe customer (one with a finalized invoice)
-- exception: its CRM link is missing or names no Salesforce Account (a quarantined Account
-- it names is said so)
-- discrepancy_at: its first finalized invoice's finalization (billed without a link since)
{%- set lead -%}
    'Stripe customer ' || b.billing_customer_id || ' (' || coalesce(c.name, '?') || ', '
        || b.n_invoices || ' finalized invoices) has '
        || case when r.shown_id is null
                then 'no metadata.salesforce_account_id'
                else 'metadata.salesforce_account_id ' || r.shown_id end
{%- endset %}
{%- set claim -%}
    case when r.shown_id is null then '' else ', which names no Salesforce Account' end
        || ': set it to the customer''s Account id'
{%- endset %}
with as_of as (
    select as_of_month from {{ ref('int_as_of') }}
),

billed as (
    select billing_customer_id, count(*) as n_invoices, min(finalized_at) as first_billed_at
    from {{ ref('invoices') }} where is_finalized group by all
),

ids as (
    select source_id, customer_id from {{ ref('customer_identities') }} where system = 'stripe'
),

links as (
    -- the id as written in Stripe, shown in the 15-character form the Salesforce UI shows
    -- (the same sentence whether it was pasted with its checksum suffix or not: staging
    -- gives a 15-character id its 18-character form, other values as written)
    select
        stripe_customer_id as id,
        salesforce_account_id,
        case when length(salesforce_account_id) = 18
             then left(salesforce_account_id, 15)
             else salesforce_account_id end as shown_id
    from {{ ref('stg_stripe__customers') }}
),

mrr as (
    select m.customer_id, m.mrr_reporting
    from {{ ref('mrr_monthly') }} as m
    inner join as_of as a on m.month = a.as_of_month
)

select
    b.billing_customer_id as record_id,
    i.customer_id,
    c.entity,
    '{{ var("reporting_currency") }}' as currency,
    coalesce(m.mrr_reporting, 0) * 12 as amount,
    c.crm_account_id is null as is_exception,
    {{ recon_unless_quarantined(
        lead, claim, 'salesforce', ['Account'], 'r.salesforce_account_id'
    ) }} as detail,
    b.first_billed_at as discrepancy_at
from billed as b
inner join ids as i on i.source_id = b.billing_customer_id
left join {{ ref('customers') }} as c on c.customer_id = i.customer_id
left join links as r on r.id = b.billing_customer_id
left join mrr as m on m.customer_id = i.customer_id
