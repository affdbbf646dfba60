-- Generated from connectors/schemas by `python -m connectors.schemas.derived`
-- (make dbt-prepare): edit the declarations, not this file.
-- grain: one row per record of a raw object table whose key its system's quarantine
-- also has (a version of it that was quarantined): its system, object (drop file
-- stem) and key as the quarantine writes record_id (the key columns as text, a
-- composite key's parts joined by |). A table: the checks read it many times.
{{ config(materialized='table') }}
{%- set string = dbt.type_string() %}
{%- set objects = [
    ('salesforce', 'Account', 'account', ['Id']),
    ('salesforce', 'Opportunity', 'opportunity', ['Id']),
    ('salesforce', 'OpportunityLineItem', 'opportunity_line_item', ['Id']),
    ('salesforce', 'Product2', 'product2', ['Id']),
    ('salesforce', 'Contract', 'contract', ['Id']),
    ('stripe', 'customers', 'customers', ['id']),
    ('stripe', 'products', 'products', ['id']),
    ('stripe', 'prices', 'prices', ['id']),
    ('stripe', 'subscriptions', 'subscriptions', ['id']),
    ('stripe', 'invoices', 'invoices', ['id']),
    ('stripe', 'invoice_payments', 'invoice_payments', ['id']),
    ('stripe', 'credit_notes', 'credit_notes', ['id']),
    ('stripe', 'charges', 'charges', ['id']),
    ('stripe', 'refunds', 'refunds', ['id']),
    ('stripe', 'billing_meters', 'billing_meters', ['id']),
    ('stripe', 'meter_events', 'meter_events', ['identifier']),
    ('netsuite', 'subsidiary', 'subsidiary', ['id']),
    ('netsuite', 'currency', 'currency', ['id']),
    ('netsuite', 'currencyrate', 'currencyrate', ['basecurrency', 'transactioncurrency', 'effectivedate']),
    ('netsuite', 'accountingperiod', 'accountingperiod', ['id']),
    ('netsuite', 'account', 'account', ['id']),
    ('netsuite', 'customer', 'customer', ['id']),
    ('netsuite', 'transaction', 'transaction', ['id']),
    ('netsuite', 'transactionline', 'transactionline', ['transaction', 'id']),
    ('netsuite', 'transactionaccountingline', 'transactionaccountingline', ['transaction', 'transactionline', 'account']),
    ('netsuite', 'previoustransactionlinelink', 'previoustransactionlinelink', ['previousdoc', 'previousline', 'nextdoc', 'nextline']),
] %}
{%- for system, object, table, key in objects %}
{%- set record_id -%}
    nullif(
        {%- for column in key %}
        coalesce(cast({{ adapter.quote(column) }} as {{ string }}), '')
        {%- if not loop.last %} || '|' ||{% endif %}
        {%- endfor %}, ''
    )
{%- endset %}
select
    '{{ system }}' as system,
    '{{ object }}' as object,
    {{ record_id }} as record_id
from {{ source('raw_' ~ system, table) }}
where {{ record_id }} in (
    select q.record_id from {{ source('raw_' ~ system, 'quarantine') }} as q
    where q.object = '{{ object }}'
)
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
