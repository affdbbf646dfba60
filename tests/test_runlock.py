"""One run per REVOPS_HOME, by a lock a dead process cannot hold; dead runs recovered.

The lock is tested with real processes (another Python holding it, killed with SIGKILL) and
through the ``revops`` console script: a second run refused in one line, two runs started
together. (A run killed inside its dbt step, recovered by the next run, is one of the crash
chains of ``tests/test_crash_chain.py``.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crash import SharedReference

from dagster_project.runlock import RunInProgressError, held_by, run_lock

REVOPS = Path(sys.executable).parent / "revops"
HOLD = (
    "import sys, time, pathlib; from dagster_project.runlock import run_lock\n"
    "with run_lock(pathlib.Path(sys.argv[1]), 'run'):\n"
    "    print('held', flush=True); time.sleep(600)\n"
)


def hold_in_other_process(home: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(home)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def revops(*args: str, home: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["REVOPS_HOME"] = str(home)
    return subprocess.run(
        [str(REVOPS), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def last_line(text: str) -> str:
    return [line for line in text.splitlines() if line.strip()][-1]


@pytest.mark.unit
def test_the_lock_is_exclusive_says_who_holds_it_and_dies_with_its_process(
    tmp_path: Path,
) -> None:
    holder = hold_in_other_process(tmp_path)
    try:
        assert f"pid {holder.pid}" in (held_by(tmp_path) or "")
        with pytest.raises(RunInProgressError) as err, run_lock(tmp_path, "run"):
            pass
        assert f"another revops run (pid {holder.pid}, `revops run`" in str(err.value)
        assert "--wait" in str(err.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The kernel released the dead process's lock: nobody holds it now.
    assert held_by(tmp_path) is None
    with run_lock(tmp_path, "run"):
        assert held_by(tmp_path) is not None


@pytest.mark.unit
def test_wait_starts_when_the_running_one_ends(tmp_path: Path) -> None:
    holder = hold_in_other_process(tmp_path)
    said: list[str] = []
    subprocess.Popen(["sh", "-c", f"sleep 1; kill -9 {holder.pid}"])
    started = time.monotonic()
    with run_lock(tmp_path, "run", wait=True, say=said.append, poll_seconds=0.1):
        waited = time.monotonic() - started
    holder.wait()
    assert len(said) == 1
    assert said[0].startswith(f"waiting for another revops run (pid {holder.pid}, `revops run`")
    assert waited > 0.5


@pytest.mark.e2e
def test_a_second_run_on_a_busy_home_says_so_in_one_line(
    tmp_path: Path, minimal_drop: Path
) -> None:
    home = tmp_path / "home"
    holder = hold_in_other_process(home)
    try:
        proc = revops("run", "--source-dir", str(minimal_drop), home=home, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 3, proc.stderr
    line = last_line(proc.stderr)
    assert line.startswith(f"revops: another revops run (pid {holder.pid}, `revops run`")
    assert str(home) in line
    assert not (home / "dagster").exists()  # refused before any run was launched


@pytest.mark.e2e
def test_two_runs_started_together_one_runs_the_other_says_why(
    tmp_path: Path, minimal_drop: Path
) -> None:
    """Two ``revops run`` of a valid drop on a fresh home at once: one runs to the end, the
    other is refused before it launches anything; the home's run history holds the one run.
    (This run is also the one ``test_cli`` once made on its own home, alone, to find a valid
    drop's run in the run history: the same run, the same history.)"""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["REVOPS_HOME"] = str(home)
    cmd = [str(REVOPS), "run", "--source-dir", str(minimal_drop)]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = sorted(
        (p.wait(timeout=600), p.stderr.read(), p.stdout.read())  # type: ignore[union-attr]
        for p in procs
    )
    assert [code for code, _, _ in outcomes] == [0, 3], outcomes
    assert last_line(outcomes[1][1]).startswith("revops: another revops run (pid ")

    # The run that ran: a valid drop's run is in the run history (the only run there).
    stdout = outcomes[0][2]
    assert "SUCCESS" in stdout
    dagster_home = home / "dagster"
    assert dagster_home.is_dir()
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs()
    assert [run.job_name for run in runs] == ["refresh"]
    assert runs[0].status == dg.DagsterRunStatus.SUCCESS
    assert runs[0].run_id in stdout


@pytest.mark.e2e
def test_a_run_shows_each_step_as_it_starts_and_ends_then_the_summary(
    reference_company: SharedReference,
) -> None:
    """What ``revops run`` printed: the session's reference run of the crash tests' company
    (``crash.shared_reference``), a ``revops run`` of a sandbox drop on a fresh home."""
    lines = reference_company.ref.stdout.splitlines()
    steps = ["source_drop", "raw_stripe", "dbt_models", "reconciliation", "serving_snapshot"]
    for step in steps:
        started = next(i for i, line in enumerate(lines) if f"▸ {step} " in line)
        ended = next(i for i, line in enumerate(lines) if f"✓ {step} " in line)
        assert started < ended
    assert any("✓ raw_stripe" in line and "records in" in line for line in lines)
    assert any("✓ dbt_models" in line and "checks" in line for line in lines)
    # then the summary: MRR, the queue by owner, the report
    assert any(line.strip().startswith("MRR ") for line in lines)
    assert "open exceptions by owner:" in lines
    assert lines[-1].startswith("finance report: ")
