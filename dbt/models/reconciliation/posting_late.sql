-- grain: one row per finalized Stripe invoice posted to NetSuite (its first live posting)
-- exception: posted more than the SLA after Stripe finalized it
-- discrepancy_at: finalized_at
{%- set sla_days = recon_param('sla_days') %}
with first_posting as (
    select external_id, min(created_at) as posted_at, min(transaction_id) as transaction_id
    from {{ ref('erp_transactions') }}
    where type = 'CustInvc' and not is_voided
    group by all
)

select
    i.invoice_id as record_id,
    i.customer_id,
    i.entity,
    i.currency,
    i.total as amount,
    f.posted_at > {{ recon_days_after('i.finalized_at', sla_days) }} as is_exception,
    'Stripe invoice ' || i.invoice_id || ' (finalized '
        || {{ recon_strftime('i.finalized_at', '%Y-%m-%d %H:%M') }}
        || ' UTC) was posted to NetSuite as '
        || f.transaction_id || ' on ' || {{ recon_strftime('f.posted_at', '%Y-%m-%d %H:%M') }}
        || ' UTC, ' || round({{ recon_days_between('i.finalized_at', 'f.posted_at') }}, 1)
        || ' days later (SLA ' || cast({{ sla_days }} as integer) || ' days)' as detail,
    i.finalized_at as discrepancy_at
from {{ ref('invoices') }} as i
inner join first_posting as f on f.external_id = i.invoice_id
where i.is_finalized
