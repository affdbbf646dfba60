"""Reconciliation on real sandbox drops: the open exceptions equal truth, check by check.

Each drop is loaded into a real DuckDB warehouse, built with the real ``dbt build``, and
reconciled; the open ``(check_id, record_id)`` set is compared with ``truth/exceptions.csv``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from browser import ARTIFACTS, open_browser
from drops import CompanyAt, sync_manifest

from connectors.load.files_mode import load_drop
from connectors.load.warehouse import connect
from connectors.sandbox import generate
from reconciliation.catalog import catalog
from reconciliation.publish import publish_snapshot
from reconciliation.report import write_report
from reconciliation.run import run_checks

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).parent / "dbt"


def dbt_build(home: Path) -> None:
    env = {**os.environ, "REVOPS_HOME": str(home)}
    proc = subprocess.run(
        [
            str(DBT),
            "build",
            "--project-dir",
            str(REPO / "dbt"),
            "--profiles-dir",
            str(REPO / "dbt"),
            "--target-path",
            str(home / "dbt-target"),
            "--log-path",
            str(home / "dbt-logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]


def build(drop: Path, home: Path, run_id: str) -> None:
    """Load ``drop`` into ``home``'s warehouse, build the marts, reconcile."""
    con = connect(home / "warehouse.duckdb")
    load_drop(con, home, drop)
    con.close()
    dbt_build(home)
    con = connect(home / "warehouse.duckdb")
    run_checks(con, run_id=run_id)
    con.close()


def open_set(home: Path) -> set[tuple[str, str]]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    rows = con.sql("SELECT check_id, record_id FROM recon.exceptions WHERE status = 'open'")
    out = set(rows.fetchall())
    con.close()
    return out


def truth_set(drop: Path) -> set[tuple[str, str]]:
    df = pl.read_csv(drop / "truth" / "exceptions.csv", schema_overrides={"record_id": pl.String})
    return set(df.iter_rows())


def score(found: set, truth: set) -> dict[str, tuple[float, float, int, int]]:
    """Per check: (precision, recall, found, truth)."""
    by_found, by_truth = defaultdict(set), defaultdict(set)
    for c, r in found:
        by_found[c].add(r)
    for c, r in truth:
        by_truth[c].add(r)
    out = {}
    for check in sorted({c.check_id for c in catalog()}):
        f, t = by_found[check], by_truth[check]
        hit = len(f & t)
        out[check] = (hit / len(f) if f else 1.0, hit / len(t) if t else 1.0, len(f), len(t))
    return out


DROPS: dict[str, CompanyAt] = {
    "default-300": {"customers": 300, "seed": 42},
    "mid-month-300": {
        "customers": 300,
        "seed": 11,
        "months": 14,
        "as_of": datetime(2026, 3, 17, 9, 30, tzinfo=UTC),
    },
    "2000-rate-5pct": {"customers": 2000, "seed": 7, "months": 18, "anomaly_rate": 0.05},
}


@pytest.fixture(scope="module", params=sorted(DROPS))
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp(request.param)
    drop, home = root / "drop", root / "home"
    generate(drop, progress=False, **DROPS[request.param])
    build(drop, home, run_id="run-1")
    return drop, home


def test_open_exceptions_equal_truth_per_check(built: tuple[Path, Path]) -> None:
    drop, home = built
    found, truth = open_set(home), truth_set(drop)
    scores = score(found, truth)
    print(f"\n{drop.parent.name}: check precision recall found truth")
    for check, (p, r, nf, nt) in scores.items():
        print(f"  {check:<28} {p:9.3f} {r:6.3f} {nf:5d} {nt:5d}")
    # every check has a case, but record_quarantined: the sandbox writes no broken record
    # (tests/test_quarantine_exceptions.py breaks some), so it must find none
    assert all(nt > 0 for c, (_, _, _, nt) in scores.items() if c != "record_quarantined")
    assert scores["record_quarantined"][2:] == (0, 0)
    assert {c: (p, r) for c, (p, r, _, _) in scores.items()} == {c: (1.0, 1.0) for c in scores}


def test_every_exception_is_explained(built: tuple[Path, Path]) -> None:
    _, home = built
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    rows = con.sql(
        "SELECT check_id, record_id, owner, severity, detail, amount_at_risk_reporting "
        "FROM recon.exceptions WHERE status = 'open'"
    ).fetchall()
    con.close()
    assert rows
    for check_id, record_id, owner, severity, detail, amount in rows:
        assert owner in {"finance", "revops", "engineering", "billing"}
        assert severity in {"high", "medium", "low"}
        assert amount is not None and amount >= 0, (check_id, record_id)
        ident = record_id.split(":")[0]
        assert ident in detail, (check_id, detail)  # names the record it is about
        assert len(detail) > 40


def test_a_clean_company_has_no_exceptions(tmp_path: Path) -> None:
    drop, home = tmp_path / "drop", tmp_path / "home"
    generate(drop, customers=200, months=12, anomaly_rate=0.0, progress=False)
    build(drop, home, run_id="clean")
    assert open_set(home) == set()


