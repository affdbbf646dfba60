"""The Dagster UI as a person uses it: `dg dev` (make dev), its GraphQL API, the lineage page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import ARTIFACTS, open_browser
from dagster_ui import dagster_ui, graphql
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.e2e

GROUPS = ("sources", "raw", "staging", "intermediate", "core", "metrics", "recon", "publish")
QUERY = "{ assetNodes { assetKey { path } dependencyKeys { path } groupName } }"
LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


@pytest.fixture(scope="module")
def ui_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-log") / "dg-dev.log"


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory, ui_log: Path) -> Iterator[int]:
    home = tmp_path_factory.mktemp("ui")
    with dagster_ui(home, home / "dagster", ui_log) as port:
        yield port


def test_dg_dev_serves_the_revops_location_without_warnings(ui: int, ui_log: Path) -> None:
    entries = graphql(ui, LOCATIONS)["workspaceOrError"]["locationEntries"]
    assert [(e["name"], e["loadStatus"]) for e in entries] == [("revops", "LOADED")]
    log = ui_log.read_text()
    # `dagster dev` is superseded by `dg dev`; the project's venv is the active one; the
    # location name is the project's (no mismatch between dg and the defs-folder loader).
    for warning in ("SupersessionWarning", "does not match", "Warning"):
        assert warning not in log, log[-3000:]


def test_graphql_lists_the_whole_asset_graph(ui: int) -> None:
    nodes = graphql(ui, QUERY)["assetNodes"]
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
