"""The exception queue as finance works it: the pipeline's exceptions with people's state.

The exceptions come from the serving snapshot (``recon.exceptions``); people's state from the
workflow store (only the exceptions someone acted on: a small table, copied into a temporary
table of the snapshot's connection so the filtering, sorting and ageing run in DuckDB).

A row's ``state`` is the pipeline's and people's together: ``resolved`` when the data resolved
it, else people's (``open`` when nobody acted or a snooze has ended, ``acknowledged``,
``snoozed``, ``accepted``). The working queue (the default) is ``open`` and ``acknowledged``.
Ages are counted to the as-of instant of the data: ``age_days`` from the source event that
started the discrepancy (``discrepancy_at``, e.g. the invoice's finalization), falling back
to the first run that saw it; ``days_in_queue`` from that first run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from reconciliation.catalog import OWNERS
from reconciliation.workflow.store import HumanState

STATES = ("open", "acknowledged", "snoozed", "accepted", "resolved")
STATE_GROUPS = {"active": ("open", "acknowledged"), "all": STATES}
SEVERITIES = ("high", "medium", "low")

# The columns of a queue row, in order (csv and json keep them all; the table shows a few).
COLUMNS = (
    "exception_id",
    "severity",
    "owner",
    "check_id",
    "record_system",
    "record_id",
    "customer_id",
    "entity",
    "amount_at_risk_reporting",
    "reporting_currency",
    "amount_local",
    "currency",
    "state",
    "assignee",
    "snoozed_until",
    "discrepancy_at",
    "age_days",
    "first_seen_at",
    "days_in_queue",
    "times_reopened",
    "detail",
)


class QueueError(ValueError):
    """A filter names an unknown owner, check, entity, state or severity."""


@dataclass(frozen=True)
class QueueFilter:
    """What to show. Values are matched case-insensitively; ``states`` may name groups
    (``active`` = open and acknowledged, ``all``)."""

    owner: str | None = None
    states: tuple[str, ...] = ("active",)
    check_id: str | None = None
    entity: str | None = None
    severity: str | None = None
    assignee: str | None = None
    exception_id: str | None = None


@dataclass(frozen=True)
class Queue:
    """The rows shown and the totals of everything that matched."""

    rows: list[dict[str, Any]]
    matched: int
    amount_at_risk: float
    reporting_currency: str
    as_of: Any


def _choice(kind: str, value: str | None, valid: Sequence[str]) -> str | None:
    """``value`` as spelled in ``valid`` (case-insensitive), or QueueError listing them."""
    if value is None:
        return None
    by_lower = {v.lower(): v for v in valid}
    found = by_lower.get(value.strip().lower())
    if found is None:
        raise QueueError(
            f"unknown {kind} {value!r}; valid {kind} values: {', '.join(valid) or '(none)'}"
        )
    return found


def _states(names: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        key = name.strip().lower()
        if key in STATE_GROUPS:
            out.extend(STATE_GROUPS[key])
        elif key in STATES:
            out.append(key)
        else:
            valid = ", ".join((*STATES, *STATE_GROUPS))
            raise QueueError(f"unknown state {name!r}; states: {valid}")
    return tuple(dict.fromkeys(out))


def _column_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'recon' AND table_name = 'exceptions'"
        ).fetchall()
    }


def _distinct(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [str(r[0]) for r in con.execute(sql).fetchall() if r[0] is not None]


def reporting_currency(con: duckdb.DuckDBPyConnection) -> str:
    """The reporting currency the snapshot's amounts at risk are in."""
    try:
        rows = con.execute("SELECT any_value(reporting_currency) FROM metrics.saas_metrics")
        value = rows.fetchall()[0][0]
    except duckdb.Error:
        value = None
    return str(value or "USD")


def _load_states(
    con: duckdb.DuckDBPyConnection, states: dict[str, HumanState], today: date
) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _human (exception_id VARCHAR, state VARCHAR, "
        "assignee VARCHAR, snoozed_until DATE)"
    )
    if states:
        con.executemany(
            "INSERT INTO _human VALUES (?, ?, ?, ?)",
            [
                [s.exception_id, s.effective(today), s.assignee, s.snoozed_until]
                for s in states.values()
            ],
        )


