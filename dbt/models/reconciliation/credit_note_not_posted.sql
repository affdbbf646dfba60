-- grain: one row per issued Stripe credit note effective before the SLA
-- exception: no NetSuite credit memo (CustCred, not voided) carries it (a quarantined one that
-- carries it is named instead)
-- discrepancy_at: the credit note's effective_at
{%- set sla_days = recon_param('sla_days') %}
{%- set lead -%}
    'Stripe credit note ' || n.credit_note_id || ' ('
        || {{ recon_money('n.currency', 'n.total') }} || ' on invoice '
        || n.invoice_id || ', effective ' || {{ recon_strftime('n.effective_at', '%Y-%m-%d') }}
        || ') has no NetSuite credit memo'
{%- endset %}
{%- set claim -%}
    ' after ' || cast({{ sla_days }} as integer) || ' days'
{%- endset %}
with as_of as (
    select as_of_at from {{ ref('int_as_of') }}
),

due as (
    select n.*
    from {{ ref('credit_notes') }} as n
    cross join as_of as a
    where n.status = 'issued'
      and n.effective_at <= {{ recon_days_before('a.as_of_at', sla_days) }}
),

posted as (
    select distinct external_id from {{ ref('erp_transactions') }}
    where type = 'CustCred' and not is_voided
)

select
    n.credit_note_id as record_id,
    n.customer_id,
    c.entity,
    n.currency,
    n.total as amount,
    p.external_id is null as is_exception,
    {{ recon_unless_quarantined(
        lead, claim, 'netsuite', ['transaction'], 'n.credit_note_id', by='linked_id',
        kinds=['CustCred'],
    ) }} as detail,
    n.effective_at as discrepancy_at
from due as n
left join posted as p on p.external_id = n.credit_note_id
left join {{ ref('customers') }} as c on c.customer_id = n.customer_id
