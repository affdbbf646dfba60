"""The exception workflow over two runs, against SQLite and a real PostgreSQL server.

One company, two drops a week apart (the sandbox's incremental drops: B holds A's records and
a week more). The pipeline runs on A for real (load, dbt, the checks); people act on five of
its exceptions; drop B is edited the way the source systems would have changed; the pipeline
runs on B; the workflow merge runs after each run. The same actions go to a SQLite store and
to a PostgreSQL store, and both must end in the same states with the same audit:

- X, acknowledged and assigned: its NetSuite invoice is corrected in B, the data resolves it,
  so it closes whatever people said;
- Y, accepted as expected: its NetSuite invoice changes to another wrong total in B, so its
  detail changes and it reopens with the change recorded;
- V, accepted as expected: its Stripe invoice's total changes in B, so its amount changes and
  it reopens ("amount … -> …");
- W, accepted as expected and unchanged in B: stays accepted (suppressed);
- Z, snoozed until a date before the second merge: open again, the end recorded.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dbt_build import dbt, load
from drops import sync_manifest
from postgres import postgres_server

from connectors.load.warehouse import connect
from connectors.sandbox import generate
from reconciliation.queue import QueueFilter, exceptions
from reconciliation.run import run_checks
from reconciliation.workflow import actions
from reconciliation.workflow.actions import ActionError, Target
from reconciliation.workflow.merge import merge_run
from reconciliation.workflow.migrate import head
from reconciliation.workflow.store import HEAD_REVISION, WorkflowStore
from reconciliation.workflow.targets import find_target, load_targets

pytestmark = pytest.mark.integration

A = datetime(2026, 6, 16, 12, 0, tzinfo=UTC)
B = A + timedelta(days=7)
COMPANY = {"customers": 150, "months": 12, "seed": 5, "anomaly_rate": 0.05}
ACTED = A + timedelta(hours=1)  # when people act, after run A
MERGED_B = B + timedelta(hours=1)  # when the merge after run B runs
SNOOZE_UNTIL = (A + timedelta(days=3)).date()


def test_the_store_schema_head_is_the_newest_migration() -> None:
    assert head() == HEAD_REVISION


def _pipeline(drop: Path, home: Path, run_id: str) -> None:
    """The pipeline's steps on ``drop``: load, dbt (models), the checks."""
    load(drop, home)
    proc = dbt(home, "run")
    assert proc.returncode == 0, proc.stdout[-4000:]
    con = connect(home / "warehouse.duckdb")
    try:
        run_checks(con, run_id=run_id)
    finally:
        con.close()


def _merge(home: Path, store: WorkflowStore, run_id: str, now: datetime) -> dict[str, int]:
    con = connect(home / "warehouse.duckdb", read_only=True)
    try:
        published = load_targets(con, store.states().keys())
    finally:
        con.close()
    return merge_run(store, published, run_id=run_id, now=now).changes


