{#-
    The warehouse type of a portable column type, as the raw sources declare them (written
    from connectors/schemas by connectors.schemas.derived): string, bigint, integer,
    boolean, double, date, timestamp_tz, json, numeric(p,s). One implementation per adapter;
    the default one goes through dbt's cross-database type macros.
-#}
{% macro revops_column_type(portable) %}
    {{ return(adapter.dispatch('revops_column_type', 'revops')(portable)) }}
{% endmacro %}

{% macro duckdb__revops_column_type(portable) %}
    {%- set types = {
        'string': 'varchar', 'bigint': 'bigint', 'integer': 'integer', 'boolean': 'boolean',
        'double': 'double', 'date': 'date', 'timestamp_tz': 'timestamp with time zone',
        'json': 'json',
    } -%}
    {{ return(_revops_portable(portable, types)) }}
{% endmacro %}

{% macro default__revops_column_type(portable) %}
    {%- set types = {
        'string': dbt.type_string(), 'bigint': dbt.type_bigint(), 'integer': dbt.type_int(),
        'boolean': dbt.type_boolean(), 'double': dbt.type_float(), 'date': 'date',
        'timestamp_tz': dbt.type_timestamp(), 'json': dbt.type_string(),
    } -%}
    {{ return(_revops_portable(portable, types)) }}
{% endmacro %}

{% macro _revops_portable(portable, types) %}
    {%- if portable in types -%}
        {{ return(types[portable]) }}
    {%- elif portable.startswith('numeric(') -%}
        {{ return('decimal' ~ portable[7:]) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "column type '" ~ portable ~ "' is not a portable type: declare it in "
            ~ "connectors/schemas/raw_tables.py (PORTABLE_TYPES) and dbt/macros/column_types.sql"
        ) }}
    {%- endif -%}
{% endmacro %}
