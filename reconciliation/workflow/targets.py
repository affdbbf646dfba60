"""Exceptions as the pipeline published them (``recon.exceptions``), found by id or prefix."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

import duckdb

from reconciliation.workflow.actions import ActionError, Target

_COLUMNS = "exception_id, check_id, record_id, status, amount_local, currency, detail"
MIN_PREFIX = 6


def _target(row: tuple[object, ...]) -> Target:
    exception_id, check_id, record_id, status, amount, currency, detail = row
    return Target(
        exception_id=str(exception_id),
        check_id=str(check_id),
        record_id=str(record_id),
        status=str(status),
        amount_local=None if amount is None else Decimal(str(amount)),
        currency=None if currency is None else str(currency),
        detail=str(detail or ""),
    )


def load_targets(con: duckdb.DuckDBPyConnection, ids: Collection[str]) -> dict[str, Target]:
    """The published exceptions among ``ids``."""
    if not ids:
        return {}
    con.execute("CREATE OR REPLACE TEMP TABLE _wanted (exception_id VARCHAR)")
    con.executemany("INSERT INTO _wanted VALUES (?)", [[i] for i in ids])
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM recon.exceptions WHERE exception_id IN "
        "(SELECT exception_id FROM _wanted)"
    ).fetchall()
    return {str(r[0]): _target(r) for r in rows}


def find_target(con: duckdb.DuckDBPyConnection, ref: str) -> Target:
    """The exception ``ref`` names: its id or a unique prefix of at least six characters
    (as the queue prints it), or ``check_id:record_id``."""
    ref = ref.strip()
    if ":" in ref:
        check_id, record_id = ref.split(":", 1)
        rows = con.execute(
            f"SELECT {_COLUMNS} FROM recon.exceptions WHERE check_id = ? AND record_id = ?",
            [check_id, record_id],
        ).fetchall()
    elif len(ref) < MIN_PREFIX:
        raise ActionError(
            f"exception id {ref!r} is too short: give at least {MIN_PREFIX} characters of the "
            "id the queue prints"
        )
    else:
        rows = con.execute(
            f"SELECT {_COLUMNS} FROM recon.exceptions WHERE starts_with(exception_id, ?) "
            "ORDER BY exception_id LIMIT 3",
            [ref.lower()],
        ).fetchall()
    if not rows:
        raise ActionError(
            f"no exception {ref!r} in the serving snapshot; list them with `revops exceptions "
            "--status all`"
        )
    if len(rows) > 1:
        ids = ", ".join(str(r[0])[:12] for r in rows)
        raise ActionError(f"exception id {ref!r} is ambiguous ({ids}, …): give more characters")
    return _target(rows[0])
