"""The benchmark harness at a tiny size, so it cannot rot (no timing is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.integration
@pytest.mark.bench
def test_bench_harness_runs_end_to_end(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# bench\n\n<!-- bench:start -->\nold\n<!-- bench:end -->\n")
    results = tmp_path / "results"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--sizes",
            "200",
            "--months",
            "3",
            "--work",
            str(tmp_path / "work"),
            "--results",
            str(results),
            "--readme",
            str(readme),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    (path,) = results.glob("*-200.json")
    result = json.loads(path.read_text())
    first, rerun, next_day = result["first_run"], result["rerun"], result["next_day"]
    for run in (first, rerun, next_day):
        assert set(run["stages"]) == {"load", "dbt_build", "reconcile", "publish"}
        for figures in run["stages"].values():
            assert figures["wall_s"] > 0 and figures["cpu_s"] > 0 and figures["peak_rss_mb"] > 0
        # Every run's open exceptions are exactly the drop's truth (incremental too).
        assert run["exceptions"]["equal_truth"], run["exceptions"]

    load = first["stages"]["load"]
    drop_records = result["generate"]["first"]["records"]
    assert load["rows_in"] == drop_records == load["rows_out"] + load["quarantined"]
    assert result["floor"]["rows_in"] == drop_records
    # The same drop again: every batch is already loaded; the next day brings new records.
    assert rerun["stages"]["load"]["batches_already_loaded"] == rerun["stages"]["load"]["batches"]
    assert rerun["stages"]["load"]["rows_out"] == 0
    assert result["generate"]["next_day"]["records"] > drop_records
    # A day later most records are the same: only the new and changed ones are written.
    next_load = next_day["stages"]["load"]
    assert 0 < next_load["rows_out"] < next_load["unchanged"]
    assert first["stages"]["dbt_build"]["rows_out"] > 0

    for peer in result["peers"].values():
        assert peer["same_answer"], peer["comparison"]
    dagster_run = result["dagster_run"]
    assert dagster_run["exceptions_equal_truth"]
    # The run's own step times, read back from the Dagster instance, cover every stage.
    assert set(dagster_run["stage_steps_s"]) == set(first["stages"])
    assert all(t > 0 for t in dagster_run["stage_steps_s"].values())
    assert dagster_run["steps_s"] <= dagster_run["run_s"] < dagster_run["wall_s"]
    assert result["profile"]["stage"] in first["stages"] and result["profile"]["top"]

    table = readme.read_text()
    assert "old" not in table and "### 200 customers, 3 months" in table
    assert "| **pipeline** |" in table and "datacompy" in table
    assert (results / f"{result['date']}.md").read_text() in table
    assert "### 200 customers" in proc.stdout
