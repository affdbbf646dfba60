"""Source data a dbt test found missing, said as a sentence about the source.

A dbt test that fails because the export lacks something (no exchange rate for a currency
on the dates an amount needs one) names a model and a column. The person who has to act
needs the file, the currency and the dates instead: this module reads the warehouse after
the failed build and says that.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

RATES_FILE = "netsuite/currencyrate.jsonl"

# Every amount converted into the reporting currency, with the date its rate is taken at.
_NEEDED = """
    select upper(currency) as currency, cast(created_at as date) as needed_on
    from core.invoices where currency is not null
    union all
    select upper(currency), month from metrics.mrr_monthly
    where currency is not null and upper(currency) <> 'MULTI'
"""


def missing_fx_rates(
    con: duckdb.DuckDBPyConnection, reporting_currency: str
) -> list[tuple[str, str, str, int, str | None]]:
    """(currency, first date, last date, amounts, first rate date or None) for every currency
    with amounts dated before its first rate into ``reporting_currency``."""
    reporting = reporting_currency.upper()
    return [
        (cur, str(first), str(last), n, None if rate is None else str(rate))
        for cur, first, last, n, rate in con.execute(
            f"""
            with needed as ({_NEEDED}),
            rates as (
                select upper(currency) as currency, min(rate_date) as first_rate
                from core.fx_rates where upper(base_currency) = ? group by all
            )
            select n.currency, min(n.needed_on), max(n.needed_on), count(*), r.first_rate
            from needed n left join rates r using (currency)
            where n.currency <> ? and (r.first_rate is null or n.needed_on < r.first_rate)
            group by n.currency, r.first_rate
            order by n.currency
            """,
            [reporting, reporting],
        ).fetchall()
    ]


def fx_gap_sentences(con: duckdb.DuckDBPyConnection, reporting_currency: str) -> list[str]:
    """One sentence per currency lacking rates: the file, the currency, the dates, what to do."""
    reporting = reporting_currency.upper()
    out = []
    for cur, first, last, n, first_rate in missing_fx_rates(con, reporting):
        since = "at all" if first_rate is None else f"before {first_rate}"
        out.append(
            f"{RATES_FILE} has no {cur}->{reporting} exchange rate {since}, but {n:,} amounts "
            f"in {cur} dated {first} to {last} need one: add {cur} rates into {reporting} from "
            f"{first} to the export (or set REVOPS_REPORTING_CURRENCY), then run again"
        )
    return out


def explain_failed_tests(
    warehouse: str, failed_tests: Sequence[str], reporting_currency: str
) -> list[str]:
    """Sentences about the source for the failed dbt tests this module understands.

    Args:
        warehouse: Path of the DuckDB warehouse (opened read-only; dbt has exited).
        failed_tests: Names of the failed dbt tests (``fx_rate_available_for_mrr`` …).
        reporting_currency: The run's reporting currency.

    Returns:
        The sentences, empty when no failed test is about missing source data or the
        warehouse cannot tell (a table the diagnosis reads was not built).
    """
    if not any(name.startswith("fx_rate_available") for name in failed_tests):
        return []
    try:
        con = duckdb.connect(warehouse, read_only=True)
    except duckdb.Error:
        return []
    try:
        return fx_gap_sentences(con, reporting_currency)
    except duckdb.Error:
        return []
    finally:
        con.close()
