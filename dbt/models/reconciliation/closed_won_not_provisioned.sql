-- grain: one row per won New Business or Expansion opportunity closed before the SLA
-- exception: no Stripe subscription carries it in metadata.salesforce_opportunity_id (a
-- quarantined subscription that carries it is named instead)
-- discrepancy_at: the close date
{%- set sla_days = recon_param('sla_days') %}
{%- set lead -%}
    'Salesforce opportunity ' || w.opportunity_id || ' (' || w.opportunity_type
        || ', closed ' || {{ recon_strftime('w.close_date', '%Y-%m-%d') }} || ', contracted ARR '
        || {{ recon_money('w.currency', 'w.contracted_arr') }} || ')'
{%- endset %}
{%- set claim -%}
    ' has no Stripe subscription carrying it in metadata.salesforce_opportunity_id '
        || 'after ' || cast({{ sla_days }} as integer) || ' days'
{%- endset %}
with as_of as (
    select as_of_at from {{ ref('int_as_of') }}
),

won as (
    select w.*
    from {{ ref('contracts') }} as w
    cross join as_of as a
    where w.is_won and w.opportunity_type in ('New Business', 'Expansion')
      and w.close_date <= {{ recon_date_days_before('a.as_of_at', sla_days) }}
),

provisioned as (
    select distinct crm_opportunity_id from {{ ref('subscriptions') }}
    where crm_opportunity_id is not null
)

select
    w.opportunity_id as record_id,
    w.customer_id,
    c.entity,
    w.currency,
    w.contracted_arr as amount,
    p.crm_opportunity_id is null as is_exception,
    {{ recon_unless_quarantined(
        lead, claim, 'stripe', ['subscriptions'], 'w.opportunity_id', by='linked_id'
    ) }} as detail,
    cast(w.close_date as {{ revops_column_type('timestamp_tz') }}) as discrepancy_at
from won as w
left join provisioned as p on p.crm_opportunity_id = w.opportunity_id
left join {{ ref('customers') }} as c on c.customer_id = w.customer_id
