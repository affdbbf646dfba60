"""``revops exceptions`` as finance uses it, on a home a real ``revops demo`` built.

The queue's every row and cell (CSV and JSON) equals the serving snapshot's; filters are
case-insensitive and refuse unknown values with the valid list; the table fits the terminal;
people's actions persist across the next ``revops run`` (its ``exception_workflow`` step
merges them); the listing never imports Dagster.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.e2e

REVOPS = Path(sys.executable).parent / "revops"


def _revops(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "REVOPS_SOURCE")}
    full.update({"REVOPS_HOME": str(home), "REVOPS_ACTOR": "tester", "COLUMNS": "200"})
    full.update(env or {})
    return subprocess.run(
        [str(REVOPS), *args],
        cwd=home,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _last_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0, proc.stdout[-2000:]
    return [line for line in proc.stderr.splitlines() if line.strip()][-1]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("queue-home")
    _ok(
        _revops(
            home,
            "demo",
            "--customers",
            "60",
            "--months",
            "8",
            "--anomaly-rate",
            "0.1",
            timeout=600,
        )
    )
    return home


def _snapshot(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "serving" / "revenue.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_csv_and_json_carry_every_open_exception_cell_for_cell(home: Path) -> None:
    expected = {
        r[0]: r[1:]
        for r in _snapshot(
            home,
            "SELECT exception_id, check_id, record_id, owner, severity, entity, "
            "amount_at_risk_reporting, amount_local, currency, detail "
            "FROM recon.exceptions WHERE status = 'open'",
        )
    }
    assert expected
    rows = list(csv.DictReader(io.StringIO(_ok(_revops(home, "exceptions", "--format", "csv")))))
    got = {
        r["exception_id"]: (
            r["check_id"],
            r["record_id"],
            r["owner"],
            r["severity"],
            r["entity"] or None,
            Decimal(r["amount_at_risk_reporting"]) if r["amount_at_risk_reporting"] else None,
            Decimal(r["amount_local"]) if r["amount_local"] else None,
            r["currency"] or None,
            r["detail"],
        )
        for r in rows
    }
    assert got == expected
    amounts = [Decimal(r["amount_at_risk_reporting"] or 0) for r in rows]
    assert amounts == sorted(amounts, reverse=True)

    doc = json.loads(_ok(_revops(home, "exceptions", "--format", "json")))
    assert doc["matched"] == doc["shown"] == len(expected)
    assert {e["exception_id"] for e in doc["exceptions"]} == set(expected)
    assert doc["reporting_currency"] == "USD"
    total = sum((v[5] or Decimal(0)) for v in expected.values())
    assert Decimal(str(doc["amount_at_risk"])) == total


def test_the_table_fits_the_terminal_and_says_what_it_left_out(home: Path) -> None:
    open_count = _snapshot(home, "SELECT count(*) FROM recon.exceptions WHERE status = 'open'")
    biggest = _snapshot(
        home,
        "SELECT exception_id, amount_at_risk_reporting FROM recon.exceptions "
        "WHERE status = 'open' ORDER BY amount_at_risk_reporting DESC NULLS LAST LIMIT 1",
    )[0]
    for width in (100, 200):
        out = _ok(_revops(home, "exceptions", "--limit", "5", env={"COLUMNS": str(width)}))
        lines = out.splitlines()
        assert all(len(line) <= width for line in lines), width
        assert lines[1].startswith(biggest[0][:8])
        assert f"{biggest[1]:,.2f} USD" in lines[1]
        assert f"5 of {open_count[0][0]:,} exceptions shown" in out


def test_filters_ignore_case_and_refuse_unknown_values(home: Path) -> None:
    by_entity = _snapshot(
        home,
        "SELECT entity, count(*) FROM recon.exceptions WHERE status = 'open' GROUP BY 1",
    )
    entity, count = next((e, n) for e, n in by_entity if e)
    doc = json.loads(
        _ok(_revops(home, "exceptions", "--entity", entity.lower(), "--format", "json"))
    )
    assert doc["matched"] == count
    finance = _snapshot(
        home, "SELECT count(*) FROM recon.exceptions WHERE status = 'open' AND owner = 'finance'"
    )[0][0]
    doc = json.loads(_ok(_revops(home, "exceptions", "--owner", "FINANCE", "--format", "json")))
    assert doc["matched"] == finance

    entities = sorted(e for e, _ in by_entity if e)
    last = _last_error(_revops(home, "exceptions", "--entity", "xx"))
    assert last == f"revops: unknown entity 'xx'; valid entity values: {', '.join(entities)}"
    assert "finance, revops" in _last_error(_revops(home, "exceptions", "--owner", "nobody"))
    assert "resolved" in _last_error(_revops(home, "exceptions", "--status", "closedish"))
    assert "posting_late" in _last_error(_revops(home, "exceptions", "--check", "nope"))


def test_people_act_and_their_state_survives_the_next_run(home: Path) -> None:
    invoices = home / "sandbox" / "stripe" / "invoices.jsonl"
    broken = [json.loads(line)["id"] for line in invoices.read_text().splitlines()[-2:]]
    ids = [
        r[0]
        for r in _snapshot(
            home,
            "SELECT exception_id, detail FROM recon.exceptions WHERE status = 'open' "
            "ORDER BY amount_at_risk_reporting DESC NULLS LAST, exception_id",
        )
        if not any(b in r[1] for b in broken)
    ]
    acked, accepted, snoozed = ids[:3]
    _ok(_revops(home, "exceptions", "ack", acked[:8], "--note", "on it"))
    _ok(_revops(home, "exceptions", "assign", acked[:10], "Maria Lopez"))
    _ok(_revops(home, "exceptions", "comment", acked, "asked AR for the remittance"))
    _ok(_revops(home, "exceptions", "accept", accepted, "--reason", "contractual discount"))
    _ok(_revops(home, "exceptions", "snooze", snoozed, "--until", "2099-01-31", "--by", "kim"))

    # The next run merges: nothing the three exceptions rest on changed, so people's state
    # stays. Two invoice lines of the drop arrive broken this time (other invoices): the run
    # quarantines them and says so in its summary, with the MRR and the queue by owner.
    lines = invoices.read_text(encoding="utf-8").splitlines()
    for i in (-1, -2):
        lines[i] = lines[i][: len(lines[i]) // 2]  # cut off mid-record: not JSON any more
    invoices.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = _ok(_revops(home, "run", "--source-dir", str(home / "sandbox"), timeout=600))
    assert "SUCCESS" in run
    summary = run[run.index("quarantined records") :].splitlines()
    assert summary[1].split() == ["stripe/invoices.jsonl", "2"]
    assert "MRR" in run and "open exceptions by owner:" in run and "finance report:" in run

    doc = json.loads(_ok(_revops(home, "exceptions", "--status", "all", "--format", "json")))
    state = {e["exception_id"]: (e["state"], e["assignee"]) for e in doc["exceptions"]}
    assert state[acked] == ("acknowledged", "Maria Lopez")
    assert state[accepted] == ("accepted", None)
    assert state[snoozed] == ("snoozed", None)
    working = json.loads(_ok(_revops(home, "exceptions", "--format", "json")))
    assert {accepted, snoozed}.isdisjoint(e["exception_id"] for e in working["exceptions"])
    mine = json.loads(
        _ok(_revops(home, "exceptions", "--assignee", "maria lopez", "--format", "json"))
    )
    assert [e["exception_id"] for e in mine["exceptions"]] == [acked]

    shown = json.loads(_ok(_revops(home, "exceptions", "show", acked, "--format", "json")))
    assert shown["exception"]["state"] == "acknowledged"
    assert [(h["by"], h["what"]) for h in shown["history"]] == [
        ("pipeline", "opened"),
        ("tester", "acknowledged"),
        ("tester", "assigned"),
        ("tester", "commented"),
    ]
    text = _ok(_revops(home, "exceptions", "show", accepted))
    assert "accepted" in text and "contractual discount" in text

    refused = _revops(home, "exceptions", "snooze", acked, "--until", "2001-01-01")
    assert "must end after today" in _last_error(refused)
    assert "no exception 'zzzzzz'" in _last_error(_revops(home, "exceptions", "ack", "zzzzzz"))


def test_the_queue_path_never_imports_dagster(home: Path) -> None:
    code = (
        "import sys\n"
        "from dagster_project.cli import main\n"
        "assert main(['exceptions', '--limit', '1']) == 0\n"
        "assert main(['exceptions', 'show', sys.argv[1]]) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'pandera', "
        "'dbt', 'polars'))\n"
        "assert not loaded, loaded\n"
    )
    first = _snapshot(home, "SELECT exception_id FROM recon.exceptions LIMIT 1")[0][0]
    env = {**os.environ, "REVOPS_HOME": str(home)}
    proc = subprocess.run(
        [sys.executable, "-c", code, first], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_revops_source_is_honoured_and_the_flag_wins(tmp_path: Path) -> None:
    api = _revops(tmp_path, "run", env={"REVOPS_SOURCE": "api"})
    assert "api mode needs" in _last_error(api)
    files = _revops(
        tmp_path, "run", "--source-dir", str(tmp_path / "none"), env={"REVOPS_SOURCE": "api"}
    )
    assert "the source drop was not run" in _last_error(files)
    bogus = _revops(tmp_path, "run", env={"REVOPS_SOURCE": "ftp"})
    assert bogus.returncode == 2
    assert "REVOPS_SOURCE='ftp' is neither files nor api" in _last_error(bogus)
