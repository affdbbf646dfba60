"""Helpers of the dbt tests: load a drop into a warehouse, run the real dbt, read the marts.

Every test runs the project's own ``dbt`` (the one beside this Python) in a subprocess, with
``REVOPS_HOME`` pointing at a temporary home, and its artifacts and logs kept in that home.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import duckdb

from connectors.load.files_mode import load_drop
from connectors.load.warehouse import connect

REPO = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO / "dbt"
DBT = Path(sys.executable).parent / "dbt"

Cell = tuple[str, str, str]  # (crm account or 'stripe:<customer>', month, currency)


def load(drop: Path, home: Path) -> None:
    """Land and load ``drop`` into ``home``/warehouse.duckdb (the raw layer)."""
    con = connect(home / "warehouse.duckdb")
    try:
        load_drop(con, home, drop)
    finally:
        con.close()


def dbt(
    home: Path, *args: str, timeout: int = 600, extra_env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``dbt <args>`` on ``home``'s warehouse; artifacts in ``home``/dbt-target.

    ``extra_env``: settings an export needs (link fields, org currency...), as a user sets them.
    """
    env = {**os.environ, "REVOPS_HOME": str(home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("REVOPS_REPORTING_CURRENCY", None)
    env.update(extra_env or {})
    return subprocess.run(
        [
            str(DBT),
            *args,
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
            "--target-path",
            str(home / "dbt-target"),
            "--log-path",
            str(home / "dbt-logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def dbt_build(home: Path) -> subprocess.CompletedProcess[str]:
    """``dbt build`` (every model, data test and unit test); fails the test on an error."""
    proc = dbt(home, "build")
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc


def run_results(home: Path) -> list[dict]:
    """The results of the last dbt invocation in ``home``."""
    path = home / "dbt-target" / "run_results.json"
    return json.loads(path.read_text(encoding="utf-8"))["results"]


def mrr_cells(home: Path) -> dict[Cell, str | None]:
    """metrics.mrr_monthly keyed like truth/mrr.csv: (account or stripe:<id>, month, currency)."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.sql(
            """
            SELECT coalesce(crm_account_id, 'stripe:' || billing_customer_id),
                   strftime(month, '%Y-%m-%d'), currency, mrr
            FROM metrics.mrr_monthly
            """
        ).fetchall()
    finally:
        con.close()
    return {(k, m, c): None if v is None else f"{v:.2f}" for k, m, c, v in rows}


def truth_cells(drop: Path) -> dict[Cell, str]:
    """truth/mrr.csv of a sandbox drop."""
    with (drop / "truth" / "mrr.csv").open(encoding="utf-8") as fh:
        rows = csv.DictReader(fh)
        return {(r["crm_account_id"], r["month"], r["currency"]): r["mrr"] for r in rows}


def differing(expected: dict, actual: dict) -> list:
    """Keys whose values differ, in either direction (a missing row differs)."""
    return sorted(k for k in expected.keys() | actual.keys() if expected.get(k) != actual.get(k))
