{#-
    on-run-start: create every declared raw table that does not exist yet, empty, with the
    columns and types its sources yml declares (portable types, see column_types.sql; the
    yml is written from the loader's declarations by connectors.schemas.derived: see
    tests/test_dbt_project.py, which compares them). The loader creates all raw tables of a
    system on its first load, so this only matters for a system that was never loaded; an
    absent optional file is already an empty table.
-#}
{% macro create_missing_raw_tables() %}
    {% if execute %}
        {% set statements = [] %}
        {% for source in graph.sources.values() %}
            {% set meta = source.get('meta') or source.get('config', {}).get('meta') or {} %}
            {% if meta.get('create_if_missing') %}
                {% set relation = adapter.get_relation(
                    database=source.database, schema=source.schema, identifier=source.identifier
                ) %}
                {% if relation is none %}
                    {% set columns = [] %}
                    {% for column in source.columns.values() %}
                        {% do columns.append(adapter.quote(column.name) ~ ' ' ~ revops_column_type(column.data_type)) %}
                    {% endfor %}
                    {% do log('raw table ' ~ source.schema ~ '.' ~ source.identifier
                        ~ ' does not exist (its system was never loaded): creating it empty', info=true) %}
                    {% do statements.append('create schema if not exists ' ~ source.schema) %}
                    {% do statements.append('create table if not exists ' ~ source.schema ~ '.'
                        ~ source.identifier ~ ' (' ~ columns | join(', ') ~ ')') %}
                {% endif %}
            {% endif %}
        {% endfor %}
        {% if statements %}
            {% do run_query(statements | join(';\n')) %}
            {% do adapter.commit() %}
        {% endif %}
    {% endif %}
{% endmacro %}
