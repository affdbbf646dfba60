{#- Rows where `expression` does not hold (true when it holds for every row). -#}
{% test expression_is_true(model, expression, where_clause=none) %}
    select *
    from {{ model }}
    where not ({{ expression }})
    {% if where_clause %}and ({{ where_clause }}){% endif %}
{% endtest %}

{#- Combinations of `columns` that occur more than once. -#}
{% test unique_combination_of_columns(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
