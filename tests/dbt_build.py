"""Helpers of the dbt tests: load a drop into a warehouse, run the real dbt, read the marts.

Every test runs the project's own ``dbt`` (the one beside this Python) in a subprocess, in a
temporary home (its working directory, ``REVOPS_HOME=.``: the profile's warehouse is
``./warehouse.duckdb``, opened where dbt was started), with its artifacts and logs kept in
that home.

The parse is shared: dbt re-parses the whole project (some 10 s of CPU) unless the target
directory holds a parse made with the same profile, vars and ``dbt_project.yml`` environment
variables. A home's warehouse path is written the same (``./warehouse.duckdb``) in every home,
so the first parse of a test session (per configuration: the ``REVOPS_*`` variables a test
sets) is kept (``share_parses_in``) and handed to every later invocation; dbt still checks it
against every file of the project and re-parses what changed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from drops import CompanyAt
from shared import shared_build

from connectors.load.files_mode import load_drop
from connectors.load.warehouse import connect
from connectors.sandbox import generate

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


PARSE = "partial_parse.msgpack"
_parses: Path | None = None  # where the session's parses are kept (share_parses_in)


def share_parses_in(directory: Path) -> None:
    """Keep the first parse of each configuration in ``directory`` and start every later dbt
    invocation from it (a directory every xdist worker of the session sees)."""
    global _parses
    directory.mkdir(parents=True, exist_ok=True)
    _parses = directory


def _shared_parse(env: Mapping[str, str]) -> Path | None:
    """The session's parse for this configuration (the ``REVOPS_*`` settings dbt reads)."""
    if _parses is None:
        return None
    settings = sorted((k, v) for k, v in env.items() if k.startswith(("REVOPS_", "DBT_")))
    key = hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:16]
    return _parses / f"{key}.msgpack"


def _start_from_shared_parse(target: Path, shared: Path | None) -> None:
    if shared is not None and shared.is_file():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared, target / PARSE)


def _keep_parse(target: Path, shared: Path | None) -> None:
    """Keep this invocation's parse as the configuration's first (written whole, renamed)."""
    if shared is None or shared.exists() or not (target / PARSE).is_file():
        return
    partial = shared.with_name(f".{shared.name}.{os.getpid()}.tmp")
    shutil.copyfile(target / PARSE, partial)
    os.replace(partial, shared)


def dbt(
    home: Path, *args: str, timeout: int = 600, extra_env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``dbt <args>`` on ``home``'s warehouse; artifacts in ``home``/dbt-target.

    ``extra_env``: settings an export needs (link fields, org currency...), as a user sets them.
    """
    # dbt opens the profile's path ({{ env_var('REVOPS_HOME') }}/warehouse.duckdb) relative to
    # the directory it was started in: home.
    env = {**os.environ, "REVOPS_HOME": ".", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("REVOPS_REPORTING_CURRENCY", None)
    env.update(extra_env or {})
    home = home.absolute()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dbt-target"
    shared = _shared_parse(env)
    _start_from_shared_parse(target, shared)
    proc = subprocess.run(
        [
            str(DBT),
            *args,
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
            "--target-path",
            str(target),
            "--log-path",
            str(home / "dbt-logs"),
            # dbt.log at its default (debug) level is some 30,000 lines a build, 10% of the
            # build's CPU; no test reads it, and warnings and errors are still kept there.
            "--log-level-file",
            "warn",
        ],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    _keep_parse(target, shared)
    return proc


def dbt_build(home: Path) -> subprocess.CompletedProcess[str]:
    """``dbt build`` (every model, data test and unit test); fails the test on an error."""
    proc = dbt(home, "build")
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc


def built_company(
    tmp_path_factory: pytest.TempPathFactory, company: CompanyAt
) -> tuple[Path, Path]:
    """The drop of ``company`` and a home with it loaded and built (``dbt build``, every test
    passed), made once per test session for every test that asks for the same company
    (``shared.shared_build``). Read them; copy the home to change it."""
    name = "built-" + "-".join(
        f"{k}={v.strftime('%Y%m%dT%H%M%S') if isinstance(v, datetime) else v}"
        for k, v in sorted(company.items())
    )

    def build(root: Path) -> None:
        generate(root / "drop", progress=False, **company)
        load(root / "drop", root / "home")
        dbt_build(root / "home")

    root = shared_build(tmp_path_factory, name, build)
    return root / "drop", root / "home"


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
