{#-
    Exact integer arithmetic for the MRR rule. DuckDB divides DECIMALs into DOUBLEs, so
    fractions are carried as integers scaled by a power of ten and divided with `//`.
-#}
{% macro int_div(numerator, denominator) -%}
    {{ return(adapter.dispatch('int_div', 'revops')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__int_div(numerator, denominator) -%}
    cast(floor(({{ numerator }}) / ({{ denominator }})) as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro duckdb__int_div(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}

{#-
    `value / unit` rounded half away from zero, for an integer `value` and a positive
    integer `unit`: what DuckDB's round() does on a DECIMAL, in integers.
-#}
{% macro round_half_away_div(value, unit) -%}
    case
        when ({{ value }}) >= 0
            then {{ int_div('2 * (' ~ value ~ ') + (' ~ unit ~ ')', '2 * (' ~ unit ~ ')') }}
        else - {{ int_div('-2 * (' ~ value ~ ') + (' ~ unit ~ ')', '2 * (' ~ unit ~ ')') }}
    end
{%- endmacro %}

{#- An exact integer type wide enough for products of amounts (at least 38 digits). -#}
{% macro type_wide_integer() -%}
    {{ return(adapter.dispatch('type_wide_integer', 'revops')()) }}
{%- endmacro %}

{% macro default__type_wide_integer() -%}
    decimal(38, 0)
{%- endmacro %}

{% macro duckdb__type_wide_integer() -%}
    hugeint
{%- endmacro %}
