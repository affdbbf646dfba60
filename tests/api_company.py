"""The api-mode company: a sandbox drop served by the fake vendors (``serve_all``, one rate
limit and one server error armed on each), and one ``revops run --source api`` against them
on a fresh home, its credentials from the environment the fakes give.

Made once per test session for every worker (``shared.shared_build``): ``test_cli`` runs it
as a user does, then replays its raw batches on a copy; ``test_api_asof`` compares what it
published with files mode on the same drop. Read it; copy the home to change it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from shared import shared_build

from connectors.sandbox import generate
from connectors.sandbox.serve import serve_all

REVOPS = Path(sys.executable).parent / "revops"
FAULTS = "rate_limit=1,server_error=1"


@dataclass(frozen=True)
class ApiRun:
    drop: Path
    home: Path
    returncode: int
    stdout: str
    stderr: str
    stripe_api_key: str  # the secret the run was given (never to be shown)
    served_as_of: datetime | None  # the instant the fakes' clocks showed


def revops(
    *args: str, home: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``revops <args>`` on ``home`` (no ``DAGSTER_HOME``: the home's own instance)."""
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


def api_run(tmp_path_factory: pytest.TempPathFactory) -> ApiRun:
    """The session's ``revops run --source api`` of the api-mode company."""

    def build(root: Path) -> None:
        drop = root / "drop"
        generate(drop, customers=30, months=6, seed=11, progress=False)  # 6 differ as of today
        served = serve_all(drop, FAULTS)
        try:
            proc = revops("run", "--source", "api", home=root / "home", extra_env=served.env)
        finally:
            served.stop()
        as_of = served.as_of
        outcome = {
            "returncode": proc.returncode,
            "stdout": proc.stdout,
            "stderr": proc.stderr,
            "stripe_api_key": served.env["STRIPE_API_KEY"],
            "served_as_of": as_of.isoformat() if as_of is not None else None,
        }
        (root / "outcome.json").write_text(json.dumps(outcome), encoding="utf-8")

    root = shared_build(tmp_path_factory, "api-run", build)
    outcome = json.loads((root / "outcome.json").read_text(encoding="utf-8"))
    as_of = outcome["served_as_of"]
    return ApiRun(
        drop=root / "drop",
        home=root / "home",
        returncode=outcome["returncode"],
        stdout=outcome["stdout"],
        stderr=outcome["stderr"],
        stripe_api_key=outcome["stripe_api_key"],
        served_as_of=datetime.fromisoformat(as_of) if as_of is not None else None,
    )
