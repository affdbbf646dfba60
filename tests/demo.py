"""``revops demo`` homes, made once per test session for every worker (``shared.shared_build``)
and keyed by the demo's arguments: tests that need a home the demo made, with the same
company, share one demo. Read them; copy the home to change it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from shared import shared_build

REVOPS = Path(sys.executable).parent / "revops"
# The company of tests/test_trace.py's demo (a sandbox with every kind of exception).
TRACE_COMPANY = ("--customers", "120", "--months", "12", "--seed", "17", "--anomaly-rate", "0.05")


@dataclass(frozen=True)
class Demo:
    home: Path  # REVOPS_HOME of the demo: its drop in home/sandbox, warehouse, snapshot...
    returncode: int
    stdout: str
    stderr: str


def shared_demo(tmp_path_factory: pytest.TempPathFactory, *args: str) -> Demo:
    """``revops demo <args>`` on a fresh home (``REVOPS_HOME``, its own Dagster instance),
    made by the first test of the session to ask for these arguments."""

    def build(root: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
        env["REVOPS_HOME"] = str(root / "home")
        (root / "home").mkdir()
        proc = subprocess.run(
            [str(REVOPS), "demo", *args],
            cwd=root / "home",
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        outcome = {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}
        (root / "outcome.json").write_text(json.dumps(outcome), encoding="utf-8")

    name = "demo" + "".join(a if a.startswith("--") else f"={a}" for a in args)
    root = shared_build(tmp_path_factory, name, build)
    outcome = json.loads((root / "outcome.json").read_text(encoding="utf-8"))
    return Demo(root / "home", outcome["returncode"], outcome["stdout"], outcome["stderr"])
