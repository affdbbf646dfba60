{#-
    Stripe amounts are integers in the currency's minor unit. Zero-decimal currencies have
    no minor unit (1 JPY is `100` nowhere: it is `1`); three-decimal currencies count
    thousandths and Stripe keeps their amounts multiples of 10, so two decimals hold them.
-#}
{% macro zero_decimal_currencies() -%}
    ('BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF')
{%- endmacro %}

{% macro three_decimal_currencies() -%}
    ('BHD', 'JOD', 'KWD', 'OMR', 'TND')
{%- endmacro %}

{#- Digits of the minor unit: 0, 2 or 3. -#}
{% macro minor_unit_exponent(currency) -%}
    case
        when upper({{ currency }}) in {{ zero_decimal_currencies() }} then 0
        when upper({{ currency }}) in {{ three_decimal_currencies() }} then 3
        else 2
    end
{%- endmacro %}

{#- Major units per minor unit, exact (a DECIMAL, never a float). -#}
{% macro major_per_minor(currency) -%}
    case
        when upper({{ currency }}) in {{ zero_decimal_currencies() }} then 1.000
        when upper({{ currency }}) in {{ three_decimal_currencies() }} then 0.001
        else 0.010
    end
{%- endmacro %}

{#-
    Minor units of rounding "to the cent": 10 for three-decimal currencies (0.01 major),
    1 otherwise (a zero-decimal currency rounds to its unit).
-#}
{% macro minor_units_per_cent(currency) -%}
    case when upper({{ currency }}) in {{ three_decimal_currencies() }} then 10 else 1 end
{%- endmacro %}

{#- An integer amount in minor units as DECIMAL(18, 2) major units (exact). -#}
{% macro minor_to_major(amount, currency, type='decimal(18, 2)') -%}
    cast(cast({{ amount }} as decimal(38, 0)) * {{ major_per_minor(currency) }} as {{ type }})
{%- endmacro %}
