{#-
    The 18-character form of a Salesforce id. People paste ids from the Salesforce UI or a
    report in their 15-character form (case-sensitive: 001A0000006Vm9r and 001A0000006VM9r
    are two records), while the API and every export give the 18-character form: the same 15
    characters plus a 3-character checksum of their case. For each 5-character chunk, bit i
    is set when character i is an upper-case letter A-Z, and the 5-bit number picks one of
    'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345'. So a 15-character id resolves to exactly one
    18-character id, and a mistyped one (a character's case flipped) to none that exists.

    Any other value (an 18-character id, null, a blank or a malformed id) passes through
    unchanged. Portable SQL: length/concat are dbt's cross-database macros; substring and
    ascii exist in every warehouse dbt supports (and ascii compares bytes, whatever the
    collation, where `between 'A' and 'Z'` would not on a case-insensitive one).
-#}
{% macro salesforce_id_18(column) -%}
    case
        when {{ dbt.length(column) }} = 15 then {{ dbt.concat([
            column,
            _salesforce_id_checksum_char(column, 0),
            _salesforce_id_checksum_char(column, 1),
            _salesforce_id_checksum_char(column, 2),
        ]) }}
        else {{ column }}
    end
{%- endmacro %}

{#- The checksum character of 5-character chunk `chunk` (0, 1, 2) of a 15-character id. -#}
{% macro _salesforce_id_checksum_char(column, chunk) -%}
    substring('ABCDEFGHIJKLMNOPQRSTUVWXYZ012345', 1
    {%- for i in range(5) %}
        + case when ascii(substring({{ column }}, {{ chunk * 5 + i + 1 }}, 1)) between 65 and 90
            then {{ 2 ** i }} else 0 end
    {%- endfor %}, 1)
{%- endmacro %}
