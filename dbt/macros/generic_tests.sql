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

{#-
    The months whose MRR cannot be valued in the reporting currency: one failing row per
    currency and month lacking a rate (from `column_name`, null in `model` = mrr_monthly),
    so a failure (or the rows `--store-failures` keeps) says which rate to load:
      currency, reporting_currency  the pair without a rate
      month                         the MRR month (first day)
      rate_date                     the date a rate is needed for (the month's last day, or
                                    the as-of date in the as-of month)
      first_rate_date               the currency's first rate into the reporting currency
                                    (null: it has none at all)
      customers, mrr                the customers affected and their MRR in `currency`
-#}
{% test mrr_fx_rate_available(model, column_name) %}
    with missing as (
        select customer_id, month, currency
        from {{ model }}
        where {{ column_name }} is null
    ),

    currency_months as (
        select * from {{ ref('int_mrr_customer_currency_months') }}
    ),

    fx_rates as (
        select * from {{ ref('int_fx_rates') }}
    ),

    first_rates as (
        select currency, min(valid_from) as first_rate_date
        from fx_rates
        group by currency
    ),

    lacking as (
        -- the currencies of each such customer-month without a rate (the customer's own
        -- currency if none is found, so an unexplained null still fails)
        select
            coalesce(cm.currency, m.currency) as currency,
            m.month,
            cm.fx_rate_date as rate_date,
            m.customer_id,
            cm.mrr
        from missing as m
        left join currency_months as cm
            on m.customer_id = cm.customer_id
            and m.month = cm.month
            and cm.fx_rate is null
    )

    select
        l.currency,
        '{{ var("reporting_currency") }}' as reporting_currency,
        l.month,
        max(l.rate_date) as rate_date,
        max(f.first_rate_date) as first_rate_date,
        count(distinct l.customer_id) as customers,
        sum(l.mrr) as mrr
    from lacking as l
    left join first_rates as f on l.currency = f.currency
    group by l.currency, l.month
{% endtest %}
