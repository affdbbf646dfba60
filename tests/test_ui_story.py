"""The Dagster UI as a person uses it (`dg dev`, as `make dev`): the code location it serves,
its GraphQL API, the lineage page, and the business story of the runs an operator watches.

Two real runs (`revops run`) of a small sandbox company, on the last day of a month and the
day after, then the UI on their instance: every dbt model shows its rows, the metric models
MRR, ARR and active customers (and their history, drawn in the asset's metadata plots),
reconciliation its open exceptions and amount at risk, and the published assets their
freshness. Then a bad drop is offered: it launches nothing, and everything the UI shows is
still the good run's.

The first run is the session's reference run of the crash tests' company
(``crash.shared_reference``: its drop exported at 2026-06-30 on a fresh home), its home
copied; the second is the company's next day's drop (2026-07-01) run on the copy. One `dg dev`
serves every test (the location, the graph and the lineage page are the same on any home).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pytest
from browser import ARTIFACTS, open_browser
from crash import SharedReference
from dagster_ui import BIN, REPO, dagster_ui, graphql
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from shared import copy_home

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

MONTHS = ("2026-06", "2026-07")  # of the two runs' drops, in the order they ran
DBT_GROUPS = ("staging", "intermediate", "core", "metrics")
PUBLISHED = ("finance_report", "serving_snapshot")
METRIC_MODELS = ("mrr_monthly", "mrr_bridge", "saas_metrics")

ENTRY = """label __typename
    ... on IntMetadataEntry { intValue }
    ... on FloatMetadataEntry { floatValue }
    ... on TextMetadataEntry { text }"""
LATEST = f"""{{ assetNodes {{
    assetKey {{ path }} groupName
    assetMaterializations(limit: 1) {{ runId metadataEntries {{ {ENTRY} }} }}
    assetChecksOrError {{ ... on AssetChecks {{ checks {{
        name executionForLatestMaterialization {{ runId status }} }} }} }}
}} }}"""
HISTORY = f"""query History($path: [String!]!) {{
    assetNodes(assetKeys: [{{path: $path}}]) {{
        assetMaterializations(limit: 10) {{ runId metadataEntries {{ {ENTRY} }} }}
    }}
}}"""
FRESHNESS = """{ assetNodes(assetKeys: [{path: ["finance_report"]}, {path: ["serving_snapshot"]}]) {
    assetKey { path }
    internalFreshnessPolicy { ... on TimeWindowFreshnessPolicy { failWindowSeconds } }
    freshnessStatusInfo { freshnessStatus }
} }"""
RUNS = "{ runsOrError { ... on Runs { count results { runId status } } } }"
GROUPS = ("sources", "raw", "staging", "intermediate", "core", "metrics", "recon", "publish")
QUERY = "{ assetNodes { assetKey { path } dependencyKeys { path } groupName } }"
LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


@dataclass(frozen=True)
class Story:
    port: int
    home: Path
    root: Path
    good_run: str
    log: Path  # what `dg dev` wrote on stderr


def revops(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env |= {"REVOPS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    return subprocess.run(
        [str(BIN / "revops"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def run_id_of(done: subprocess.CompletedProcess[str]) -> str:
    """The run id from `revops run`'s ``run <id>: SUCCESS`` line."""
    lines = (done.stdout + done.stderr).splitlines()
    [line] = [s for s in lines if s.startswith("run ") and s.endswith(": SUCCESS")]
    return line.split()[1].rstrip(":")


@pytest.fixture(scope="module")
def story(
    tmp_path_factory: pytest.TempPathFactory, reference_company: SharedReference
) -> Iterator[Story]:
    root = tmp_path_factory.mktemp("story")
    home = copy_home(reference_company.ref.home, root / "home")
    done = revops("run", "--source-dir", str(reference_company.next_drop), home=home)
    assert done.returncode == 0, done.stderr[-3000:]
    good_run = run_id_of(done)
    log = root / "dg-dev.log"
    with dagster_ui(home, home / "dagster", log) as port:
        yield Story(port, home, root, good_run, log)


# --- the code location, its asset graph, the lineage page (once tests/test_ui.py) -------


def test_dg_dev_serves_the_revops_location_without_warnings(story: Story) -> None:
    entries = graphql(story.port, LOCATIONS)["workspaceOrError"]["locationEntries"]
    assert [(e["name"], e["loadStatus"]) for e in entries] == [("revops", "LOADED")]
    log = story.log.read_text()
    # `dagster dev` is superseded by `dg dev`; the project's venv is the active one; the
    # location name is the project's (no mismatch between dg and the defs-folder loader).
    for warning in ("SupersessionWarning", "does not match", "Warning"):
        assert warning not in log, log[-3000:]


