"""Running the catalogue against the warehouse and keeping the exception queue across runs.

The checks are dbt models (``dbt/models/reconciliation/``, see ``catalog.py``): views, whose
union ``recon_checks.check_populations`` holds every checked record of every check with its
amount at risk in the reporting currency. Reading it runs the checks inside DuckDB, against
the warehouse as it is now; the found exceptions are merged into ``recon.exceptions`` (one
row per ``(check_id, record_id)`` ever found, with a stable ``exception_id``), every
transition is appended to ``recon.exception_events``, and ``recon.check_runs`` gets one row
per run and check. The merge is one transaction: a run that fails changes nothing.

An exception's age is its discrepancy's: ``discrepancy_at`` is the instant of the source event
that started it (the check says which), else, when a check has none, the run that first saw
it (``first_seen_at``, ``first_seen_run_id``). A check may set a record's severity itself
(``check_populations.severity``, kept as ``severity_override``); else the rule of
:class:`Severity` decides.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import duckdb

from reconciliation.catalog import POPULATIONS_MODEL, Check, catalog

# The relations dbt builds (dbt_project.yml: the reconciliation folder in schema recon_checks).
CHECKS_SCHEMA = "recon_checks"
POPULATIONS = f"{CHECKS_SCHEMA}.{POPULATIONS_MODEL}"
# The as-of instant of the warehouse, derived once: dbt/models/intermediate/platform/int_as_of.
AS_OF = "intermediate.int_as_of"

DDL = (
    "CREATE SCHEMA IF NOT EXISTS recon",
    """CREATE TABLE IF NOT EXISTS recon.exceptions (
        exception_id VARCHAR, check_id VARCHAR, record_system VARCHAR, record_id VARCHAR,
        customer_id VARCHAR, entity VARCHAR, owner VARCHAR, severity VARCHAR,
        amount_at_risk_reporting DECIMAL(18,2), currency VARCHAR, amount_local DECIMAL(18,2),
        detail VARCHAR, status VARCHAR, first_seen_at TIMESTAMPTZ, last_seen_at TIMESTAMPTZ,
        resolved_at TIMESTAMPTZ, times_reopened INTEGER, last_run_id VARCHAR,
        discrepancy_at TIMESTAMPTZ, first_seen_run_id VARCHAR, severity_override VARCHAR)""",
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
# Columns added to a table after its first release, so a warehouse an older revops created
# gets them (empty) instead of failing: (table, column, type). Table DDL above lists them too.
ADDED_COLUMNS = (
    ("recon.exceptions", "discrepancy_at", "TIMESTAMPTZ"),
    ("recon.exceptions", "first_seen_run_id", "VARCHAR"),
    ("recon.exceptions", "severity_override", "VARCHAR"),
)
# The columns of recon.exceptions in their order (an older table has the added ones last too).
EXCEPTION_COLUMNS = (
    "exception_id",
    "check_id",
    "record_system",
    "record_id",
    "customer_id",
    "entity",
    "owner",
    "severity",
    "amount_at_risk_reporting",
    "currency",
    "amount_local",
    "detail",
    "status",
    "first_seen_at",
    "last_seen_at",
    "resolved_at",
    "times_reopened",
    "last_run_id",
    "discrepancy_at",
    "first_seen_run_id",
    "severity_override",
)


class ReconError(RuntimeError):
    """A check could not run (its query failed); nothing was written."""

    def __init__(self, check_id: str, message: str) -> None:
        self.check_id = check_id
        super().__init__(message)


@dataclass(frozen=True)
class Severity:
    """Severity rules: high at ``high_amount`` or when the discrepancy is older than
    ``high_age_days`` at the as-of instant, medium above ``medium_amount``, else low
    (reporting currency; configurable). A check's own severity for a record comes first."""

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


def latest_as_of(con: duckdb.DuckDBPyConnection) -> str:
    """The as-of instant of the data in the warehouse (the newest export loaded), as dbt
    derived it for the models and the checks (``intermediate.int_as_of``)."""
    try:
        rows = con.sql(f"SELECT as_of_at FROM {AS_OF}").fetchall()
    except duckdb.CatalogException as err:
        raise ReconError(
            "*", f"the warehouse has no {AS_OF}: run dbt build before the checks"
        ) from err
    value = rows[0][0] if rows else None
    if value is None:
        raise ReconError("*", "the warehouse holds no loaded source yet: run the load first")
    return _iso(value)


