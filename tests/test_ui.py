"""The Dagster UI as a person uses it: `dagster dev`, its GraphQL API, the lineage page."""

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
from pathlib import Path

import pytest
from browser import ARTIFACTS, open_browser
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from dagster_project.launch import write_instance_config

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
GROUPS = ("sources", "raw", "staging", "intermediate", "core", "metrics", "recon", "publish")
QUERY = "{ assetNodes { assetKey { path } dependencyKeys { path } groupName } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    home = tmp_path_factory.mktemp("ui")
    dagster_home = home / "dagster"
    write_instance_config(dagster_home)
    workspace = dagster_home / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: dagster_project.definitions\n"
        f"      location_name: revops\n      working_directory: {REPO}\n"
    )
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "REVOPS_HOME": str(home)}
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(workspace),
        ],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(home / "dagster-dev.log").open("w"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                nodes = graphql(port, QUERY)["data"]["assetNodes"]
                if nodes:
                    break
            except (OSError, KeyError, TypeError):
                pass
            assert proc.poll() is None, (home / "dagster-dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "dagster dev did not come up in 180 s"
            time.sleep(2)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # our own process group, by PID
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_graphql_lists_the_whole_asset_graph(ui: int) -> None:
    nodes = graphql(ui, QUERY)["data"]["assetNodes"]
    parents = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]}
        for n in nodes
    }
    children: dict[str, set[str]] = {}
    for child, ps in parents.items():
        for p in ps:
            children.setdefault(p, set()).add(child)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for nxt in children.get(todo.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    assert "source_drop" in parents["raw_stripe/invoices"]
    for raw in ("raw_stripe/invoices", "raw_salesforce/opportunity", "raw_netsuite/transaction"):
        staging = [c for c in children.get(raw, ()) if parents.get(c) is not None]
        assert staging, raw  # a dbt staging model reads it: no orphan source
        assert reaches(raw, "reconciliation"), raw
    assert "reconciliation" in parents["serving_snapshot"]
    assert reaches("metrics/mrr_monthly", "serving_snapshot")
    groups = {n["groupName"] for n in nodes}
    assert {"sources", "raw", "staging", "core", "metrics", "recon", "publish"} <= groups


def test_lineage_page_renders(ui: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dagster-lineage.png"
    with open_browser() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"http://127.0.0.1:{ui}/asset-groups", wait_until="domcontentloaded")
        page.get_by_text("Global asset lineage").wait_for(timeout=60_000)
        # The first-run community dialog comes a moment after the page; a person clicks
        # "Skip". On a loaded machine it can take a while, or a later session may not show it.
        skip = page.get_by_role("button", name="Skip")
        try:
            skip.wait_for(timeout=30_000)
            skip.click()
            skip.wait_for(state="hidden")
        except PlaywrightTimeout:
            pass
        # The graph draws one node per group (collapsed), left to right along the pipeline.
        nodes = {name: page.locator(f"svg >> text={name}").count() for name in GROUPS}
        page.screenshot(path=str(shot))
    assert all(n >= 1 for n in nodes.values()), nodes
    assert shot.stat().st_size > 30_000