def _rewrite(path: Path, key: str, value: str, edit: Mapping[str, object]) -> None:
    """Apply ``edit`` to the record of ``path`` whose ``key`` is ``value``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    hit = 0
    for i, line in enumerate(lines):
        rec = json.loads(line)
        if rec.get(key) == value:
            rec.update(edit)
            lines[i] = json.dumps(rec, separators=(",", ":"))
            hit += 1
    assert hit == 1, (path, key, value, hit)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def stores() -> Iterator[dict[str, WorkflowStore]]:
    root = Path(__import__("tempfile").mkdtemp(prefix="revops-workflow-"))
    with postgres_server() as pg_url:
        made = {
            "sqlite": WorkflowStore(f"sqlite:///{root / 'workflow.sqlite'}"),
            "postgresql": WorkflowStore(pg_url),
        }
        yield made
        for store in made.values():
            store.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def story(
    tmp_path_factory: pytest.TempPathFactory, stores: dict[str, WorkflowStore]
) -> dict[str, object]:
    root = tmp_path_factory.mktemp("workflow")
    a, b, home = root / "a", root / "b", root / "home"
    generate(a, as_of=A, through=B, progress=False, **COMPANY)  # type: ignore[arg-type]
    generate(b, as_of=B, through=B, progress=False, **COMPANY)  # type: ignore[arg-type]

    _pipeline(a, home, "run-a")
    con = connect(home / "warehouse.duckdb", read_only=True)
    try:
        # Invoice mismatches between a Stripe invoice and its NetSuite invoice in the same
        # currency (so correcting NetSuite's total resolves them), and unposted invoices.
        mismatches = [
            r[0]
            for r in con.execute(
                """SELECT e.exception_id FROM recon.exceptions e
                JOIN core.invoices i ON i.invoice_id = e.record_id
                JOIN core.erp_transactions t ON t.external_id = i.invoice_id
                    AND t.type = 'CustInvc' AND NOT t.is_voided AND t.currency = i.currency
                WHERE e.check_id = 'invoice_amount_mismatch' AND e.status = 'open'
                ORDER BY e.record_id"""
            ).fetchall()
        ]
        unposted = [
            r[0]
            for r in con.execute(
                "SELECT exception_id FROM recon.exceptions WHERE check_id = 'invoice_not_posted' "
                "AND status = 'open' ORDER BY record_id"
            ).fetchall()
        ]
        assert len(mismatches) >= 3 and len(unposted) >= 2, (mismatches, unposted)
        x, y, w = (find_target(con, i) for i in mismatches[:3])
        v, z = (find_target(con, i) for i in unposted[:2])
        ns = {
            t.record_id: con.execute(
                "SELECT transaction_id, total FROM core.erp_transactions e "
                "JOIN core.invoices i ON i.invoice_id = e.external_id "
                "WHERE e.external_id = ? AND e.type = 'CustInvc'",
                [t.record_id],
            ).fetchall()[0]
            for t in (x, y)
        }
    finally:
        con.close()

    for store in stores.values():
        assert _merge(home, store, "run-a", ACTED) == {}  # nobody has acted yet
        actions.acknowledge(store, x, actor="alice", now=ACTED, note="asking the ERP team")
        actions.assign(store, x, "bob", actor="alice", now=ACTED)
        actions.comment(store, x, "NetSuite total keyed by hand", actor="bob", now=ACTED)
        actions.accept(store, y, "FX rounding agreed with the auditors", actor="carol", now=ACTED)
        actions.accept(store, v, "invoice posted in the next period", actor="carol", now=ACTED)
        actions.accept(store, w, "known difference", actor="carol", now=ACTED)
        actions.snooze(store, z, SNOOZE_UNTIL, actor="dave", now=ACTED, note="month end")

    # Drop B as the source systems changed in the week: X's NetSuite invoice corrected to the
    # Stripe total, Y's keyed wrong again, V's Stripe invoice re-issued at another total.
    edited = root / "b-edited"
    shutil.copytree(b, edited)
    modified = (B - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    x_id, x_total = ns[x.record_id]
    y_id, y_total = ns[y.record_id]
    transactions = edited / "netsuite" / "transaction.jsonl"
    _rewrite(
        transactions, "id", str(x_id), {"foreigntotal": str(x_total), "lastmodifieddate": modified}
    )
    _rewrite(
        transactions,
        "id",
        str(y_id),
        {
            "foreigntotal": str(Decimal(str(y_total)) + Decimal("17.00")),
            "lastmodifieddate": modified,
        },
    )
    invoice = next(
        json.loads(line)
        for line in (edited / "stripe" / "invoices.jsonl").read_text().splitlines()
        if json.loads(line)["id"] == v.record_id
    )
    bumped = {
        k: int(invoice[k]) + 5000 for k in ("total", "amount_due", "subtotal") if k in invoice
    }
    _rewrite(edited / "stripe" / "invoices.jsonl", "id", v.record_id, bumped)
    sync_manifest(edited)

    _pipeline(edited, home, "run-b")
    merged = {name: _merge(home, store, "run-b", MERGED_B) for name, store in stores.items()}
    again = {name: _merge(home, store, "run-b", MERGED_B) for name, store in stores.items()}
    return {
        "home": home,
        "targets": {"x": x, "y": y, "v": v, "w": w, "z": z},
        "merged": merged,
        "again": again,
    }


BACKENDS = ["sqlite", "postgresql"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_second_run_merges_data_and_people(
    story: dict[str, object], stores: dict[str, WorkflowStore], backend: str
) -> None:
    store = stores[backend]
    t: dict[str, Target] = story["targets"]  # type: ignore[assignment]
    states = store.states()
    assert {k: states[t[k].exception_id].state for k in t} == {
        "x": "closed",  # resolved by data, whatever people said
        "y": "open",  # accepted, detail changed
        "v": "open",  # accepted, amount changed
        "w": "accepted",  # accepted, unchanged: still suppressed
        "z": "open",  # snooze ended
    }
    assert states[t["x"].exception_id].assignee == "bob"
    assert story["merged"][backend] == {  # type: ignore[index]
        "closed_by_data": 1,
        "reopened_by_change": 2,
        "snooze_ended": 1,
    }
    assert story["again"][backend] == {}  # type: ignore[index]

    def last(key: str) -> tuple[str, str, str]:
        row = store.history(t[key].exception_id)[-1]
        return row.action, row.actor, row.note or ""

    action, actor, note = last("x")
    assert (action, actor) == ("closed_by_data", "revops") and "run run-b" in note
    assert "was acknowledged" in note
    action, _, note = last("y")
    assert action == "reopened_by_change" and "detail was" in note and "amount" not in note
    assert "FX rounding agreed with the auditors" in note
    action, _, note = last("v")
    v = t["v"]
    new_amount = (v.amount_local or Decimal(0)) + Decimal("50.00")
    assert action == "reopened_by_change"
    assert f"amount {v.amount_local:,.2f} {v.currency} -> {new_amount:,.2f} {v.currency}" in note
    assert last("z")[0] == "snooze_ended" and f"snoozed until {SNOOZE_UNTIL}" in last("z")[2]
    assert [r.action for r in store.history(t["x"].exception_id)] == [
        "acknowledged",
        "assigned",
        "commented",
        "closed_by_data",
    ]


def test_both_stores_hold_the_same_audit(
    story: dict[str, object], stores: dict[str, WorkflowStore]
) -> None:
    t: dict[str, Target] = story["targets"]  # type: ignore[assignment]
    for target in t.values():
        sqlite, pg = (
            [
                (r.action, r.actor, r.acted_at, r.note, r.state_after)
                for r in s.history(target.exception_id)
            ]
            for s in (stores["sqlite"], stores["postgresql"])
        )
        assert sqlite == pg and sqlite


def test_the_queue_shows_people_state_beside_the_data(
    story: dict[str, object], stores: dict[str, WorkflowStore]
) -> None:
    t: dict[str, Target] = story["targets"]  # type: ignore[assignment]
    home: Path = story["home"]  # type: ignore[assignment]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        states = stores["postgresql"].states()
        everything = exceptions(con, QueueFilter(states=("all",)), states, today=MERGED_B.date())
        by_id = {r["exception_id"]: r for r in everything.rows}
        assert {k: by_id[t[k].exception_id]["state"] for k in t} == {
            "x": "resolved",
            "y": "open",
            "v": "open",
            "w": "accepted",
            "z": "open",
        }
        working = exceptions(con, QueueFilter(), states, today=MERGED_B.date())
        shown = {r["exception_id"] for r in working.rows}
        assert t["w"].exception_id not in shown and t["x"].exception_id not in shown
        assert {t["y"].exception_id, t["v"].exception_id, t["z"].exception_id} <= shown
        assert (
            working.matched
            == len(working.rows)
            == sum(1 for r in everything.rows if r["state"] in ("open", "acknowledged"))
        )
        accepted = exceptions(con, QueueFilter(states=("ACCEPTED",)), states, today=MERGED_B.date())
        assert [r["exception_id"] for r in accepted.rows] == [t["w"].exception_id]
    finally:
        con.close()


def test_a_snooze_hides_an_exception_until_its_date(
    story: dict[str, object], stores: dict[str, WorkflowStore]
) -> None:
    """Before the date the snoozed exception is out of the working queue; on it, back."""
    home: Path = story["home"]  # type: ignore[assignment]
    store = stores["sqlite"]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        open_ones = exceptions(
            con, QueueFilter(states=("open",)), store.states(), today=MERGED_B.date()
        )
        target = find_target(con, open_ones.rows[-1]["exception_id"])
        until = MERGED_B.date() + timedelta(days=5)
        actions.snooze(store, target, until, actor="erin", now=MERGED_B)
        for day, expected in ((until - timedelta(days=1), "snoozed"), (until, "open")):
            seen = exceptions(
                con,
                QueueFilter(states=("all",), exception_id=target.exception_id),
                store.states(),
                today=day,
            )
            assert seen.rows[0]["state"] == expected, day
        actions.reopen(store, target, actor="erin", now=MERGED_B, note="back on it")
    finally:
        con.close()


def test_people_are_refused_what_makes_no_sense(
    story: dict[str, object], stores: dict[str, WorkflowStore]
) -> None:
    t: dict[str, Target] = story["targets"]  # type: ignore[assignment]
    store = stores["sqlite"]
    resolved = replace(t["x"], status="resolved")
    before = len(store.history(resolved.exception_id))
    with pytest.raises(ActionError, match="resolved by the data"):
        actions.acknowledge(store, resolved, actor="alice", now=MERGED_B)
    with pytest.raises(ActionError, match="must end after today"):
        actions.snooze(store, t["y"], date(2020, 1, 1), actor="alice", now=MERGED_B)
    with pytest.raises(ActionError, match="say why"):
        actions.accept(store, t["y"], "  ", actor="alice", now=MERGED_B)
    assert len(store.history(resolved.exception_id)) == before
    actions.comment(store, resolved, "closed in NetSuite on the 20th", actor="alice", now=MERGED_B)
    assert store.history(resolved.exception_id)[-1].state_after == "closed"
