"""Conformance: the same company in every export dialect publishes the same numbers.

A baseline drop is generated, then rewritten in each dialect real exports have
(``connectors.sandbox.dialects``: Stripe objects of API versions before 2025-03-31, null
fields omitted, keys in any order, Salesforce ids in 15 characters, an org without
multi-currency, a NetSuite account without OneWorld, rate rows without ids, a meter no price
uses, CRLF, byte-order marks, gzip, link fields under other names …). Each is run through the
real pipeline with the configuration its user would set, and compared with the baseline:

- dialects that change what the raw records say are run end to end (load, ``dbt build``,
  checks, snapshot) and every published row of ``mrr_monthly``, ``mrr_bridge``,
  ``saas_metrics`` and the open exception queue must equal the baseline's, cell by cell;
- dialects that only change how files are written must give the baseline's raw layer,
  every typed column of every raw table (the rest of the pipeline reads nothing else), and
  they all run end to end once more inside the combined ``all`` drop.

Defect classes end with the expected sentence: a file rejected wholesale, a currency without
exchange rates, an id that resolves nowhere.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conformance import (
    Published,
    assert_same_published,
    dbt_build,
    load,
    raw_layer,
    run_pipeline,
)
from drops import QuietCompany, sync_manifest

from connectors.errors import SourceDropError
from connectors.sandbox.dialects import apply_dialects
from connectors.sandbox.generate import generate
from reconciliation.source_gaps import explain_failed_tests

pytestmark = [pytest.mark.integration, pytest.mark.conformance]

SIZE: QuietCompany = {
    "customers": 120,
    "months": 12,
    "seed": 5,
    "anomaly_rate": 0.05,
    "progress": False,
}

Baseline = tuple[Path, Published, Path]  # drop, what it published, its warehouse
SingleEntity = tuple[Path, Published]
Record = dict[str, Any]

# Dialects that change what the records say: run end to end against the baseline.
CONTENT = ["stripe-legacy", "unpriced-meter", "sf-15", "ns-minimal", "ns-rate-no-id"]
# Dialects that change how records are written: the raw layer must be the baseline's.
WRITING = [
    "omit-nulls",
    "shuffle-keys",
    "oldest-first",
    "crlf",
    "bom",
    "trailing-blank",
    "gzip",
    "sf-modstamp-z",
    "link-fields",
]
# Dialects that need a company with one entity and one currency.
SINGLE_ENTITY = ["sf-single-currency", "ns-no-oneworld"]


def variant(base: Path, where: Path, names: list[str]) -> tuple[Path, dict[str, str]]:
    drop = where / "drop"
    shutil.copytree(base, drop)
    env = apply_dialects(drop, names, seed=7)
    return drop, env


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    root = tmp_path_factory.mktemp("baseline")
    drop = root / "drop"
    generate(drop, **SIZE)
    snapshot = run_pipeline(drop, root / "home")
    return drop, Published.read(snapshot), root / "home" / "warehouse.duckdb"


@pytest.fixture(scope="module")
def single_entity(tmp_path_factory: pytest.TempPathFactory) -> SingleEntity:
    root = tmp_path_factory.mktemp("single")
    drop = root / "drop"
    generate(drop, entities=["US"], **SIZE)
    return drop, Published.read(run_pipeline(drop, root / "home"))


@pytest.mark.parametrize("dialect", CONTENT)
def test_content_dialect_publishes_the_baseline(
    dialect: str, baseline: Baseline, tmp_path: Path
) -> None:
    base, expected, _ = baseline
    drop, env = variant(base, tmp_path, [dialect])
    assert_same_published(expected, Published.read(run_pipeline(drop, tmp_path / "home", env)))


@pytest.mark.parametrize("dialect", WRITING)
def test_writing_dialect_loads_the_baseline_raw_layer(
    dialect: str, baseline: Baseline, tmp_path: Path
) -> None:
    base, _, base_warehouse = baseline
    drop, env = variant(base, tmp_path, [dialect])
    home = tmp_path / "home"
    load(drop, home, env)
    # link-fields renames the link keys inside the metadata objects: those stay as written.
    ignore = frozenset({"metadata"}) if dialect == "link-fields" else frozenset()
    expected = raw_layer(base_warehouse, ignore)
    actual = raw_layer(home / "warehouse.duckdb", ignore)
    differing = [t for t in expected if expected[t] != actual.get(t)]
    assert not differing, differing
    assert sum(len(rows) for rows in actual.values()) > 1000


def test_every_dialect_at_once_publishes_the_baseline(baseline: Baseline, tmp_path: Path) -> None:
    base, expected, _ = baseline
    drop, env = variant(base, tmp_path, ["all"])
    applied = json.loads((drop / "manifest.json").read_text())["dialects"]
    assert set(CONTENT + WRITING) <= set(applied)
    assert_same_published(expected, Published.read(run_pipeline(drop, tmp_path / "home", env)))


@pytest.mark.parametrize("dialects", [[d] for d in SINGLE_ENTITY] + [["all"]])
def test_single_entity_dialects_publish_the_baseline(
    dialects: list[str], single_entity: SingleEntity, tmp_path: Path
) -> None:
    base, expected = single_entity
    drop, env = variant(base, tmp_path, dialects)
    if dialects == ["all"]:
        applied = json.loads((drop / "manifest.json").read_text())["dialects"]
        assert set(SINGLE_ENTITY) <= set(applied)
    assert_same_published(expected, Published.read(run_pipeline(drop, tmp_path / "home", env)))


# --- defect classes: each ends with its sentence -------------------------------------------


def _rewrite(path: Path, change: Callable[[Record], Record | None]) -> None:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    kept = [r for r in (change(r) for r in records) if r is not None]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    sync_manifest(path.parents[1])


def test_a_file_rejected_wholesale_stops_the_load_naming_file_rule_and_count(
    baseline: Baseline, tmp_path: Path
) -> None:
    base, _, _ = baseline
    drop = tmp_path / "drop"
    shutil.copytree(base, drop)
    # Another exporter writes the rate as a JSON number, not NetSuite's string.
    _rewrite(
        drop / "netsuite" / "currencyrate.jsonl",
        lambda r: {**r, "exchangerate": float(r["exchangerate"])},
    )
    n = len((drop / "netsuite" / "currencyrate.jsonl").read_text().splitlines())
    with pytest.raises(SourceDropError) as err:
        load(drop, tmp_path / "home", {})
    sentence = str(err.value)
    assert "netsuite/currencyrate.jsonl" in sentence
    assert f"{n:,} of {n:,} records rejected" in sentence
    assert "exchangerate must be a number written as a string" in sentence
    assert "\n" not in sentence


def test_a_currency_without_rates_is_named_with_its_file_and_dates(
    baseline: Baseline, tmp_path: Path
) -> None:
    base, _, _ = baseline
    drop = tmp_path / "drop"
    shutil.copytree(base, drop)
    euro = next(
        r["id"]
        for r in map(json.loads, (drop / "netsuite" / "currency.jsonl").read_text().splitlines())
        if r["symbol"] == "EUR"
    )
    _rewrite(
        drop / "netsuite" / "currencyrate.jsonl",
        lambda r: None if euro in (r["basecurrency"], r["transactioncurrency"]) else r,
    )
    home = tmp_path / "home"
    load(drop, home, {})
    proc = dbt_build(home, {})
    assert proc.returncode != 0
    results = json.loads((home / "dbt-target" / "run_results.json").read_text())["results"]
    failed = [r["unique_id"].split(".")[2] for r in results if r["status"] in ("fail", "error")]
    assert any(name.startswith("fx_rate_available") for name in failed), failed
    sentences = explain_failed_tests(str(home / "warehouse.duckdb"), failed, "USD")
    assert len(sentences) == 1, sentences
    assert sentences[0].startswith(
        "netsuite/currencyrate.jsonl has no EUR->USD exchange rate at all, but "
    )
    assert "add EUR rates into USD from" in sentences[0]


def test_an_id_that_resolves_nowhere_is_quarantined_with_its_sentence(
    baseline: Baseline, tmp_path: Path
) -> None:
    base, _, _ = baseline
    drop = tmp_path / "drop"
    shutil.copytree(base, drop)
    path = drop / "stripe" / "subscriptions.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[0])
    record["items"]["data"][0]["price"]["id"] = "price_Nowhere000000"
    lines[0] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    home = tmp_path / "home"
    load(drop, home, {})  # one record, not the file: the load goes on
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    every = con.sql("SELECT file, line, record_id, rule FROM raw_stripe.quarantine").fetchall()
    con.close()
    rows = [r for r in every if r[0].endswith("stripe/subscriptions.jsonl")]
    assert [(r[1], r[2]) for r in rows] == [(1, record["id"])]
    assert "price_id price_Nowhere000000 does not resolve to any prices record" in rows[0][3]
    # its invoices (and their payments) wait with it, each saying why
    held = [r for r in every if r not in rows]
    assert held and all(r[3].startswith("held with ") for r in held)
    assert any(r[3].startswith(f"held with subscriptions {record['id']}") for r in held)


@pytest.mark.e2e
def test_revops_run_on_the_combined_drop_publishes_the_baseline(
    baseline: Baseline, tmp_path: Path
) -> None:
    """The same through the product's front door: ``revops run`` (a Dagster run), with the
    settings such an export needs in the environment, as a user would set them."""
    import os
    import subprocess
    import sys

    base, expected, _ = baseline
    drop, env = variant(base, tmp_path, ["all"])
    home = tmp_path / "home"
    full = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    full.update(env, REVOPS_HOME=str(home))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "revops"), "run", "--source-dir", str(drop)],
        env=full,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert_same_published(expected, Published.read(home / "serving" / "revenue.duckdb"))