def test_lifecycle_over_consecutive_drops(tmp_path: Path) -> None:
    """Drop 1 as generated; drop 2 posts a missing invoice (fixed) and voids another invoice's
    posting (new); drop 3 voids the fixed one's posting again (reopened). The events table
    tells that story. Changes arrive as NetSuite sends them: new or modified rows."""
    base = tmp_path / "drop1"
    generate(base, customers=150, months=12, seed=21, progress=False)
    home = tmp_path / "home"
    build(base, home, run_id="run-1")
    first = open_set(home)
    not_posted = sorted(r for c, r in first if c == "invoice_not_posted")
    assert not_posted
    fixed = not_posted[0]

    # Drop 2: the missing NetSuite invoice for `fixed` arrives; another invoice's vanishes.
    drop2 = tmp_path / "drop2"
    shutil.copytree(base, drop2)
    tx_path = drop2 / "netsuite" / "transaction.jsonl"
    txs = [json.loads(x) for x in tx_path.read_text().splitlines()]
    template = next(t for t in txs if t["type"] == "CustInvc")
    invoice = next(
        json.loads(x)
        for x in (base / "stripe" / "invoices.jsonl").read_text().splitlines()
        if json.loads(x)["id"] == fixed
    )
    posted = {
        **template,
        "id": "999001",
        "tranid": "INV999001",
        "externalid": fixed,
        "memo": fixed,
        "foreigntotal": f"{invoice['total'] / 100:g}",
        "voided": "F",
    }
    exported = json.loads((base / "manifest.json").read_text())["exported_at"]
    cutoff = datetime.fromisoformat(exported.replace("Z", "+00:00")).timestamp() - 3 * 86400
    involved = {r for _, r in first}
    posted_ids = {t.get("externalid") for t in txs if t["type"] == "CustInvc"}
    victim = sorted(
        i["id"]
        for i in map(json.loads, (base / "stripe" / "invoices.jsonl").read_text().splitlines())
        if i["status"] == "paid"
        and i["total"] > 0
        and i["id"] in posted_ids
        and i["id"] not in involved
        and i["status_transitions"]["finalized_at"] <= cutoff
    )[0]
    later = "2026-07-15 12:00:00"  # NetSuite's lastmodifieddate: newer than anything loaded
    for t in txs:
        if t["type"] == "CustInvc" and t.get("externalid") == victim:
            t.update(voided="T", lastmodifieddate=later)  # voided in NetSuite: not a posting
    tx_path.write_text("".join(json.dumps(t) + "\n" for t in [*txs, posted]))
    sync_manifest(drop2)
    build(drop2, home, run_id="run-2")
    second = open_set(home)
    assert ("invoice_not_posted", fixed) not in second
    assert ("invoice_not_posted", victim) in second

    # Drop 3: the posting for `fixed` is voided in NetSuite: the exception comes back.
    drop3 = tmp_path / "drop3"
    shutil.copytree(drop2, drop3)
    tx3 = drop3 / "netsuite" / "transaction.jsonl"
    rows = [json.loads(x) for x in tx3.read_text().splitlines()]
    for t in rows:
        if t["id"] == "999001":
            t.update(voided="T", lastmodifieddate="2026-07-16 12:00:00")
    tx3.write_text("".join(json.dumps(t) + "\n" for t in rows))
    sync_manifest(drop3)
    build(drop3, home, run_id="run-3")
    assert ("invoice_not_posted", fixed) in open_set(home)

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    story = con.execute(
        "SELECT run_id, event FROM recon.exception_events WHERE check_id = 'invoice_not_posted' "
        "AND record_id = ? ORDER BY run_id",
        [fixed],
    ).fetchall()
    new_one = con.execute(
        "SELECT run_id, event FROM recon.exception_events WHERE check_id = 'invoice_not_posted' "
        "AND record_id = ? ORDER BY run_id",
        [victim],
    ).fetchall()
    row = con.execute(
        "SELECT status, times_reopened, resolved_at IS NULL FROM recon.exceptions "
        "WHERE check_id = 'invoice_not_posted' AND record_id = ?",
        [fixed],
    ).fetchall()
    runs = con.sql(
        "SELECT run_id, exceptions_new, exceptions_resolved FROM recon.check_runs "
        "WHERE check_id = 'invoice_not_posted' ORDER BY run_id"
    ).fetchall()
    con.close()
    assert story == [("run-1", "opened"), ("run-2", "resolved"), ("run-3", "reopened")]
    assert new_one == [("run-2", "opened")]
    assert row == [("open", 1, True)]
    assert runs[1][1] >= 1 and runs[1][2] >= 1 and runs[2][1] >= 1


def test_a_failed_run_changes_nothing(built: tuple[Path, Path], tmp_path: Path) -> None:
    _, home = built
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(home / "warehouse.duckdb", copy)
    con = connect(copy)
    before = con.sql(
        "SELECT count(*), sum(hash(exception_id || status)) FROM recon.exceptions"
    ).fetchall()
    con.execute("DROP TABLE core.payments")  # the payment checks cannot run now
    with pytest.raises(Exception, match="payment"):
        run_checks(con, run_id="broken")
    after = con.sql(
        "SELECT count(*), sum(hash(exception_id || status)) FROM recon.exceptions"
    ).fetchall()
    events = con.sql(
        "SELECT count(*) FROM recon.exception_events WHERE run_id = 'broken'"
    ).fetchall()
    con.close()
    assert after == before and events == [(0,)]


def test_finance_report_renders_in_headless_chromium(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    drop, home = built
    serving = home / "serving" / "revenue.duckdb"
    publish_snapshot(home / "warehouse.duckdb", serving)
    con = duckdb.connect(str(serving), read_only=True)
    report = write_report(con, home / "reports", "run-1")
    con.close()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"finance-report-{drop.parent.name}.png"
    with open_browser() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on(
            "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "request",
            lambda r: (
                problems.append(f"fetched {r.url}") if not r.url.startswith("file:") else None
            ),
        )
        page.goto(report.as_uri())
        page.wait_for_selector("body[data-ready='true']")
        bars = page.locator("#mrr-bridge rect.bar").count()
        boxes = page.locator("#mrr-bridge").bounding_box()
        page.screenshot(path=str(shot), full_page=True)
    assert problems == []  # no console errors, nothing fetched: the file is self-contained
    assert bars > 10 and boxes is not None and boxes["width"] > 400  # the bridge chart is drawn
    assert shot.stat().st_size > 20_000
