"""The whole pipeline operated as people do: full run, a partial re-run, a broken drop, a new drop.

One small sandbox company, real Dagster runs on a real local instance. The first full run is
the session's reference run of the crash tests' company (``crash.shared_reference``: one
``revops run`` of its drop on a fresh home), copied into ``tmp_path`` with its drop.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from crash import COMPANY, SharedReference
from shared import copy_home

from connectors.sandbox import generate
from dagster_project.definitions import refresh_job
from dagster_project.defs.schedules import new_source_drop

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
STAGING_MODEL = "staging/stg_stripe__invoices"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env |= {"REVOPS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    return subprocess.run(
        list(args),
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_operating_the_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_company: SharedReference
) -> None:
    # 1. A full run from the CLI (`revops run --source-dir <drop>` on a fresh home, exit 0):
    # the reference run, its home copied, its drop where the exports land.
    drop = Path(shutil.copytree(reference_company.drop, tmp_path / "inbox" / "2026-06-30"))
    home = copy_home(reference_company.ref.home, tmp_path / "home")
    snapshot = home / "serving" / "revenue.duckdb"
    published = sha256(snapshot)
    con = duckdb.connect(str(snapshot), read_only=True)
    open_before = con.sql("SELECT count(*) FROM recon.exceptions WHERE status = 'open'").fetchall()
    con.close()
    truth = (drop / "truth" / "exceptions.csv").read_text().splitlines()[1:]
    assert open_before == [(len(truth),)]

    # 2. One staging model and everything downstream of it, re-materialised from the CLI.
    partial = run(
        str(BIN / "dagster"),
        "asset",
        "materialize",
        "-m",
        "dagster_project.definitions",
        "--select",
        f"{STAGING_MODEL}*",
        home=home,
    )
    assert partial.returncode == 0, partial.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
        latest = runs[0]
        planned = instance.get_records_for_run(
            latest.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
    keys = {_asset_key(r) for r in planned}
    assert latest.status == dg.DagsterRunStatus.SUCCESS
    assert {STAGING_MODEL, "core/invoices", "reconciliation", "serving_snapshot"} <= keys
    assert "raw_stripe/invoices" not in keys and "staging/stg_salesforce__accounts" not in keys
    published = sha256(snapshot)  # republished by the partial run

    # 3. A broken drop fails with the file named, and the snapshot stays the same bytes.
    broken = tmp_path / "broken"
    shutil.copytree(drop, broken)
    (broken / "stripe" / "invoices.jsonl").unlink()
    failed = run(str(BIN / "revops"), "run", "--source-dir", str(broken), home=home)
    assert failed.returncode != 0
    last = [line for line in failed.stderr.splitlines() if line.strip()][-1]
    assert "stripe/invoices.jsonl" in last
    assert sha256(snapshot) == published

    # 4. A second drop lands in the inbox: the sensor starts exactly one run for it.
    monkeypatch.setenv("REVOPS_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("REVOPS_HOME", str(home))
    first_cursor = "\n".join(_run_key(r) for r in _requests(None))
    second = tmp_path / "inbox" / "2026-07-31"
    generate(second, **(COMPANY | {"as_of": _as_of("2026-07-31T23:59:59Z")}))
    requests = _requests(first_cursor)
    assert [r.tags["revops/source_dir"] for r in requests] == [str(second.resolve())]
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        result = dg.execute_job(
            dg.reconstructable(refresh_job),
            instance=instance,
            run_config=requests[0].run_config,
            tags=requests[0].tags,
        )
    assert result.success
    assert _requests("\n".join([first_cursor, _run_key(requests[0])])) == []
    con = duckdb.connect(str(snapshot), read_only=True)
    as_of = con.sql("SELECT max(as_of) FROM recon.check_runs").fetchall()[0][0]
    con.close()
    assert as_of.strftime("%Y-%m-%d") == "2026-07-31"


def _requests(cursor: str | None) -> list[dg.RunRequest]:
    context = dg.build_sensor_context(cursor=cursor)
    tick = new_source_drop(context)
    assert isinstance(tick, Iterator)  # the sensor's function is a generator
    return [r for r in tick if isinstance(r, dg.RunRequest)]


def _run_key(request: dg.RunRequest) -> str:
    assert request.run_key is not None  # the sensor keys every run by its drop
    return request.run_key


def _asset_key(record: dg.EventLogRecord) -> str:
    """The asset an ASSET_MATERIALIZATION record materialised."""
    key = record.event_log_entry.get_dagster_event().asset_key
    assert key is not None
    return key.to_user_string()


def _as_of(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_every_warehouse_writer_is_in_the_pool_of_one(tmp_path: Path) -> None:
    """DuckDB has one writer: every step touching the warehouse is in pool duckdb_warehouse,
    and the instance revops writes limits every pool to one step at a time, across runs."""
    import yaml

    from dagster_project.definitions import defs
    from dagster_project.launch import write_instance_config

    graph = defs().resolve_asset_graph()
    writers = {
        k.to_user_string(): graph.get(k).pools
        for k in graph.get_all_asset_keys()
        if graph.get(k).group_name != "sources"
    }
    assert writers and all(pools == {"duckdb_warehouse"} for pools in writers.values()), writers
    write_instance_config(tmp_path / "dagster")
    config = yaml.safe_load((tmp_path / "dagster" / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
