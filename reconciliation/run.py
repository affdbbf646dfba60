"""Running the catalogue against the warehouse and keeping the exception queue across runs.

Every check's population query runs inside DuckDB; the found exceptions are merged into
``recon.exceptions`` (one row per ``(check_id, record_id)`` ever found, with a stable
``exception_id``), every transition is appended to ``recon.exception_events``, and
``recon.check_runs`` gets one row per run and check. The merge is one transaction: a run
that fails changes nothing.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime

import duckdb

from reconciliation.catalog import Check, catalog

DDL = (
    "CREATE SCHEMA IF NOT EXISTS recon",
    """CREATE TABLE IF NOT EXISTS recon.exceptions (
        exception_id VARCHAR, check_id VARCHAR, record_system VARCHAR, record_id VARCHAR,
        customer_id VARCHAR, entity VARCHAR, owner VARCHAR, severity VARCHAR,
        amount_at_risk_reporting DECIMAL(18,2), currency VARCHAR, amount_local DECIMAL(18,2),
        detail VARCHAR, status VARCHAR, first_seen_at TIMESTAMPTZ, last_seen_at TIMESTAMPTZ,
        resolved_at TIMESTAMPTZ, times_reopened INTEGER, last_run_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS recon.exception_events (
        exception_id VARCHAR, check_id VARCHAR, record_id VARCHAR, event VARCHAR,
        event_at TIMESTAMPTZ, run_id VARCHAR, detail VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS recon.check_runs (
        run_id VARCHAR, as_of TIMESTAMPTZ, check_id VARCHAR, owner VARCHAR,
        records_checked BIGINT, exceptions_open BIGINT, exceptions_new BIGINT,
        exceptions_resolved BIGINT, amount_at_risk_reporting DECIMAL(18,2), match_rate DOUBLE,
        ran_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS recon.check_entity_runs (
        run_id VARCHAR, check_id VARCHAR, entity VARCHAR, records_checked BIGINT,
        exceptions BIGINT)""",
)


class ReconError(RuntimeError):
    """A check could not run (its query failed); nothing was written."""

    def __init__(self, check_id: str, message: str) -> None:
        self.check_id = check_id
        super().__init__(message)


@dataclass(frozen=True)
class Severity:
    """Severity rules: high at ``high_amount`` or older than ``high_age_days``, medium above
    ``medium_amount``, else low (reporting currency; configurable)."""

    high_amount: float = 10_000
    medium_amount: float = 1_000
    high_age_days: int = 30


@dataclass(frozen=True)
class CheckSummary:
    check_id: str
    owner: str
    records_checked: int
    exceptions_open: int
    exceptions_new: int
    exceptions_resolved: int
    amount_at_risk_reporting: float


def overrides_from_env(check: Check) -> dict[str, float]:
    """``REVOPS_<CHECK_ID>_<PARAM>`` (e.g. ``REVOPS_INVOICE_NOT_POSTED_SLA_DAYS=3``)."""
    out = {}
    for name in check.params:
        value = os.environ.get(f"REVOPS_{check.check_id}_{name}".upper())
        if value is not None:
            out[name] = float(value)
    return out


def latest_as_of(con: duckdb.DuckDBPyConnection) -> str:
    """The as-of instant of the data in the warehouse (the newest export loaded)."""
    value = con.sql("SELECT max(exported_at) FROM raw_meta.source_state").fetchall()[0][0]
    if value is None:
        raise ReconError("*", "the warehouse holds no loaded source yet: run the load first")
    return _iso(value)


def _iso(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    return value.strftime("%Y-%m-%dT%H:%M:%S%z").replace("+0000", "Z")


def _collect(
    con: duckdb.DuckDBPyConnection, checks: tuple[Check, ...], as_of: str, reporting_currency: str
) -> None:
    """Temp table ``_population``: every checked record of every check."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _population (check_id VARCHAR, record_id VARCHAR, "
        "customer_id VARCHAR, entity VARCHAR, currency VARCHAR, amount DECIMAL(18,2), "
        "is_exception BOOLEAN, detail VARCHAR)"
    )
    for check in checks:
        sql = check.render(as_of, reporting_currency, overrides_from_env(check))
        try:
            con.execute(
                f"INSERT INTO _population SELECT '{check.check_id}', CAST(record_id AS VARCHAR), "
                f"CAST(customer_id AS VARCHAR), entity, currency, amount, is_exception, detail "
                f"FROM ({sql})"
            )
        except duckdb.Error as err:
            raise ReconError(
                check.check_id,
                f"check {check.check_id} failed to run: {err}; nothing was recorded for this run",
            ) from err


def run_checks(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: str | None = None,
    run_id: str | None = None,
    reporting_currency: str = "USD",
    severity: Severity | None = None,
    checks: tuple[Check, ...] | None = None,
) -> list[CheckSummary]:
    """Run ``checks`` (default: the catalogue) and update the exception queue."""
    for ddl in DDL:
        con.execute(ddl)
    severity = severity or Severity()
    as_of = as_of or latest_as_of(con)
    run_id = run_id or str(uuid.uuid4())
    checks = checks or catalog()
    _collect(con, checks, as_of, reporting_currency)
    owners = ", ".join(f"('{c.check_id}', '{c.owner}', '{c.record_system}')" for c in checks)
    ts = f"TIMESTAMPTZ '{as_of}'"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _found AS
        WITH fx AS (
            SELECT currency, rate FROM core.fx_rates
            WHERE base_currency = '{reporting_currency}' AND rate_date <= CAST({ts} AS DATE)
            QUALIFY row_number() OVER (PARTITION BY currency ORDER BY rate_date DESC) = 1
        ),
        meta(check_id, owner, record_system) AS (VALUES {owners})
        SELECT md5(p.check_id || ':' || p.record_id) AS exception_id, p.check_id,
               m.record_system, p.record_id, p.customer_id, p.entity, m.owner, p.currency,
               p.amount AS amount_local,
               round(p.amount * CASE WHEN p.currency = '{reporting_currency}' THEN 1
                                     ELSE fx.rate END, 2) AS amount_at_risk_reporting,
               p.detail
        FROM _population p JOIN meta m USING (check_id)
        LEFT JOIN fx ON fx.currency = p.currency
        WHERE p.is_exception
        QUALIFY row_number() OVER (PARTITION BY p.check_id, p.record_id ORDER BY p.detail) = 1"""
    )
    ran = ", ".join(f"'{c.check_id}'" for c in checks)
    ran_owners = ", ".join(f"('{c.check_id}', '{c.owner}')" for c in checks)
    sev = (
        f"CASE WHEN coalesce(amount_at_risk_reporting, 0) >= {severity.high_amount} "
        f"OR {ts} - first_seen_at > INTERVAL {severity.high_age_days} DAY THEN 'high' "
        f"WHEN coalesce(amount_at_risk_reporting, 0) >= {severity.medium_amount} THEN 'medium' "
        "ELSE 'low' END"
    )
    con.execute("BEGIN TRANSACTION")
    try:
        # Transitions first (they read the state before this run), then the state itself.
        con.execute(
            f"""INSERT INTO recon.exception_events
            SELECT f.exception_id, f.check_id, f.record_id,
                   CASE WHEN e.exception_id IS NULL THEN 'opened' ELSE 'reopened' END,
                   {ts}, '{run_id}', f.detail
            FROM _found f LEFT JOIN recon.exceptions e USING (exception_id)
            WHERE e.exception_id IS NULL OR e.status = 'resolved'"""
        )
        con.execute(
            f"""INSERT INTO recon.exception_events
            SELECT e.exception_id, e.check_id, e.record_id, 'resolved', {ts}, '{run_id}', e.detail
            FROM recon.exceptions e
            WHERE e.status = 'open' AND e.check_id IN ({ran})
              AND e.exception_id NOT IN (SELECT exception_id FROM _found)"""
        )
        con.execute(
            f"""UPDATE recon.exceptions SET status = 'resolved', resolved_at = {ts},
                last_run_id = '{run_id}'
            WHERE status = 'open' AND check_id IN ({ran})
              AND exception_id NOT IN (SELECT exception_id FROM _found)"""
        )
        con.execute(
            f"""UPDATE recon.exceptions e SET
                status = 'open', resolved_at = NULL, last_seen_at = {ts},
                times_reopened = e.times_reopened
                    + CASE WHEN e.status = 'resolved' THEN 1 ELSE 0 END,
                customer_id = f.customer_id, entity = f.entity, currency = f.currency,
                amount_local = f.amount_local,
                amount_at_risk_reporting = f.amount_at_risk_reporting,
                detail = f.detail, last_run_id = '{run_id}'
            FROM _found f WHERE f.exception_id = e.exception_id"""
        )
        con.execute(
            f"""INSERT INTO recon.exceptions
            SELECT f.exception_id, f.check_id, f.record_system, f.record_id, f.customer_id,
                   f.entity, f.owner, NULL, f.amount_at_risk_reporting, f.currency,
                   f.amount_local, f.detail, 'open', {ts}, {ts}, NULL, 0, '{run_id}'
            FROM _found f WHERE f.exception_id NOT IN (SELECT exception_id FROM recon.exceptions)"""
        )
        con.execute(f"UPDATE recon.exceptions SET severity = {sev} WHERE status = 'open'")
        con.execute(
            f"""INSERT INTO recon.check_runs
            WITH pop AS (
                SELECT check_id, count(*) AS checked, count(*) FILTER (is_exception) AS failing
                FROM _population GROUP BY check_id
            ),
            ev AS (
                SELECT check_id,
                       count(*) FILTER (event IN ('opened', 'reopened')) AS new,
                       count(*) FILTER (event = 'resolved') AS resolved
                FROM recon.exception_events WHERE run_id = '{run_id}' GROUP BY check_id
            ),
            open_now AS (
                SELECT check_id, count(*) AS n, sum(amount_at_risk_reporting) AS amount
                FROM recon.exceptions WHERE status = 'open' GROUP BY check_id
            ),
            ran(check_id, owner) AS (VALUES {ran_owners})
            SELECT '{run_id}', {ts}, r.check_id, r.owner, coalesce(p.checked, 0),
                   coalesce(o.n, 0), coalesce(ev.new, 0), coalesce(ev.resolved, 0),
                   coalesce(o.amount, 0),
                   CASE WHEN coalesce(p.checked, 0) = 0 THEN NULL
                        ELSE 1 - p.failing / p.checked END,
                   now()
            FROM ran r LEFT JOIN pop p USING (check_id) LEFT JOIN ev USING (check_id)
            LEFT JOIN open_now o USING (check_id)"""
        )
        con.execute(
            f"""INSERT INTO recon.check_entity_runs
            SELECT '{run_id}', check_id, coalesce(entity, '?'), count(*),
                   count(*) FILTER (is_exception)
            FROM _population GROUP BY ALL"""
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    rows = con.execute(
        "SELECT check_id, owner, records_checked, exceptions_open, exceptions_new, "
        "exceptions_resolved, amount_at_risk_reporting FROM recon.check_runs WHERE run_id = ? "
        "ORDER BY check_id",
        [run_id],
    ).fetchall()
    return [CheckSummary(r[0], r[1], r[2], r[3], r[4], r[5], float(r[6])) for r in rows]