def test_graphql_lists_the_whole_asset_graph(story: Story) -> None:
    nodes = graphql(story.port, QUERY)["assetNodes"]
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


def test_lineage_page_renders(story: Story) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dagster-lineage.png"
    with open_browser() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"http://127.0.0.1:{story.port}/asset-groups", wait_until="domcontentloaded")
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


# --- the story of the runs ---------------------------------------------------------------


def values(entries: list[dict]) -> dict[str, Any]:
    """Metadata entries as label -> value (numbers as numbers)."""
    out = {}
    for e in entries:
        out[e["label"]] = e.get("intValue", e.get("floatValue", e.get("text")))
    return out


def latest(port: int) -> dict[str, dict]:
    return {"/".join(n["assetKey"]["path"]): n for n in graphql(port, LATEST)["assetNodes"]}


def serving(story: Story, sql: str) -> list[tuple]:
    con = duckdb.connect(str(story.home / "serving" / "revenue.duckdb"), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def test_every_dbt_model_shows_its_row_count(story: Story) -> None:
    nodes = {k: n for k, n in latest(story.port).items() if n["groupName"] in DBT_GROUPS}
    assert len(nodes) >= 50
    con = duckdb.connect(str(story.home / "warehouse.duckdb"), read_only=True)
    try:
        for key, node in nodes.items():
            [materialization] = node["assetMaterializations"]
            shown = values(materialization["metadataEntries"]).get("dagster/row_count")
            schema, name = key.split("/")
            [(rows,)] = con.sql(f'SELECT count(*) FROM "{schema}"."{name}"').fetchall()
            assert shown == rows, (key, shown, rows)
    finally:
        con.close()
    # Views (the staging layer) are counted too, not only tables.
    assert (
        values(
            nodes["staging/stg_stripe__invoices"]["assetMaterializations"][0]["metadataEntries"]
        )["dagster/row_count"]
        > 0
    )


def test_metric_assets_show_mrr_arr_and_customers_with_their_history(story: Story) -> None:
    [(month, mrr, arr, active)] = serving(
        story,
        "SELECT month, mrr, arr, active_customers FROM metrics.saas_metrics "
        "WHERE entity = 'ALL' ORDER BY month DESC LIMIT 1",
    )
    nodes = latest(story.port)
    shown = values(nodes["metrics/saas_metrics"]["assetMaterializations"][0]["metadataEntries"])
    assert shown["month"] == f"{month:%Y-%m}" == MONTHS[-1]
    assert shown["mrr"] == pytest.approx(float(mrr))
    assert shown["arr"] == pytest.approx(float(arr)) == pytest.approx(12 * float(mrr))
    assert shown["active_customers"] == active > 0
    bridge = values(nodes["metrics/mrr_bridge"]["assetMaterializations"][0]["metadataEntries"])
    assert bridge["ending_mrr"] == pytest.approx(float(mrr))
    monthly = values(nodes["metrics/mrr_monthly"]["assetMaterializations"][0]["metadataEntries"])
    assert monthly["mrr"] == pytest.approx(float(mrr))
    assert monthly["active_customers"] == active

    # Numbers (not text), one per run: the history the metadata plots draw.
    history = graphql(story.port, HISTORY, {"path": ["metrics", "saas_metrics"]})
    points = [
        {e["label"]: e for e in m["metadataEntries"]}
        for m in history["assetNodes"][0]["assetMaterializations"]
    ]
    assert len(points) == 2
    assert all(p["mrr"]["__typename"] == "FloatMetadataEntry" for p in points)
    assert all(p["active_customers"]["__typename"] == "IntMetadataEntry" for p in points)
    assert [p["month"]["text"] for p in points] == list(reversed(MONTHS))


def test_reconciliation_shows_open_exceptions_and_amount_at_risk(story: Story) -> None:
    [(open_count, at_risk)] = serving(
        story,
        "SELECT count(*), coalesce(sum(amount_at_risk_reporting), 0) FROM recon.exceptions "
        "WHERE status = 'open'",
    )
    node = latest(story.port)["reconciliation"]
    entries = {e["label"]: e for e in node["assetMaterializations"][0]["metadataEntries"]}
    assert entries["open_exceptions"]["__typename"] == "IntMetadataEntry"
    assert entries["open_exceptions"]["intValue"] == open_count > 0
    assert entries["amount_at_risk_reporting"]["__typename"] == "FloatMetadataEntry"
    assert entries["amount_at_risk_reporting"]["floatValue"] == pytest.approx(float(at_risk))


def test_published_assets_are_flagged_when_older_than_a_day(story: Story) -> None:
    deadline = time.monotonic() + 180
    while True:  # the freshness daemon of `dg dev` evaluates every 30 s
        nodes = graphql(story.port, FRESHNESS)["assetNodes"]
        status = {n["assetKey"]["path"][0]: n["freshnessStatusInfo"] for n in nodes}
        if all(s and s["freshnessStatus"] == "HEALTHY" for s in status.values()):
            break
        assert time.monotonic() < deadline, status
        time.sleep(5)
    policies = {n["assetKey"]["path"][0]: n["internalFreshnessPolicy"] for n in nodes}
    assert policies == {name: {"failWindowSeconds": 86400} for name in PUBLISHED}


def test_screenshots_catalog_metric_plots_and_freshness(story: Story) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    catalog = ARTIFACTS / "dagster-asset-catalog.png"
    business = ARTIFACTS / "dagster-asset-catalog-business.png"
    plots = ARTIFACTS / "dagster-saas-metrics-plots.png"
    fresh = ARTIFACTS / "dagster-serving-snapshot-freshness.png"
    url = f"http://127.0.0.1:{story.port}"
    with open_browser() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.goto(f"{url}/assets", wait_until="domcontentloaded")
        page.get_by_text("core / customers").first.wait_for(timeout=90_000)
        skip = page.get_by_role("button", name="Skip")  # the first-run community dialog
        try:
            skip.wait_for(timeout=15_000)
            skip.click()
            skip.wait_for(state="hidden")
        except PlaywrightTimeout:
            pass
        page.get_by_text("Materialized").first.wait_for(timeout=60_000)
        loading = page.get_by_text(re.compile(r"^Loading"))
        for _ in range(60):  # the statuses of the rows in view arrive one batch at a time
            if loading.count() == 0:
                break
            page.wait_for_timeout(1_000)
        page.screenshot(path=str(catalog))

        # The catalog filtered to what the business reads: metrics, recon, publish.
        selection = quote("group:metrics or group:recon or group:publish")
        page.goto(f"{url}/assets?asset-selection={selection}", wait_until="domcontentloaded")
        page.get_by_text("serving_snapshot").first.wait_for(timeout=90_000)
        page.get_by_text("Materialized").first.wait_for(timeout=60_000)
        listed = [page.get_by_text(f"metrics / {m}").count() for m in METRIC_MODELS]
        page.screenshot(path=str(business))

        page.goto(f"{url}/assets/metrics/saas_metrics", wait_until="domcontentloaded")
        page.get_by_text("Row count").wait_for(timeout=90_000)
        page.get_by_role("button", name="Plots").click()
        page.get_by_text("Execution Duration").wait_for(timeout=60_000)
        # The Metadata section at the top: the plots of active customers, ARPA, ARR, MRR...
        page.get_by_role("button", name="Metadata").evaluate(
            "e => e.scrollIntoView({block: 'start'})"
        )
        page.wait_for_timeout(2_000)  # the charts animate in
        page.screenshot(path=str(plots))
        plotted = [page.get_by_text(name, exact=True).count() for name in ("arr", "mrr")]

        page.goto(f"{url}/assets/serving_snapshot", wait_until="domcontentloaded")
        page.get_by_text("Fails if more than 24 hours since last materialization").wait_for(
            timeout=90_000
        )
        page.get_by_text("Passing").first.wait_for(timeout=60_000)
        page.screenshot(path=str(fresh))
    for shot in (catalog, business, plots, fresh):
        assert shot.stat().st_size > 30_000, shot
    assert all(listed), listed
    assert all(plotted), plotted


def test_a_bad_drop_launches_nothing_and_the_ui_still_shows_the_good_run(story: Story) -> None:
    before = graphql(story.port, RUNS)["runsOrError"]
    assert before["results"][0]["runId"] == story.good_run

    bad = story.root / "not-a-drop"
    (bad / "stripe").mkdir(parents=True)
    (bad / "stripe" / "invoices.jsonl").write_text('{"id": "in_1"}\n')
    refused = revops("run", "--source-dir", str(bad), home=story.home)
    assert refused.returncode != 0
    last = [line for line in refused.stderr.splitlines() if line.strip()][-1]
    assert "manifest.json" in last

    after = graphql(story.port, RUNS)["runsOrError"]
    assert after["count"] == before["count"]  # no run was launched
    nodes = latest(story.port)
    assert len(nodes) >= 60
    checks = 0
    for key, node in nodes.items():
        [materialization] = node["assetMaterializations"]
        assert materialization["runId"] == story.good_run, key
        for check in node["assetChecksOrError"].get("checks", []):
            execution = check["executionForLatestMaterialization"]
            assert execution and execution["runId"] == story.good_run, (key, check["name"])
            checks += 1
    assert checks >= 150  # every dbt test and reconciliation check
    saas = nodes["metrics/saas_metrics"]["assetMaterializations"][0]["metadataEntries"]
    assert values(saas)["month"] == MONTHS[-1]
