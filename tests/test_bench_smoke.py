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
        assert run["stages"]["reconcile"]["rows_out"] == run["exceptions"]["open"]

    load = first["stages"]["load"]
    drop_records = result["generate"]["first"]["records"]
    assert load["rows_in"] == drop_records == load["rows_out"] + load["quarantined"]
    assert result["floor"]["rows_in"] == drop_records
    # The typed floor reads the same files and records as the count floor, into the declared
    # tables (nested lists: more rows), every declared column typed: at least the count
    # floor's work. Not in time: at 200 customers both are a second of per-file overhead, and
    # no timing is asserted here.
    count_floor, typed_floor = result["floor"], result["typed_floor"]
    assert typed_floor["files"] == count_floor["files"] > 0
    assert typed_floor["rows_in"] == count_floor["rows_in"] == drop_records
    assert typed_floor["rows_out"] > typed_floor["rows_in"] and typed_floor["columns"] > 100
    assert typed_floor["tables"] > typed_floor["files"]
    for floor in (count_floor, typed_floor):
        assert floor["wall_s"] >= floor["work_s"] > 0 and floor["cpu_s"] > 0, floor
    ratios = result["ratios"]
    assert ratios["load_vs_typed_floor"] == round(load["wall_s"] / typed_floor["wall_s"], 2)
    assert ratios["pipeline_vs_count_floor"] == round(
        first["total"]["wall_s"] / count_floor["wall_s"], 2
    )
    assert all(r > 0 for r in ratios.values()), ratios
    # The same drop again: every batch is already loaded; the next day brings new records.
    assert rerun["stages"]["load"]["batches_already_loaded"] == rerun["stages"]["load"]["batches"]
    assert rerun["stages"]["load"]["rows_out"] == 0
    assert result["generate"]["next_day"]["records"] > drop_records
    # A day later most records are the same: only the new and changed ones are written.
    next_load = next_day["stages"]["load"]
    assert 0 < next_load["rows_out"] < next_load["unchanged"]
    assert first["stages"]["dbt_build"]["rows_out"] > 0
    # The one-day increment, per stage, beside the full run's: the next day's run.
    increment = result["increment"]
    assert set(increment) == {*first["stages"], "total"}
    for stage, figures in increment.items():
        full = first["total"] if stage == "total" else first["stages"][stage]
        assert figures["wall_s"] > 0 and figures["cpu_s"] > 0 and figures["peak_rss_mb"] > 0
        assert figures["vs_full"] == round(figures["wall_s"] / full["wall_s"], 3)
        if stage != "total":
            assert figures["rows_in"] > 0 and figures["rows_out"] >= 0, (stage, figures)
    assert increment["load"]["rows_out"] == next_load["rows_out"]

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
    assert "| typed floor: " in table and "| count floor: " in table
    assert "Load ÷ typed floor = **" in table and "whole pipeline ÷ count floor = **" in table
    assert "+1 day: wall s" in table
    assert (results / f"{result['date']}.md").read_text() in table
    assert "### 200 customers" in proc.stdout


@pytest.mark.bench
def test_a_size_failing_for_memory_is_recorded_not_fatal(tmp_path: Path) -> None:
    """A step killed by the out-of-memory killer (SIGKILL) or whose log says an allocation
    failed marks its size as out of memory; the table says so instead of the bench crashing."""
    from bench.measure import StepFailed, measure
    from bench.run import failure, machine
    from bench.table import render_markdown

    log = tmp_path / "logs" / "first-load.log"
    with pytest.raises(StepFailed) as killed:
        measure([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 9)"], log=log)
    recorded = failure(killed.value)
    assert recorded["reason"] == "memory" and recorded["step"] == "first-load"
    assert recorded["returncode"] == -9

    script = "raise MemoryError('no room')"
    with pytest.raises(StepFailed) as raised:
        measure([sys.executable, "-c", script], log=tmp_path / "logs" / "generate.log")
    assert failure(raised.value)["reason"] == "memory"
    with pytest.raises(StepFailed) as other:
        measure([sys.executable, "-c", "raise SystemExit(2)"], log=tmp_path / "logs" / "x.log")
    assert failure(other.value)["reason"] == "error"

    result = {"customers": 200_000, "months": 36, "failed": recorded, "date": "2026-12-03"}
    table = render_markdown([{**result, "machine": machine()}])
    assert "### 200,000 customers, 36 months — did not finish" in table
    assert "`first-load` ran out of memory (exit -9" in table
