-- grain: one row per finalized, non-zero Stripe invoice past the SLA at the as-of instant
-- exception: no NetSuite invoice (CustInvc, not voided) carries it (a quarantined one that
-- carries it is named instead)
-- discrepancy_at: finalized_at
{%- set sla_days = recon_param('sla_days') %}
{%- set lead -%}
    'Stripe invoice ' || i.invoice_id || ' ('
        || {{ recon_money('i.currency', 'i.total') }} || ', finalized '
        || {{ recon_strftime('i.finalized_at', '%Y-%m-%d') }} || ') has no NetSuite invoice'
{%- endset %}
{%- set claim -%}
    ' after ' || cast({{ sla_days }} as integer) || ' days'
{%- endset %}
with as_of as (
    select as_of_at from {{ ref('int_as_of') }}
),

due as (
    select i.*
    from {{ ref('invoices') }} as i
    cross join as_of as a
    where i.is_finalized and i.total <> 0
      and i.finalized_at <= {{ recon_days_before('a.as_of_at', sla_days) }}
),

posted as (
    select distinct external_id from {{ ref('erp_transactions') }}
    where type = 'CustInvc' and not is_voided
)

select
    i.invoice_id as record_id,
    i.customer_id,
    i.entity,
    i.currency,
    i.total as amount,
    p.external_id is null as is_exception,
    {{ recon_unless_quarantined(
        lead, claim, 'netsuite', ['transaction'], 'i.invoice_id', by='linked_id',
        kinds=['CustInvc'],
    ) }} as detail,
    i.finalized_at as discrepancy_at
from due as i
left join posted as p on p.external_id = i.invoice_id
