-- grain: one row per check and record it checked (every check model of this folder: a model
-- whose config.meta declares a record_system), with the check's meta and the amount at risk
-- in the reporting currency at the currency's rate of the as-of date. A check's own severity
-- (an override of reconciliation.run's rule) and record_system (when its meta record_system
-- is `per_record`) are read from it when its yml entry documents the column; else null and
-- the meta's.
--
-- dbt learns a model's dependencies when it parses it, before the yml and the graph exist,
-- so each check is named once more here; the body is generated from the graph, and a check
-- model missing below stops the build with a sentence saying so.
-- depends_on: {{ ref('closed_won_not_provisioned') }}
-- depends_on: {{ ref('contract_billing_mismatch') }}
-- depends_on: {{ ref('credit_note_not_posted') }}
-- depends_on: {{ ref('customer_unlinked') }}
-- depends_on: {{ ref('duplicate_customer') }}
-- depends_on: {{ ref('erp_orphan_posting') }}
-- depends_on: {{ ref('invoice_amount_mismatch') }}
-- depends_on: {{ ref('invoice_not_posted') }}
-- depends_on: {{ ref('payment_not_posted') }}
-- depends_on: {{ ref('payment_unapplied') }}
-- depends_on: {{ ref('posting_late') }}
-- depends_on: {{ ref('posting_period_mismatch') }}
-- depends_on: {{ ref('record_quarantined') }}
-- depends_on: {{ ref('usage_not_billed') }}
{%- set checks = recon_check_models() %}
with as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates') }}
),

populations as (
{%- for check in checks %}
    select
        '{{ check.name }}' as check_id,
        '{{ check.config.meta.owner }}' as owner,
        {%- if 'record_system' in check.columns %}
        cast(record_system as {{ dbt.type_string() }}) as record_system,
        {%- else %}
        '{{ check.config.meta.record_system }}' as record_system,
        {%- endif %}
        cast(record_id as {{ dbt.type_string() }}) as record_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(entity as {{ dbt.type_string() }}) as entity,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(amount as decimal(18, 2)) as amount,
        cast(is_exception as boolean) as is_exception,
        cast(detail as {{ dbt.type_string() }}) as detail,
        cast(discrepancy_at as {{ revops_column_type('timestamp_tz') }}) as discrepancy_at,
        {%- if 'severity' in check.columns %}
        cast(severity as {{ dbt.type_string() }}) as severity
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as severity
        {%- endif %}
    from {{ ref(check.name) }}
    {%- if not loop.last %}

    union all
{%- endif %}
{%- endfor %}
    {%- if not checks %}
    select
        cast(null as {{ dbt.type_string() }}) as check_id,
        cast(null as {{ dbt.type_string() }}) as owner,
        cast(null as {{ dbt.type_string() }}) as record_system,
        cast(null as {{ dbt.type_string() }}) as record_id,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_string() }}) as entity,
        cast(null as {{ dbt.type_string() }}) as currency,
        cast(null as decimal(18, 2)) as amount,
        cast(null as boolean) as is_exception,
        cast(null as {{ dbt.type_string() }}) as detail,
        cast(null as {{ revops_column_type('timestamp_tz') }}) as discrepancy_at,
        cast(null as {{ dbt.type_string() }}) as severity
    where false
    {%- endif %}
),

final as (
    select
        p.check_id,
        p.owner,
        p.record_system,
        p.record_id,
        p.customer_id,
        p.entity,
        p.currency,
        p.amount,
        -- the latest rate on or before the as-of date (the reporting currency's own is 1)
        cast(round(p.amount * x.rate, 2) as decimal(18, 2)) as amount_at_risk_reporting,
        p.is_exception,
        p.detail,
        p.discrepancy_at,
        p.severity
    from populations as p
    cross join as_of as a
    left join fx_rates as x
        on x.currency = p.currency
        and x.valid_from <= a.as_of_date
        and a.as_of_date < x.valid_to
)

select * from final
