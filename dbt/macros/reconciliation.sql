{#-
    What the reconciliation checks (models/reconciliation/) share: their parameters, and the
    engine-specific SQL of their sentences and SLA cutoffs. Each engine-specific piece is
    dispatched (`adapter.dispatch(..., 'revops')`): `duckdb__` is the warehouse's; `default__`
    is portable SQL where there is some, else a compiler error naming the macro to add for a
    new adapter (a `detail` sentence must read the same on every engine, to the byte).
-#}

{#-
    A check's parameter, as a SQL number literal: `REVOPS_<CHECK_ID>_<PARAM>` from the
    environment (e.g. REVOPS_INVOICE_NOT_POSTED_SLA_DAYS=3), else its default in the model's
    `config.meta.params` (models/reconciliation/_reconciliation__models.yml). The check id is
    the model's name. Rendered like Python's float (`2.0`, `0.01`).
-#}
{% macro recon_param(name) -%}
    {%- set env_name = ('REVOPS_' ~ model.name ~ '_' ~ name) | upper -%}
    {%- if not execute -%}
        {#- parse time: the yml is not applied yet; reading the variable registers it, so a
            change of it re-parses the model -#}
        {{- return(env_var(env_name, '0') | float) -}}
    {%- endif -%}
    {%- set params = model.config.get('meta', {}).get('params') or {} -%}
    {%- if name not in params -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ': parameter ' ~ name ~ ' is not declared in config.meta.params of '
            ~ '_reconciliation__models.yml') }}
    {%- endif -%}
    {%- set value = env_var(env_name, params[name] | string) | trim -%}
    {%- if not modules.re.fullmatch('[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?', value) -%}
        {{ exceptions.raise_compiler_error(
            env_name ~ '=' ~ value ~ ' is not a number (parameter ' ~ name ~ ' of check '
            ~ model.name ~ ')') }}
    {%- endif -%}
    {{- return(value | float) -}}
{%- endmacro %}


{#-
    The check models (graph nodes of models/reconciliation/ whose config.meta declares a
    record_system), by name; at parse time none (the graph is not built yet). Each must be a
    declared dependency of the calling model (a `-- depends_on: {{ ref(...) }}` line): dbt
    only knows the dependencies it saw at parse time.
-#}
{% macro recon_check_models() -%}
    {%- if not execute -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set checks = [] -%}
    {%- for node in graph.nodes.values() | sort(attribute='name') -%}
        {%- if node.resource_type == 'model' and node.package_name == project_name
              and node.fqn[1] == 'reconciliation' and node.config.meta.get('record_system') -%}
            {%- if node.unique_id not in model.depends_on.nodes -%}
                {{ exceptions.raise_compiler_error(
                    'check model ' ~ node.name ~ ' is not a dependency of ' ~ model.name
                    ~ ': add the line `-- depends_on: {{ ref(\'' ~ node.name ~ '\') }}` to '
                    ~ model.original_file_path) }}
            {%- endif -%}
            {%- do checks.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(checks) -}}
{%- endmacro %}


{#- `currency amount` with a thousands separator and two decimals: `EUR 1,234.50`. -#}
{% macro recon_money(currency, amount) -%}
    {{ return(adapter.dispatch('recon_money', 'revops')(currency, amount)) }}
{%- endmacro %}

{% macro default__recon_money(currency, amount) -%}
    {{ exceptions.raise_compiler_error(
        'recon_money has no implementation for adapter ' ~ adapter.type()
        ~ ': add ' ~ adapter.type() ~ '__recon_money to macros/reconciliation.sql') }}
{%- endmacro %}

{% macro duckdb__recon_money(currency, amount) -%}
    format('{} {:,.2f}', {{ currency }}, {{ amount }})
{%- endmacro %}


{#- A date or timestamp as text, `format` in strftime's notation (`%Y-%m-%d %H:%M`). -#}
{% macro recon_strftime(value, format) -%}
    {{ return(adapter.dispatch('recon_strftime', 'revops')(value, format)) }}
{%- endmacro %}

{% macro default__recon_strftime(value, format) -%}
    {{ exceptions.raise_compiler_error(
        'recon_strftime has no implementation for adapter ' ~ adapter.type()
        ~ ': add ' ~ adapter.type() ~ '__recon_strftime to macros/reconciliation.sql') }}
{%- endmacro %}

{% macro duckdb__recon_strftime(value, format) -%}
    strftime({{ value }}, '{{ format }}')
{%- endmacro %}


{#- The instant `days` (a number, fractions of a day included) before `instant`. -#}
{% macro recon_days_before(instant, days) -%}
    {{ return(adapter.dispatch('recon_days_before', 'revops')(instant, days)) }}
{%- endmacro %}

{% macro default__recon_days_before(instant, days) -%}
    {{ dbt.dateadd('second', '-1 * cast(' ~ days ~ ' * 86400 as ' ~ dbt.type_bigint() ~ ')', instant) }}
{%- endmacro %}

{% macro duckdb__recon_days_before(instant, days) -%}
    {{ instant }} - to_seconds(cast({{ days }} * 86400 as bigint))
{%- endmacro %}


{#- The instant `days` (a number, fractions of a day included) after `instant`. -#}
{% macro recon_days_after(instant, days) -%}
    {{ return(adapter.dispatch('recon_days_after', 'revops')(instant, days)) }}
{%- endmacro %}

{% macro default__recon_days_after(instant, days) -%}
    {{ dbt.dateadd('second', 'cast(' ~ days ~ ' * 86400 as ' ~ dbt.type_bigint() ~ ')', instant) }}
{%- endmacro %}

{% macro duckdb__recon_days_after(instant, days) -%}
    {{ instant }} + to_seconds(cast({{ days }} * 86400 as bigint))
{%- endmacro %}


{#- The calendar date `days` (rounded to whole days) before `instant`'s (UTC session). -#}
{% macro recon_date_days_before(instant, days) -%}
    {{ return(adapter.dispatch('recon_date_days_before', 'revops')(instant, days)) }}
{%- endmacro %}

{% macro default__recon_date_days_before(instant, days) -%}
    cast({{ dbt.dateadd('day', '-1 * cast(' ~ days ~ ' as integer)', instant) }} as date)
{%- endmacro %}

{% macro duckdb__recon_date_days_before(instant, days) -%}
    cast({{ instant }} - to_days(cast({{ days }} as integer)) as date)
{%- endmacro %}


{#- Days (with fractions) from instant `start` to instant `end`. -#}
{% macro recon_days_between(start, end) -%}
    {{ return(adapter.dispatch('recon_days_between', 'revops')(start, end)) }}
{%- endmacro %}

{% macro default__recon_days_between(start, end) -%}
    {{ dbt.datediff(start, end, 'second') }} / 86400.0
{%- endmacro %}

{% macro duckdb__recon_days_between(start, end) -%}
    epoch({{ end }} - {{ start }}) / 86400.0
{%- endmacro %}


{#- Similarity of two strings in [0, 1], 1 when equal (Jaro-Winkler). -#}
{% macro recon_name_similarity(a, b) -%}
    {{ return(adapter.dispatch('recon_name_similarity', 'revops')(a, b)) }}
{%- endmacro %}

{% macro default__recon_name_similarity(a, b) -%}
    {{ exceptions.raise_compiler_error(
        'recon_name_similarity has no implementation for adapter ' ~ adapter.type()
        ~ ' (Jaro-Winkler similarity): add ' ~ adapter.type()
        ~ '__recon_name_similarity to macros/reconciliation.sql') }}
{%- endmacro %}

{% macro duckdb__recon_name_similarity(a, b) -%}
    jaro_winkler_similarity({{ a }}, {{ b }})
{%- endmacro %}


{#-
    Reading a quarantined record (`staging/meta/stg_meta__quarantined_records`, the quarantine
    tables of the three systems): its line as received need not be JSON, and its values need
    not have the types the declarations want (that is why it is there).
-#}

{#- `text` when it holds a JSON object, else null. -#}
{% macro recon_json_object(text) -%}
    {{ return(adapter.dispatch('recon_json_object', 'revops')(text)) }}
{%- endmacro %}

{% macro default__recon_json_object(text) -%}
    {{ exceptions.raise_compiler_error(
        'recon_json_object has no implementation for adapter ' ~ adapter.type()
        ~ ': add ' ~ adapter.type() ~ '__recon_json_object to macros/reconciliation.sql') }}
{%- endmacro %}

{% macro duckdb__recon_json_object(text) -%}
    case when json_valid({{ text }}) then
        case when json_type({{ text }}) = 'OBJECT' then {{ text }} end
    end
{%- endmacro %}


{#- The value at `path` (`$.a.b`, a JSONPath) of `json` (a JSON object as text) as text; null
    when absent or null. -#}
{% macro recon_json_text(json, path) -%}
    {{ return(adapter.dispatch('recon_json_text', 'revops')(json, path)) }}
{%- endmacro %}

{% macro default__recon_json_text(json, path) -%}
    {{ exceptions.raise_compiler_error(
        'recon_json_text has no implementation for adapter ' ~ adapter.type()
        ~ ': add ' ~ adapter.type() ~ '__recon_json_text to macros/reconciliation.sql') }}
{%- endmacro %}

{% macro duckdb__recon_json_text(json, path) -%}
    json_extract_string({{ json }}, '{{ path }}')
{%- endmacro %}


{#- `value` as `type`, null where it does not convert (a string where a number belongs). -#}
{% macro recon_try_cast(value, type) -%}
    {{ return(adapter.dispatch('recon_try_cast', 'revops')(value, type)) }}
{%- endmacro %}

{% macro default__recon_try_cast(value, type) -%}
    {{ dbt.safe_cast(value, type) }}
{%- endmacro %}

{% macro duckdb__recon_try_cast(value, type) -%}
    try_cast({{ value }} as {{ type }})
{%- endmacro %}


{#- The drop file a quarantine's `file` names, as `<system>/<file>` (`file:/home/x/drop/stripe/
    invoices.jsonl` -> `stripe/invoices.jsonl`); a record of another source (`api:<request>`)
    as written. -#}
{% macro recon_source_file_name(file) -%}
    {{ return(adapter.dispatch('recon_source_file_name', 'revops')(file)) }}
{%- endmacro %}

{% macro default__recon_source_file_name(file) -%}
    {{ exceptions.raise_compiler_error(
        'recon_source_file_name has no implementation for adapter ' ~ adapter.type()
        ~ ': add ' ~ adapter.type() ~ '__recon_source_file_name to macros/reconciliation.sql') }}
{%- endmacro %}

{% macro duckdb__recon_source_file_name(file) -%}
    case when starts_with({{ file }}, 'file:')
         then regexp_extract({{ file }}, '[^/]+/[^/]+$')
         else {{ file }} end
{%- endmacro %}


{#-
    Whether the loader still holds back quarantined record `q` (a row of
    stg_meta__quarantined_records): a record with a key while no version of it is loaded
    (the loader's own test for holding its dependants: a corrected record that loads resolves
    it); a line whose key could not be read while it is in the latest batch of its object
    that quarantined anything.
-#}
{% macro recon_quarantine_held(q) -%}
    case when {{ q }}.has_record_id
         then not exists (
             select 1 from {{ ref('stg_meta__loaded_quarantined_records') }} as loaded
             where loaded.system = {{ q }}.system and loaded.object = {{ q }}.object
               and loaded.record_id = {{ q }}.record_id
         )
         else {{ q }}.is_in_latest_batch
    end
{%- endmacro %}


{#-
    A check's sentence about a missing counterpart, unless that counterpart is a record the
    loader quarantined (and still holds back): then the sentence says so, naming the rule,
    the file and the line, instead of claiming the record does not exist.

        lead || claim                                         (nothing quarantined)
        lead || ': ' || <subject> || ' was quarantined: ' || rule || ' (' || file || ' line '
             || line || ')'                                   (a held quarantined record)

    `system`, `objects`: where the counterpart would come from (drop file stems: 'invoices',
    'transaction'…); `match`: the SQL value it is looked up by, compared with the quarantined
    record's `by`: its own id (`record_id`) or the id of the other system's record it carries
    (`linked_id`: a NetSuite transaction's Stripe id, a Stripe subscription's opportunity);
    `kinds`: only records of these kinds (a NetSuite transaction's type). The subject is the
    record's id (a Stripe id says its kind), `NetSuite <type> <id>`, `Salesforce <object>
    <id>`. When several held records match, the least of their sentences.
-#}
{% macro recon_unless_quarantined(
    lead, claim, system, objects, match, by='record_id', kinds=none
) -%}
    {{ lead }} || coalesce((
        select min(': ' || {{ dbt.concat([
                "case q.system when 'netsuite' then 'NetSuite ' || q.record_kind || ' ' "
                ~ "when 'salesforce' then 'Salesforce ' || q.object || ' ' else '' end",
                'q.record_id',
                "' was quarantined: '",
                'q.rule',
                "' ('",
                'q.file_name',
                "' line '",
                'cast(q.line as ' ~ dbt.type_string() ~ ')',
                "')'",
            ]) }})
        from {{ ref('stg_meta__quarantined_records') }} as q
        where {{ recon_quarantine_held('q') }}
          and q.system = '{{ system }}'
          and q.object in ('{{ objects | join("', '") }}')
          {%- if kinds %}
          and q.record_kind in ('{{ kinds | join("', '") }}')
          {%- endif %}
          and q.{{ by }} = {{ match }}
    ), {{ claim }})
{%- endmacro %}
