"""Operational metrics of reconciliation, computed in the warehouse.

What they are: docs/reconciliation-checks.md, section "Operational metrics".

Each function runs one query and returns plain rows (lists of dicts), for the finance report,
Dagster metadata and the CLI.
"""

from __future__ import annotations

from typing import Any

import duckdb

AGE_BUCKETS = ("0-2 days", "3-7 days", "8-30 days", "> 30 days")


def _bucket(days: str) -> str:
    """SQL: the age bucket of a number of days."""
    return (
        f"CASE WHEN {days} <= 2 THEN '0-2 days' WHEN {days} <= 7 THEN '3-7 days' "
        f"WHEN {days} <= 30 THEN '8-30 days' ELSE '> 30 days' END"
    )


def _discrepancy_start(con: duckdb.DuckDBPyConnection) -> str:
    """SQL: when an exception's discrepancy started: its ``discrepancy_at``, else (a check
    with no source event, or a snapshot published before the column existed) when the queue
    first saw it."""
    has = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'recon' AND table_name = 'exceptions' "
        "AND column_name = 'discrepancy_at'"
    ).fetchall()[0][0]
    return "coalesce(discrepancy_at, first_seen_at)" if has else "first_seen_at"


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict]:
    rel = con.execute(sql, params or [])
    names = [d[0] for d in rel.description]
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def as_of(con: duckdb.DuckDBPyConnection) -> Any:
    """The as-of instant of the latest reconciliation run."""
    return con.sql("SELECT max(as_of) FROM recon.check_runs").fetchall()[0][0]


def posting_latency(con: duckdb.DuckDBPyConnection, sla_days: float = 2) -> list[dict]:
    """Invoice posting latency (finalized -> CustInvc created) p50/p95/max hours by entity."""
    return _rows(
        con,
        """
        WITH first_posting AS (
            SELECT external_id, min(created_at) AS posted_at FROM core.erp_transactions
            WHERE type = 'CustInvc' AND NOT is_voided GROUP BY ALL
        ),
        lat AS (
            SELECT i.entity, epoch(f.posted_at - i.finalized_at) / 3600.0 AS hours
            FROM core.invoices i JOIN first_posting f ON f.external_id = i.invoice_id
            WHERE i.is_finalized
        )
        SELECT coalesce(entity, '?') AS entity, count(*) AS invoices,
               round(quantile_cont(hours, 0.5), 1) AS p50_hours,
               round(quantile_cont(hours, 0.95), 1) AS p95_hours,
               round(max(hours), 1) AS max_hours,
               count(*) FILTER (hours > ? * 24) AS over_sla
        FROM lat GROUP BY ALL ORDER BY entity
        """,
        [sla_days],
    )


def _open_aged(con: duckdb.DuckDBPyConnection) -> str:
    """SQL: the open exceptions with ``age_days`` (since the discrepancy started) and
    ``queue_days`` (since the queue first saw it), at the latest run's as-of instant."""
    return f"""
        SELECT e.*,
               date_diff('day', {_discrepancy_start(con)}, a.as_of) AS age_days,
               date_diff('day', e.first_seen_at, a.as_of) AS queue_days
        FROM recon.exceptions e
        CROSS JOIN (SELECT max(as_of) AS as_of FROM recon.check_runs) a
        WHERE e.status = 'open'
    """


def open_by_owner_and_age(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Open exceptions and amount at risk by owner, check, entity and age bucket.

    The age is the discrepancy's (since the source event that started it, ``discrepancy_at``;
    since the queue first saw it when a check has none); ``oldest_days`` is the largest, and
    ``max_days_in_queue`` the longest any of them has been in the queue.
    """
    return _rows(
        con,
        f"""
        WITH open_ex AS ({_open_aged(con)})
        SELECT owner, check_id, coalesce(entity, '?') AS entity,
               {_bucket("age_days")} AS age_bucket,
               count(*) AS exceptions, sum(amount_at_risk_reporting) AS amount_at_risk,
               max(age_days) AS oldest_days, max(queue_days) AS max_days_in_queue
        FROM open_ex GROUP BY ALL ORDER BY owner, check_id, entity, age_bucket
        """,
    )


def open_by_owner_and_queue_age(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Open exceptions and amount at risk by owner and time in the queue (since the run that
    first saw them), in the age buckets."""
    return _rows(
        con,
        f"""
        WITH open_ex AS ({_open_aged(con)})
        SELECT owner, {_bucket("queue_days")} AS age_bucket,
               count(*) AS exceptions, sum(amount_at_risk_reporting) AS amount_at_risk
        FROM open_ex GROUP BY ALL ORDER BY owner, age_bucket
        """,
    )


def activation_lag(con: duckdb.DuckDBPyConnection) -> dict:
    """Days from a deal's close date to its subscription's start, p50 and p95."""
    rows = _rows(
        con,
        """
        WITH lag AS (
            SELECT date_diff('day', c.close_date, cast(s.started_at AS DATE)) AS days
            FROM core.contracts c
            JOIN core.subscriptions s ON s.crm_opportunity_id = c.opportunity_id
            WHERE c.is_won
        )
        SELECT count(*) AS deals, quantile_cont(days, 0.5) AS p50_days,
               quantile_cont(days, 0.95) AS p95_days
        FROM lag
        """,
    )
    return rows[0]


def summary_by_owner(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Open exceptions and amount at risk per owner (the routing view)."""
    return _rows(
        con,
        """
        SELECT owner, count(*) AS open_exceptions,
               coalesce(sum(amount_at_risk_reporting), 0) AS amount_at_risk,
               count(*) FILTER (severity = 'high') AS high
        FROM recon.exceptions WHERE status = 'open' GROUP BY owner ORDER BY amount_at_risk DESC
        """,
    )


def latest_check_runs(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return _rows(
        con,
        """
        SELECT * FROM recon.check_runs
        WHERE run_id = (SELECT run_id FROM recon.check_runs ORDER BY ran_at DESC LIMIT 1)
        ORDER BY check_id
        """,
    )


def top_exceptions(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict]:
    """The largest open exceptions, with the age of their discrepancy and time in queue."""
    return _rows(
        con,
        f"""
        WITH open_ex AS ({_open_aged(con)})
        SELECT check_id, owner, severity, record_id, entity, amount_at_risk_reporting,
               first_seen_at, {_discrepancy_start(con)} AS discrepancy_at, age_days,
               queue_days, detail
        FROM open_ex
        ORDER BY amount_at_risk_reporting DESC NULLS LAST, first_seen_at, check_id, record_id
        LIMIT ?
        """,
        [limit],
    )
