"""Per-run dbt artifacts are kept for the latest runs only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dagster_project.defs.dbt.assets import prune_artifacts

pytestmark = pytest.mark.unit


def test_only_the_latest_runs_keep_their_dbt_artifacts(tmp_path: Path) -> None:
    for i in range(8):
        run = tmp_path / f"run-{i}"
        run.mkdir()
        (run / "run_results.json").write_text("{}")
        os.utime(run, (1_000_000 + i, 1_000_000 + i))
    prune_artifacts(tmp_path, keep=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"run-{i}" for i in range(3, 8)]
