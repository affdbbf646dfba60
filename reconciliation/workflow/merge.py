"""After every run: the pipeline's lifecycle merged into people's state.

Rules, applied to every exception someone has acted on:

- the data resolved it (pipeline status ``resolved``): closed, whatever its state;
- it was closed and the data opened it again: open again (people start over);
- it was accepted as expected and its amount or detail changed: open again, the change
  recorded in the audit row ("amount 1,200.00 EUR -> 1,350.00 EUR");
- it was snoozed and the snooze has ended: open again.

Each change is an audit row by ``revops`` naming the run. The merge reads the state before
the run and writes in one transaction, so running it twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from reconciliation.workflow.actions import Target
from reconciliation.workflow.store import SYSTEM_ACTOR, HumanState, WorkflowStore

_CLEARED: dict[str, object] = {
    "snoozed_until": None,
    "accepted_reason": None,
    "accepted_amount": None,
    "accepted_currency": None,
    "accepted_detail": None,
}


@dataclass
class MergeSummary:
    """What the merge changed, by action (``closed_by_data`` -> 3, …)."""

    changes: dict[str, int] = field(default_factory=dict)

    def add(self, action: str) -> None:
        self.changes[action] = self.changes.get(action, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.changes.values())


def _money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None:
        return "no amount"
    return f"{amount:,.2f} {currency or ''}".strip()


def _change(state: HumanState, now: Target) -> str | None:
    """How an accepted exception differs from what was accepted, or None."""
    parts = []
    if state.accepted_amount != now.amount_local or state.accepted_currency != now.currency:
        parts.append(
            f"amount {_money(state.accepted_amount, state.accepted_currency)} -> "
            f"{_money(now.amount_local, now.currency)}"
        )
    if (state.accepted_detail or "") != now.detail:
        parts.append(f"detail was {state.accepted_detail!r}, now {now.detail!r}")
    return "; ".join(parts) or None


def _decide(
    state: HumanState, now: Target, today_: datetime
) -> tuple[str, str, dict[str, object]] | None:
    """(action, note, changes) for one exception, or None when nothing changes."""
    if now.status == "resolved":
        if state.state == "closed":
            return None
        return (
            "closed_by_data",
            f"the data resolved it (was {state.state})",
            {
                "state": "closed",
                **_CLEARED,
            },
        )
    if state.state == "closed":
        return "reopened_by_data", "the data shows the discrepancy again", {"state": "open"}
    if state.state == "accepted":
        change = _change(state, now)
        if change is not None:
            note = f"reopened: {change} since it was accepted ({state.accepted_reason})"
            return "reopened_by_change", note, {"state": "open", **_CLEARED}
        return None
    if state.state == "snoozed" and state.effective(today_.date()) == "open":
        until = state.snoozed_until
        return "snooze_ended", f"snoozed until {until:%Y-%m-%d}", {"state": "open", **_CLEARED}
    return None


def merge_run(
    store: WorkflowStore, published: Mapping[str, Target], *, run_id: str, now: datetime
) -> MergeSummary:
    """Merge the pipeline's exceptions ``published`` (by exception id: at least every
    exception the store holds a state for) into the store. Exceptions the pipeline no longer
    holds at all (a warehouse rebuilt from scratch) keep their state."""
    summary = MergeSummary()
    states = store.states()
    with store.transaction() as conn:
        for exception_id, state in sorted(states.items()):
            target = published.get(exception_id)
            if target is None:
                continue
            decided = _decide(state, target, now)
            if decided is None:
                continue
            action, note, changes = decided
            store.record(
                conn,
                exception_id=exception_id,
                check_id=state.check_id,
                record_id=state.record_id,
                action=action,
                actor=SYSTEM_ACTOR,
                at=now,
                note=f"{note} (run {run_id})",
                changes=changes,
            )
            summary.add(action)
    return summary
