"""The ``revops`` console script, run as a subprocess like a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from api_company import ApiRun
from demo import TRACE_COMPANY, shared_demo
from shared import copy_home

REPO = Path(__file__).resolve().parent.parent
REVOPS = Path(sys.executable).parent / "revops"


def _revops(
    *args: str, home: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["REVOPS_HOME"] = str(home)
    env.update(extra_env or {})
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(REVOPS), *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _last_stderr_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines, f"nothing on stderr; stdout was:\n{proc.stdout}"
    return lines[-1]


@pytest.mark.e2e
def test_run_broken_drop_names_the_file(tmp_path: Path, minimal_drop: Path) -> None:
    missing = minimal_drop / "stripe" / "prices.jsonl"
    missing.unlink()

    proc = _revops("run", "--source-dir", str(minimal_drop), home=tmp_path)

    assert proc.returncode != 0
    last = _last_stderr_line(proc)
    assert str(missing.resolve()) in last
    assert "re-export" in last
    assert "Traceback" not in last


# A valid drop's run in the run history: the run that wins in
# test_runlock.py::test_two_runs_started_together_one_runs_the_other_says_why (the same run of
# the same minimal drop on a fresh home, whose history it asserts).


@pytest.mark.unit
@pytest.mark.parametrize(
    "args", [["exceptions", "--owner", "finance", "--status", "all"], ["report"]]
)
def test_queue_commands_need_a_snapshot_first(tmp_path: Path, args: list[str]) -> None:
    proc = _revops(*args, home=tmp_path)

    assert proc.returncode != 0
    last = _last_stderr_line(proc)
    assert "no serving snapshot" in last and "revops run" in last


@pytest.mark.unit
def test_api_mode_without_credentials_says_which_variable(tmp_path: Path) -> None:
    env_names = [k for k in os.environ if k.startswith(("STRIPE_", "SALESFORCE_", "NETSUITE_"))]
    assert env_names == []  # the test machine holds no vendor credentials
    proc = _revops("run", "--source", "api", home=tmp_path)

    assert proc.returncode != 0
    last = _last_stderr_line(proc)
    assert "api mode needs" in last and "set it in the environment" in last


@pytest.mark.e2e
def test_api_mode_run_against_the_served_fakes_then_replay(
    tmp_path: Path, api_company: ApiRun
) -> None:
    """``revops run --source api`` against the fakes serving a drop (a rate limit and a server
    error on each), credentials from the environment: the session's run (``api_company``),
    which ``test_api_asof`` also compares with files mode; then ``revops replay`` on a copy."""
    run, drop = api_company, api_company.drop
    assert run.returncode == 0, run.stderr
    assert run.stripe_api_key not in run.stdout + run.stderr  # never shown
    import duckdb

    home = copy_home(api_company.home, tmp_path / "home")
    warehouse = home / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse), read_only=True)
    counts = con.sql(
        "SELECT (SELECT count(*) FROM raw_stripe.invoices), "
        "(SELECT count(*) FROM raw_salesforce.opportunity), "
        "(SELECT count(*) FROM raw_netsuite.transaction), "
        "(SELECT count(*) FROM raw_stripe.meter_events)"
    ).fetchall()[0]
    con.close()
    expected = tuple(
        sum(1 for _ in (drop / rel).open())
        for rel in (
            "stripe/invoices.jsonl",
            "salesforce/Opportunity.jsonl",
            "netsuite/transaction.jsonl",
            "stripe/meter_events.jsonl",
        )
    )
    assert counts == expected

    replayed = _revops("replay", home=home)
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed" in replayed.stdout
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.sql("SELECT count(*) FROM raw_stripe.invoices").fetchall()[0][0] == expected[0]
    con.close()


@pytest.mark.unit
def test_as_of_parsing() -> None:
    from dagster_project.cli import parse_as_of

    assert parse_as_of("2026-06-30").isoformat() == "2026-06-30T23:59:59+00:00"
    assert parse_as_of("2026-07-01T01:00:00+02:00").isoformat() == "2026-06-30T23:00:00+00:00"
    with pytest.raises(Exception, match="no UTC offset"):
        parse_as_of("2026-06-30T10:00:00")


@pytest.mark.e2e
def test_sandbox_generate_writes_a_valid_drop(tmp_path: Path) -> None:
    from connectors.drop import inspect_drop

    out = tmp_path / "drop"
    proc = _revops(
        "sandbox",
        "generate",
        "--out",
        str(out),
        "--customers",
        "20",
        "--months",
        "3",
        "--as-of",
        "2026-06-30",
        home=tmp_path,
    )

    assert proc.returncode == 0, proc.stderr
    inventory = inspect_drop(out)
    assert inventory.exported_at.isoformat() == "2026-06-30T23:59:59+00:00"
    assert inventory.counts["stripe/invoices.jsonl"] > 0
    assert "stripe" in proc.stdout


@pytest.mark.e2e
def test_demo_generates_and_runs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """``revops demo`` on a fresh home: the session's demo of test_trace's company
    (``demo.shared_demo``: one demo for every test that needs this company's)."""
    demo = shared_demo(tmp_path_factory, *TRACE_COMPANY)
    home = demo.home

    assert demo.returncode == 0, demo.stderr
    assert (home / "sandbox" / "manifest.json").is_file()
    assert "SUCCESS" in demo.stdout
    assert "make dev" in demo.stdout
    # The run wrote the warehouse under $REVOPS_HOME, every sandbox record loaded clean.
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    invoices = con.sql("SELECT count(*) FROM raw_stripe.invoices").fetchall()[0][0]
    quarantined = con.sql("SELECT sum(quarantined) FROM raw_meta.batches").fetchall()[0][0]
    con.close()
    assert invoices > 0
    assert quarantined == 0


@pytest.mark.unit
@pytest.mark.parametrize("case", ["no such directory", "no manifest"])
def test_a_bad_drop_is_refused_before_any_run_is_launched(tmp_path: Path, case: str) -> None:
    drop = tmp_path / "drop"
    if case == "no manifest":
        drop.mkdir()
    home = tmp_path / "home"
    proc = _revops("run", "--source-dir", str(drop), home=home)
    assert proc.returncode == 1
    last = _last_stderr_line(proc)
    assert last.startswith("revops: the source drop was not run: ")
    assert ("does not exist" if case == "no such directory" else "manifest.json is missing") in last
    assert not (home / "dagster").exists()  # no Dagster instance touched, no run recorded
    assert proc.stdout == ""


@pytest.mark.unit
def test_a_drop_of_another_company_is_refused_before_launching(
    tmp_path: Path, minimal_drop: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "last_drop.json").write_text(
        '{"company": "Northbeam Software", "source_dir": "/exports/2026-06-30"}'
    )
    proc = _revops("run", "--source-dir", str(minimal_drop), home=home)
    assert proc.returncode == 1
    last = _last_stderr_line(proc)
    assert "is an export of 'Handmade Co' but the warehouse in" in last
    assert "holds 'Northbeam Software'" in last and "--new-company" in last
    assert not (home / "dagster").exists()