def exceptions(
    con: duckdb.DuckDBPyConnection,
    flt: QueueFilter,
    states: dict[str, HumanState],
    *,
    today: date,
    limit: int | None = None,
) -> Queue:
    """The queue: rows of :data:`COLUMNS`, the largest amount at risk first, at most
    ``limit`` of them, with the count and amount of every row that matched."""
    owner = _choice("owner", flt.owner, OWNERS)
    check = _choice(
        "check",
        flt.check_id,
        _distinct(con, "SELECT DISTINCT check_id FROM recon.check_runs ORDER BY 1"),
    )
    entity = _choice(
        "entity",
        flt.entity,
        _distinct(con, "SELECT DISTINCT entity FROM recon.exceptions ORDER BY 1"),
    )
    severity = _choice("severity", flt.severity, SEVERITIES)
    wanted = _states(flt.states)
    _load_states(con, states, today)
    have = _column_names(con)
    discrepancy = "e.discrepancy_at" if "discrepancy_at" in have else "CAST(NULL AS TIMESTAMPTZ)"
    where = [f"state IN ({', '.join('?' for _ in wanted)})"]
    params: list[Any] = list(wanted)
    for column, value in (
        ("owner", owner),
        ("check_id", check),
        ("entity", entity),
        ("severity", severity),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if flt.exception_id is not None:
        where.append("exception_id = ?")
        params.append(flt.exception_id)
    if flt.assignee is not None:
        where.append("lower(assignee) = lower(?)")
        params.append(flt.assignee.strip())
    currency = reporting_currency(con)
    query = f"""
        WITH as_of AS (SELECT max(as_of) AS t FROM recon.check_runs),
        q AS (
            SELECT e.exception_id, e.severity, e.owner, e.check_id, e.record_system,
                   e.record_id, e.customer_id, e.entity, e.amount_at_risk_reporting,
                   ? AS reporting_currency, e.amount_local, e.currency,
                   CASE WHEN e.status = 'resolved' THEN 'resolved'
                        ELSE coalesce(h.state, 'open') END AS state,
                   h.assignee,
                   CASE WHEN h.state = 'snoozed' THEN h.snoozed_until END AS snoozed_until,
                   {discrepancy} AS discrepancy_at,
                   date_diff('day', coalesce({discrepancy}, e.first_seen_at),
                             coalesce(e.resolved_at, (SELECT t FROM as_of))) AS age_days,
                   e.first_seen_at,
                   date_diff('day', e.first_seen_at,
                             coalesce(e.resolved_at, (SELECT t FROM as_of))) AS days_in_queue,
                   e.times_reopened, e.detail
            FROM recon.exceptions e LEFT JOIN _human h USING (exception_id)
        )
        SELECT *, count(*) OVER () AS _matched,
               sum(amount_at_risk_reporting) OVER () AS _at_risk
        FROM q WHERE {" AND ".join(where)}
        ORDER BY amount_at_risk_reporting DESC NULLS LAST, age_days DESC NULLS LAST,
                 check_id, record_id
        {"LIMIT ?" if limit else ""}
    """
    rel = con.execute(query, [currency, *params, *([limit] if limit else [])])
    names = [d[0] for d in rel.description]
    raw = [dict(zip(names, r, strict=True)) for r in rel.fetchall()]
    as_of = con.execute("SELECT max(as_of) FROM recon.check_runs").fetchall()[0][0]
    matched = int(raw[0]["_matched"]) if raw else 0
    at_risk = float(raw[0]["_at_risk"] or 0) if raw else 0.0
    rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in raw]
    return Queue(rows, matched, at_risk, currency, as_of)


def history(con: duckdb.DuckDBPyConnection, exception_id: str) -> list[dict[str, Any]]:
    """The pipeline's events of one exception (opened, resolved, reopened), oldest first."""
    rel = con.execute(
        "SELECT event, event_at, run_id, detail FROM recon.exception_events "
        "WHERE exception_id = ? ORDER BY event_at, event",
        [exception_id],
    )
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


def one(
    con: duckdb.DuckDBPyConnection,
    exception_id: str,
    states: dict[str, HumanState],
    *,
    today: date,
) -> dict[str, Any]:
    """Every column of one exception as the queue shows it."""
    found = exceptions(
        con, QueueFilter(states=("all",), exception_id=exception_id), states, today=today
    )
    if not found.rows:
        raise QueueError(f"no exception {exception_id} in the serving snapshot")
    return found.rows[0]
