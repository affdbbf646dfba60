"""The queue for people and for other programs: a table fitted to the terminal, CSV, JSON,
and one exception in full (``revops exceptions show``)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from reconciliation.queue import COLUMNS, Queue
from reconciliation.workflow.store import ActionRow

SHORT_ID = 8


def money(amount: Any, currency: str | None) -> str:
    """``1,234.50 USD``; empty when there is no amount."""
    if amount is None:
        return ""
    return f"{float(amount):,.2f} {currency or ''}".rstrip()


def _plain(value: Any) -> Any:
    """A JSON-ready value: decimals as numbers, instants in ISO-8601 (UTC ``Z``)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_json(queue: Queue) -> str:
    """Every column of every row shown, with the totals of everything that matched."""
    return json.dumps(
        {
            "as_of": _plain(queue.as_of),
            "matched": queue.matched,
            "shown": len(queue.rows),
            "amount_at_risk": round(queue.amount_at_risk, 2),
            "reporting_currency": queue.reporting_currency,
            "exceptions": [{k: _plain(v) for k, v in r.items()} for r in queue.rows],
        },
        indent=2,
    )


def to_csv(queue: Queue) -> str:
    """One header line of :data:`COLUMNS`, then one line per row shown."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in queue.rows:
        writer.writerow(["" if r[c] is None else _plain(r[c]) for c in COLUMNS])
    return out.getvalue()


def _state(row: dict[str, Any]) -> str:
    state = str(row["state"])
    if state == "snoozed" and row["snoozed_until"] is not None:
        return f"snoozed to {row['snoozed_until']:%m-%d}"
    return state


WIDE = 150  # below this many columns, each row's detail goes on its own lines


def _cells(r: dict[str, Any]) -> list[str]:
    state = _state(r)
    if r["assignee"]:
        state += f" @{r['assignee']}"
    return [
        str(r["exception_id"])[:SHORT_ID],
        str(r["severity"] or ""),
        str(r["owner"]),
        str(r["check_id"]),
        str(r["record_id"]),
        str(r["entity"] or ""),
        money(r["amount_at_risk_reporting"], r["reporting_currency"]),
        "" if r["age_days"] is None else f"{r['age_days']}d",
        state,
    ]


HEADERS = ("id", "sev", "owner", "check", "record", "ent", "at risk", "age", "state")
RIGHT = {"at risk", "age"}


DROPPABLE = ("owner", "ent", "sev", "age")  # left out, in this order, when a line is too long


def _narrow(queue: Queue, width: int) -> list[str]:
    """Each row on one line of aligned fields, its detail wrapped on the lines below; fields
    of :data:`DROPPABLE` are left out until the line fits ``width``, then the record id is
    cut."""
    import textwrap

    rows = [_cells(r) for r in queue.rows]
    keep = list(range(len(HEADERS)))

    def widths() -> dict[int, int]:
        return {i: max(len(HEADERS[i]), *(len(c[i]) for c in rows)) for i in keep}

    def length() -> int:
        return sum(widths().values()) + 2 * (len(keep) - 1)

    for name in DROPPABLE:
        if length() <= width:
            break
        keep.remove(HEADERS.index(name))
    sizes = widths()
    record = HEADERS.index("record")
    excess = length() - width
    if excess > 0:
        sizes[record] = max(sizes[record] - excess, 8)

    def line(cells: Sequence[str]) -> str:
        out = []
        for i in keep:
            cell = cells[i]
            if len(cell) > sizes[i]:
                cell = cell[: sizes[i] - 1] + "…"
            out.append(cell.rjust(sizes[i]) if HEADERS[i] in RIGHT else cell.ljust(sizes[i]))
        return "  ".join(out).rstrip()

    out = [line(HEADERS)]
    for r, cells in zip(queue.rows, rows, strict=True):
        out.append(line(cells))
        out += textwrap.wrap(
            str(r["detail"]),
            width=max(width - 4, 40),
            initial_indent="    ",
            subsequent_indent="    ",
        )
    return out


def table(queue: Queue, width: int) -> str:
    """The rows as a table fitted to ``width`` characters, then the totals. Wide terminals
    get one row per exception with the detail wrapping in its column; narrower ones the
    fields on one line and the detail below."""
    from rich.console import Console
    from rich.table import Table

    if queue.rows and width < WIDE:
        return "\n".join([*_narrow(queue, width), _totals(queue, width)])

    if not queue.rows:
        return _totals(queue, width)
    grid = Table(box=None, pad_edge=False, header_style="bold", expand=False)
    for header in HEADERS:
        grid.add_column(header, no_wrap=True, justify="right" if header in RIGHT else "left")
    grid.add_column("detail", overflow="fold", ratio=1, min_width=30)
    for r in queue.rows:
        grid.add_row(*_cells(r), str(r["detail"]))
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False)
    console.print(grid)
    return buffer.getvalue().rstrip("\n") + "\n" + _totals(queue, width)


def _totals(queue: Queue, width: int) -> str:
    as_of = queue.as_of.strftime("%Y-%m-%d") if queue.as_of is not None else "?"
    shown = (
        f"{len(queue.rows):,} of {queue.matched:,} exceptions shown"
        if len(queue.rows) < queue.matched
        else f"{queue.matched:,} exceptions"
    )
    import textwrap

    return "\n".join(
        textwrap.wrap(
            f"{shown}, {money(queue.amount_at_risk, queue.reporting_currency)} at risk "
            f"(data as of {as_of}; age: days since the discrepancy began)",
            width=max(width, 40),
        )
    )


def show(
    row: dict[str, Any],
    pipeline: list[dict[str, Any]],
    actions: list[ActionRow],
    fmt: str = "table",
) -> str:
    """One exception: every field, then its history (the pipeline's events and people's
    actions, merged in time order)."""
    events = [
        {
            "at": e["event_at"],
            "by": "pipeline",
            "what": e["event"],
            "note": f"run {e['run_id']}",
        }
        for e in pipeline
    ] + [{"at": a.acted_at, "by": a.actor, "what": a.action, "note": a.note or ""} for a in actions]
    events.sort(key=lambda e: e["at"])
    if fmt == "json":
        return json.dumps(
            {
                "exception": {k: _plain(v) for k, v in row.items()},
                "history": [{k: _plain(v) for k, v in e.items()} for e in events],
            },
            indent=2,
        )
    fields = [
        ("exception", row["exception_id"]),
        ("check", f"{row['check_id']} (owner {row['owner']}, severity {row['severity']})"),
        ("record", f"{row['record_system']} {row['record_id']}"),
        ("customer", row["customer_id"] or ""),
        ("entity", row["entity"] or ""),
        (
            "at risk",
            money(row["amount_at_risk_reporting"], row["reporting_currency"])
            + (
                f" ({money(row['amount_local'], row['currency'])})"
                if row["currency"] and row["currency"] != row["reporting_currency"]
                else ""
            ),
        ),
        ("state", _state(row) + (f", assigned to {row['assignee']}" if row["assignee"] else "")),
        (
            "age",
            ""
            if row["age_days"] is None
            else f"{row['age_days']} days since the discrepancy began"
            + (f" ({row['discrepancy_at']:%Y-%m-%d})" if row["discrepancy_at"] else ""),
        ),
        (
            "in queue",
            f"{row['days_in_queue']} days (first seen {row['first_seen_at']:%Y-%m-%d}), "
            f"reopened {row['times_reopened']} times",
        ),
        ("detail", row["detail"]),
    ]
    lines = [f"{name:<10} {value}" for name, value in fields]
    lines.append("history:")
    for e in events:
        lines.append(f"  {e['at']:%Y-%m-%d %H:%M}  {e['by']:<12} {e['what']:<18} {e['note']}")
    return "\n".join(lines)
