"""One run per REVOPS_HOME, by a lock a dead process cannot hold; dead runs recovered.

The lock is tested with real processes (another Python holding it, killed with SIGKILL) and
through the ``revops`` console script: a second run refused in one line, a run killed inside
its dbt step recovered by the next run, two runs started together.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.sandbox.generate import generate
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


@pytest.fixture(scope="module")
def small_drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    drop = tmp_path_factory.mktemp("drop") / "drop"
    generate(drop, customers=80, months=12, seed=9, progress=False)
    return drop


@pytest.mark.e2e
def test_a_run_killed_in_its_dbt_step_is_recovered_by_the_next_run(
    tmp_path: Path, small_drop: Path
) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["REVOPS_HOME"] = str(home)
    victim = subprocess.Popen(
        [str(REVOPS), "run", "--source-dir", str(small_drop)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    dbt_dir = home / "dbt"
    deadline = time.monotonic() + 300
    while not (dbt_dir.is_dir() and any(dbt_dir.iterdir())):  # dbt build has started
        assert victim.poll() is None, "the run ended before its dbt step"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.0)
    os.killpg(victim.pid, signal.SIGKILL)  # the CLI and the dbt it started
    victim.wait()
    # A publish killed half-way leaves its temp file (and WAL) behind.
    (home / "serving").mkdir(exist_ok=True)
    (home / "serving" / ".revenue.duckdb.99999.tmp").write_bytes(b"partial")
    (home / "serving" / ".revenue.duckdb.99999.tmp.wal").write_bytes(b"partial")

    proc = revops("run", "--source-dir", str(small_drop), home=home)

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (
        "was left unfinished by a process that died: marked failed and its warehouse "
        "slot freed" in proc.stdout
    )
    assert "removed .revenue.duckdb.99999.tmp, left by a publish that was killed" in proc.stdout
    assert not list((home / "serving").glob(".*.tmp*"))
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        statuses = sorted(r.status.value for r in instance.get_runs())
    assert statuses == ["FAILURE", "SUCCESS"]


@pytest.mark.e2e
def test_two_runs_started_together_one_runs_the_other_says_why(
    tmp_path: Path, minimal_drop: Path
) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["REVOPS_HOME"] = str(home)
    cmd = [str(REVOPS), "run", "--source-dir", str(minimal_drop)]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = sorted((p.wait(timeout=600), p.stderr.read()) for p in procs)  # type: ignore[union-attr]
    assert [code for code, _ in outcomes] == [0, 3], outcomes
    assert last_line(outcomes[1][1]).startswith("revops: another revops run (pid ")


@pytest.mark.e2e
def test_a_run_shows_each_step_as_it_starts_and_ends_then_the_summary(
    tmp_path: Path, small_drop: Path
) -> None:
    proc = revops("run", "--source-dir", str(small_drop), home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
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
