-- grain: one row per succeeded Stripe charge that paid an invoice, made before the SLA
-- exception: no NetSuite payment (CustPymt, not voided) carries it (a quarantined one that
-- carries it is named instead)
-- discrepancy_at: the charge's creation (the payment date)
{%- set sla_days = recon_param('sla_days') %}
{%- set lead -%}
    'Stripe charge ' || p.payment_id || ' (' || {{ recon_money('p.currency', 'p.amount') }}
        || ', ' || {{ recon_strftime('p.created_at', '%Y-%m-%d') }} || ', paying invoice '
        || coalesce(p.invoice_id, '?') || ') has no NetSuite payment'
{%- endset %}
{%- set claim -%}
    ' after ' || cast({{ sla_days }} as integer) || ' days'
{%- endset %}
with as_of as (
    select as_of_at from {{ ref('int_as_of') }}
),

paying as (
    select distinct p.*
    from {{ ref('payments') }} as p
    inner join {{ ref('invoice_payments') }} as ip
      on ip.payment_id = p.payment_id and ip.status = 'paid'
    cross join as_of as a
    where p.status = 'succeeded'
      and p.created_at <= {{ recon_days_before('a.as_of_at', sla_days) }}
),

posted as (
    select distinct external_id from {{ ref('erp_transactions') }}
    where type = 'CustPymt' and not is_voided
)

select
    p.payment_id as record_id,
    p.customer_id,
    c.entity,
    p.currency,
    p.amount,
    s.external_id is null as is_exception,
    {{ recon_unless_quarantined(
        lead, claim, 'netsuite', ['transaction'], 'p.payment_id', by='linked_id',
        kinds=['CustPymt'],
    ) }} as detail,
    p.created_at as discrepancy_at
from paying as p
left join posted as s on s.external_id = p.payment_id
left join {{ ref('customers') }} as c on c.customer_id = p.customer_id
