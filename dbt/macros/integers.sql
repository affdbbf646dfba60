{#-
    A relation of the integers 0 .. 10^digits - 1 (column `n`), from cross-joined digits:
    plain SQL, no recursion and no engine-specific series function.
-#}
{% macro integers(digits) -%}
    {%- for i in range(digits) %}
    {%- if loop.first %}
    select {% for j in range(digits) %}d{{ j }}.n * {{ 10 ** j }}{% if not loop.last %} + {% endif %}{% endfor %} as n
    from {% else %}
    cross join {% endif -%}
    (
        select 0 as n union all select 1 union all select 2 union all select 3 union all select 4
        union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
    ) as d{{ i }}
    {%- endfor %}
{%- endmacro %}