def _iso(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    return value.strftime("%Y-%m-%dT%H:%M:%S%z").replace("+0000", "Z")


def _collect(con: duckdb.DuckDBPyConnection, checks: tuple[Check, ...]) -> None:
    """Temp table ``_population``: every checked record of every check of ``checks``, read
    from their union, which runs them (the check models are views)."""
    ids = ", ".join(f"'{c.check_id}'" for c in checks)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _population AS "
            "SELECT check_id, owner, record_system, record_id, customer_id, entity, currency, "
            "amount, amount_at_risk_reporting, is_exception, detail, discrepancy_at, severity "
            f"FROM {POPULATIONS} WHERE check_id IN ({ids})"
        )
    except duckdb.Error as err:
        failing = _failing(con, checks)
        if not failing:
            raise ReconError(
                "*",
                f"the check populations ({POPULATIONS}) could not be read: {err}; run dbt build "
                "(it creates the check models); nothing was recorded for this run",
            ) from err
        first, error = failing[0]
        names = ", ".join(c for c, _ in failing)
        raise ReconError(
            first,
            f"check{'s' if len(failing) > 1 else ''} {names} failed to run: {error}; nothing "
            "was recorded for this run",
        ) from err


def _failing(
    con: duckdb.DuckDBPyConnection, checks: tuple[Check, ...]
) -> list[tuple[str, duckdb.Error]]:
    """The checks whose model cannot be read now, with the error of each."""
    failing = []
    for check in checks:
        try:
            con.execute(f"SELECT count(*) FROM {CHECKS_SCHEMA}.{check.check_id}").fetchall()
        except duckdb.Error as err:
            failing.append((check.check_id, err))
    return failing


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``recon`` tables, and add the columns a newer revops has to older ones
    (existing rows get NULL there; ``first_seen_run_id`` is filled from the history)."""
    for ddl in DDL:
        con.execute(ddl)
    missing = [
        (table, column, sql_type)
        for table, column, sql_type in ADDED_COLUMNS
        if not con.execute(
            "SELECT 1 FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name || '.' || table_name = ? AND column_name = ?",
            [table, column],
        ).fetchall()
    ]
    for table, column, sql_type in missing:
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {sql_type}")
    if ("recon.exceptions", "first_seen_run_id", "VARCHAR") in missing:
        con.execute(
            """UPDATE recon.exceptions e SET first_seen_run_id = o.run_id
            FROM (SELECT exception_id, arg_min(run_id, event_at) AS run_id
                  FROM recon.exception_events WHERE event = 'opened' GROUP BY exception_id) o
            WHERE o.exception_id = e.exception_id AND e.first_seen_run_id IS NULL"""
        )


def run_checks(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None = None,
    severity: Severity | None = None,
    checks: tuple[Check, ...] | None = None,
) -> list[CheckSummary]:
    """Run ``checks`` (default: the catalogue) and update the exception queue.

    The checks judge as of the warehouse's as-of instant (:func:`latest_as_of`), with the
    parameters and the reporting currency of the ``dbt build`` that created their models.
    """
    ensure_tables(con)
    severity = severity or Severity()
    as_of = latest_as_of(con)
    run_id = run_id or str(uuid.uuid4())
    checks = checks or catalog()
    _collect(con, checks)
    ts = f"TIMESTAMPTZ '{as_of}'"
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _found AS
        SELECT md5(p.check_id || ':' || p.record_id) AS exception_id, p.check_id,
               p.record_system, p.record_id, p.customer_id, p.entity, p.owner, p.currency,
               p.amount AS amount_local, p.amount_at_risk_reporting, p.detail,
               p.discrepancy_at, p.severity AS severity_override
        FROM _population p
        WHERE p.is_exception
        QUALIFY row_number() OVER (PARTITION BY p.check_id, p.record_id ORDER BY p.detail) = 1"""
    )
    ran = ", ".join(f"'{c.check_id}'" for c in checks)
    ran_owners = ", ".join(f"('{c.check_id}', '{c.owner}')" for c in checks)
    # The age is the discrepancy's (the queue's when a check gives no source event).
    sev = (
        "CASE WHEN severity_override IS NOT NULL THEN severity_override "
        f"WHEN coalesce(amount_at_risk_reporting, 0) >= {severity.high_amount} "
        f"OR {ts} - coalesce(discrepancy_at, first_seen_at) "
        f"> INTERVAL {severity.high_age_days} DAY THEN 'high' "
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
                detail = f.detail, last_run_id = '{run_id}',
                discrepancy_at = f.discrepancy_at, severity_override = f.severity_override
            FROM _found f WHERE f.exception_id = e.exception_id"""
        )
        con.execute(
            f"""INSERT INTO recon.exceptions ({", ".join(EXCEPTION_COLUMNS)})
            SELECT f.exception_id, f.check_id, f.record_system, f.record_id, f.customer_id,
                   f.entity, f.owner, NULL, f.amount_at_risk_reporting, f.currency,
                   f.amount_local, f.detail, 'open', {ts}, {ts}, NULL, 0, '{run_id}',
                   f.discrepancy_at, '{run_id}', f.severity_override
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
