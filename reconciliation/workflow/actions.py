"""What people do with an exception: acknowledge, assign, comment, snooze, accept, reopen.

Each action is one transaction in the workflow store: the exception's state row changes and
one audit row is appended. An action that makes no sense (acknowledging an exception the data
already resolved, a snooze into the past, an acceptance without a reason) is refused with one
sentence and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from reconciliation.workflow.store import HumanState, WorkflowStore


class ActionError(ValueError):
    """The action was refused; nothing was written."""


@dataclass(frozen=True)
class Target:
    """An exception as the pipeline last published it (``recon.exceptions``)."""

    exception_id: str
    check_id: str
    record_id: str
    status: str  # the pipeline's: open | resolved
    amount_local: Decimal | None
    currency: str | None
    detail: str


def _current(store: WorkflowStore, target: Target) -> HumanState | None:
    return store.states([target.exception_id]).get(target.exception_id)


def _require_open(target: Target, verb: str) -> None:
    if target.status != "open":
        raise ActionError(
            f"exception {target.exception_id[:8]} ({target.check_id} {target.record_id}) was "
            f"resolved by the data, so there is nothing to {verb}; comment on it instead"
        )


def _write(
    store: WorkflowStore,
    target: Target,
    *,
    action: str,
    actor: str,
    now: datetime,
    note: str | None,
    changes: dict[str, object],
) -> HumanState:
    with store.transaction() as conn:
        store.record(
            conn,
            exception_id=target.exception_id,
            check_id=target.check_id,
            record_id=target.record_id,
            action=action,
            actor=actor,
            at=now,
            note=note,
            changes=changes,
        )
    state = _current(store, target)
    assert state is not None  # just written
    return state


def acknowledge(
    store: WorkflowStore, target: Target, *, actor: str, now: datetime, note: str | None = None
) -> HumanState:
    """Someone is on it: the exception stays in the queue, marked acknowledged."""
    _require_open(target, "acknowledge")
    return _write(
        store,
        target,
        action="acknowledged",
        actor=actor,
        now=now,
        note=note,
        changes={"state": "acknowledged", "snoozed_until": None},
    )


def assign(
    store: WorkflowStore, target: Target, assignee: str, *, actor: str, now: datetime
) -> HumanState:
    """Give the exception to ``assignee`` (its state is unchanged)."""
    _require_open(target, "assign")
    if not assignee.strip():
        raise ActionError("give the name of the person to assign the exception to")
    return _write(
        store,
        target,
        action="assigned",
        actor=actor,
        now=now,
        note=f"assigned to {assignee.strip()}",
        changes={"assignee": assignee.strip()},
    )


def comment(
    store: WorkflowStore, target: Target, text: str, *, actor: str, now: datetime
) -> HumanState:
    """A note in the exception's history (allowed in any state)."""
    if not text.strip():
        raise ActionError("the comment is empty; give its text")
    current = _current(store, target)
    return _write(
        store,
        target,
        action="commented",
        actor=actor,
        now=now,
        note=text.strip(),
        changes={} if current is not None else {"state": "open"},
    )


def snooze(
    store: WorkflowStore,
    target: Target,
    until: date,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> HumanState:
    """Hide the exception from the working queue until ``until`` (then it is open again)."""
    _require_open(target, "snooze")
    if until <= now.date():
        raise ActionError(
            f"a snooze must end after today ({now.date():%Y-%m-%d}); {until:%Y-%m-%d} is not"
        )
    return _write(
        store,
        target,
        action="snoozed",
        actor=actor,
        now=now,
        note=f"until {until:%Y-%m-%d}" + (f": {note.strip()}" if note and note.strip() else ""),
        changes={"state": "snoozed", "snoozed_until": until},
    )


def accept(
    store: WorkflowStore, target: Target, reason: str, *, actor: str, now: datetime
) -> HumanState:
    """Accept the exception as expected: suppressed until its amount or detail changes."""
    _require_open(target, "accept")
    if not reason.strip():
        raise ActionError("say why the exception is expected (--reason)")
    return _write(
        store,
        target,
        action="accepted",
        actor=actor,
        now=now,
        note=reason.strip(),
        changes={
            "state": "accepted",
            "snoozed_until": None,
            "accepted_reason": reason.strip(),
            "accepted_amount": target.amount_local,
            "accepted_currency": target.currency,
            "accepted_detail": target.detail,
        },
    )


def reopen(
    store: WorkflowStore, target: Target, *, actor: str, now: datetime, note: str | None = None
) -> HumanState:
    """Undo an acknowledgement, snooze or acceptance: the exception is open again."""
    _require_open(target, "reopen")
    current = _current(store, target)
    if current is None or current.state == "open":
        raise ActionError(f"exception {target.exception_id[:8]} is already open")
    return _write(
        store,
        target,
        action="reopened",
        actor=actor,
        now=now,
        note=note,
        changes=_cleared("open"),
    )


def _cleared(state: str) -> dict[str, object]:
    return {
        "state": state,
        "snoozed_until": None,
        "accepted_reason": None,
        "accepted_amount": None,
        "accepted_currency": None,
        "accepted_detail": None,
    }
