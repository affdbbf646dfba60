-- grain: one row per quarantined record (system, object, record key): its latest quarantine.
-- A line whose key could not be read is keyed by its file and line. Whether the loader still
-- holds a record back is the macro recon_quarantine_held (it reads the object tables, through
-- stg_meta__loaded_quarantined_records): a record with a key while no version of it is
-- loaded, a line without one while it is in the latest batch of its object that quarantined
-- anything (is_in_latest_batch).
-- first_exported_at: the exported_at of the load that first quarantined it (the next
-- raw_meta.source_state row a system load wrote), the instant of the data it came with.
-- What the payload allows is read from it: the kind of record, the other system's record
-- it carries, the customer it names, its amount and currency (major units).
-- A table: the checks read it many times (a view costs its planning each time).
{{ config(materialized='table') }}
{%- set link_names = {} %}
{%- for variable, default in [
    ('REVOPS_STRIPE_OPPORTUNITY_LINK_KEY', 'salesforce_opportunity_id'),
    ('REVOPS_NETSUITE_TRANSACTION_LINK_FIELD', 'externalid'),
] %}
    {%- set name = (env_var(variable, '') | trim) or default %}
    {%- if not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*', name) %}
        {{ exceptions.raise_compiler_error(
            variable ~ '=' ~ name ~ ' is not a field name (letters, digits and _ only)') }}
    {%- endif %}
    {%- do link_names.update({variable: name}) %}
{%- endfor %}
{%- set payload = 'payload_json' %}
with quarantine as (
    {%- for system in ['salesforce', 'stripe', 'netsuite'] %}
    select
        '{{ system }}' as system,
        batch_id,
        file,
        line,
        object,
        record_id,
        rule,
        payload,
        quarantined_at
    from {{ source('raw_' ~ system, 'quarantine') }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

keyed as (
    select
        *,
        {{ recon_source_file_name('file') }} as file_name,
        record_id is not null as has_record_id
    from quarantine
),

ranked as (
    select
        *,
        coalesce(record_id, file_name || ':' || cast(line as {{ dbt.type_string() }}))
            as record_key,
        first_value(batch_id) over (
            partition by system, object order by quarantined_at desc, batch_id desc
        ) as latest_batch_id
    from keyed
),

latest as (
    select
        *,
        min(quarantined_at) over (partition by system, object, record_key)
            as first_quarantined_at,
        row_number() over (
            partition by system, object, record_key order by quarantined_at desc, line desc
        ) as recency
    from ranked
),

loads as (
    select exported_at, loaded_at from {{ source('raw_meta', 'source_state') }}
),

parsed as (
    select
        l.*,
        {{ recon_json_object('l.payload') }} as payload_json,
        (
            select min(s.exported_at) from loads as s
            where s.loaded_at = (
                select min(f.loaded_at) from loads as f
                where f.loaded_at >= l.first_quarantined_at
            )
        ) as first_exported_at
    from latest as l
    where l.recency = 1
),

final as (
    select
        system,
        object,
        record_key as record_id,
        has_record_id,
        -- a NetSuite transaction's type (CustInvc, CustPymt…), else the object
        coalesce(
            case when system = 'netsuite' and object = 'transaction'
                 then {{ recon_json_text(payload, '$.type') }} end,
            object
        ) as record_kind,
        batch_id,
        file,
        file_name,
        line,
        rule,
        payload,
        payload_json,
        first_quarantined_at,
        first_exported_at,
        quarantined_at,
        batch_id = latest_batch_id as is_in_latest_batch,
        -- the id of the other system's record it carries (where the loader reads it from)
        nullif(trim(case
            when system = 'netsuite' and object = 'transaction'
                then {{ recon_json_text(payload, '$.' ~ link_names['REVOPS_NETSUITE_TRANSACTION_LINK_FIELD']) }}
            when system = 'stripe' and object = 'subscriptions'
                then {{ salesforce_id_18(recon_json_text(
                    payload, '$.metadata.' ~ link_names['REVOPS_STRIPE_OPPORTUNITY_LINK_KEY'])) }}
            when system = 'netsuite' and object = 'previoustransactionlinelink'
                then {{ recon_json_text(payload, '$.previousdoc') }} || '>'
                    || {{ recon_json_text(payload, '$.nextdoc') }}
        end), '') as linked_id,
        -- the id, in its own system, of the customer it belongs to
        case
            when system = 'stripe' and object = 'customers'
                then {{ recon_json_text(payload, '$.id') }}
            when system = 'stripe' then {{ recon_json_text(payload, '$.customer') }}
            when system = 'netsuite' and object = 'customer'
                then {{ recon_json_text(payload, '$.id') }}
            when system = 'netsuite' and object = 'transaction'
                then {{ recon_json_text(payload, '$.entity') }}
            when system = 'salesforce' and object = 'Account'
                then {{ recon_json_text(payload, '$.Id') }}
            when system = 'salesforce' then {{ recon_json_text(payload, '$.AccountId') }}
        end as customer_source_id,
        -- what it is worth where the payload says: a Stripe amount in minor units of its
        -- currency, a NetSuite transaction's foreign total (in the currency its id names),
        -- a Salesforce opportunity's amount
        case
            when system = 'stripe' and object in ('invoices', 'credit_notes')
                then coalesce({{ recon_try_cast(recon_json_text(payload, '$.total'), dbt.type_bigint()) }},
                              {{ recon_try_cast(recon_json_text(payload, '$.amount_due'), dbt.type_bigint()) }})
            when system = 'stripe' and object = 'charges'
                then {{ recon_try_cast(recon_json_text(payload, '$.amount'), dbt.type_bigint()) }}
            when system = 'stripe' and object = 'invoice_payments'
                then coalesce({{ recon_try_cast(recon_json_text(payload, '$.amount_paid'), dbt.type_bigint()) }},
                              {{ recon_try_cast(recon_json_text(payload, '$.amount_requested'), dbt.type_bigint()) }})
        end as amount_minor,
        case
            when system = 'netsuite' and object = 'transaction'
                then {{ recon_try_cast(recon_json_text(payload, '$.foreigntotal'), 'decimal(18, 2)') }}
            when system = 'salesforce' and object = 'Opportunity'
                then {{ recon_try_cast(recon_json_text(payload, '$.Amount'), 'decimal(18, 2)') }}
        end as amount_major,
        case
            when system = 'stripe' then upper({{ recon_json_text(payload, '$.currency') }})
            when system = 'salesforce' and object = 'Opportunity'
                then upper(coalesce({{ recon_json_text(payload, '$.CurrencyIsoCode') }},
                                    '{{ var("salesforce_org_currency") }}'))
        end as payload_currency,
        case when system = 'netsuite' and object = 'transaction'
             then {{ recon_json_text(payload, '$.currency') }} end as netsuite_currency_id
    from parsed as p
)

select
    system,
    object,
    record_id,
    has_record_id,
    record_kind,
    batch_id,
    file,
    file_name,
    line,
    rule,
    payload,
    first_quarantined_at,
    first_exported_at,
    quarantined_at,
    is_in_latest_batch,
    linked_id,
    customer_source_id,
    abs(coalesce(
        case when amount_minor is not null and payload_currency is not null
             then {{ minor_to_major('amount_minor', 'payload_currency') }} end,
        amount_major
    )) as amount,
    payload_currency,
    netsuite_currency_id
from final
