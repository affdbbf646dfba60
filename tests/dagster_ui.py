"""The Dagster UI as `make dev` serves it (`dg dev` on loopback), and its GraphQL API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster_project.launch import write_instance_config

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
READY = "{ assetNodes { assetKey { path } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    """The ``data`` of a GraphQL answer; an answer with ``errors`` fails with them."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    assert not answer.get("errors"), answer["errors"]
    return answer["data"]


@contextmanager
def dagster_ui(revops_home: Path, dagster_home: Path, log: Path) -> Iterator[int]:
    """``dg dev`` from the repository, as ``make dev`` runs it; yields its port.

    The UI is up when its GraphQL API lists the assets of the code location.
    """
    write_instance_config(dagster_home)
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "REVOPS_HOME": str(revops_home),
        "VIRTUAL_ENV": str(BIN.parent),
    }
    proc = subprocess.Popen(
        [str(BIN / "dg"), "dev", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if graphql(port, READY)["assetNodes"]:
                    break
            except (OSError, KeyError, TypeError, AssertionError):
                pass
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "dg dev did not come up in 240 s"
            time.sleep(2)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # our own process group, by PID
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
