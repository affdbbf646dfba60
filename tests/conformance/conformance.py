"""Helpers of the conformance suite: run the pipeline on a drop, read what it publishes.

Every run is the real thing: the loader into a real DuckDB file, the project's own ``dbt
build`` in a subprocess, the reconciliation checks, the serving snapshot. The environment a
dialect needs (link-field names, the org currency …) is given to the load and to dbt
exactly as a user would set it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from dbt_build import dbt

from connectors.load.files_mode import load_drop
from connectors.load.warehouse import connect
from reconciliation.publish import publish_snapshot
from reconciliation.run import run_checks

# What the pipeline publishes and the suite compares, every column of every row.
PUBLISHED = ("metrics.mrr_monthly", "metrics.mrr_bridge", "metrics.saas_metrics")
EXCEPTION_COLUMNS = (
    "check_id, record_system, record_id, customer_id, entity, owner, severity, "
    "amount_at_risk_reporting, detail, status, discrepancy_at"
)
# Run bookkeeping: which batch or line a record came from, not what it says.
BOOKKEEPING = {"_payload", "_batch_id", "_line", "quarantined_at"}


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set ``env`` for the duration (the loader reads link-field names from it)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def dbt_build(home: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """The project's ``dbt build`` on ``home``'s warehouse with ``env`` set."""
    return dbt(home, "build", timeout=900, extra_env=env)


def load(drop: Path, home: Path, env: Mapping[str, str]) -> None:
    """Land and load ``drop`` into ``home``'s warehouse with ``env`` set."""
    with environment(env):
        con = connect(home / "warehouse.duckdb")
        try:
            load_drop(con, home, drop)
        finally:
            con.close()


def run_pipeline(drop: Path, home: Path, env: Mapping[str, str] | None = None) -> Path:
    """Load, build, reconcile and publish ``drop``; returns the serving snapshot's path."""
    env = dict(env or {})
    load(drop, home, env)
    proc = dbt_build(home, env)
    assert proc.returncode == 0, proc.stdout[-6000:]
    con = connect(home / "warehouse.duckdb")
    try:
        run_checks(con, run_id="conformance")
    finally:
        con.close()
    serving = home / "serving" / "revenue.duckdb"
    publish_snapshot(home / "warehouse.duckdb", serving)
    return serving


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(frozen=True)
class Published:
    """What a run published: every row of the marts and of the open exception queue."""

    tables: dict[str, Counter]
    exceptions: Counter

    @classmethod
    def read(cls, snapshot: Path) -> Published:
        con = duckdb.connect(str(snapshot), read_only=True)
        try:
            tables = {
                t: Counter(
                    tuple(_plain(v) for v in row)
                    for row in con.sql(f"SELECT * FROM {t}").fetchall()
                )
                for t in PUBLISHED
            }
            exceptions = Counter(
                tuple(_plain(v) for v in row)
                for row in con.sql(
                    f"SELECT {EXCEPTION_COLUMNS} FROM recon.exceptions WHERE status = 'open'"
                ).fetchall()
            )
        finally:
            con.close()
        return cls(tables, exceptions)


def differences(expected: Counter, actual: Counter, limit: int = 5) -> list[str]:
    """Rows in one multiset and not the other (a readable sample)."""
    missing = list((expected - actual).elements())[:limit]
    extra = list((actual - expected).elements())[:limit]
    return [f"missing {r}" for r in missing] + [f"unexpected {r}" for r in extra]


def assert_same_published(expected: Published, actual: Published) -> None:
    """Every cell of every published mart and every open exception equal."""
    problems = {
        t: differences(expected.tables[t], actual.tables[t])
        for t in PUBLISHED
        if expected.tables[t] != actual.tables[t]
    }
    if expected.exceptions != actual.exceptions:
        problems["recon.exceptions (open)"] = differences(expected.exceptions, actual.exceptions)
    assert not problems, json.dumps(problems, indent=1, default=str)[:8000]
    assert sum(expected.tables["metrics.mrr_monthly"].values()) > 0


def _normalise_json(value: Any) -> Any:
    """JSON compared by meaning: key order and null-valued keys do not matter."""
    if isinstance(value, dict):
        return tuple(sorted((k, _normalise_json(v)) for k, v in value.items() if v is not None))
    if isinstance(value, list):
        return tuple(_normalise_json(v) for v in value)
    return value


def raw_layer(warehouse: Path, ignore: frozenset[str] = frozenset()) -> dict[str, Counter]:
    """Every raw table's typed columns (bookkeeping and ``ignore`` aside), JSON columns by
    meaning."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.sql(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
            "WHERE schema_name IN ('raw_stripe', 'raw_salesforce', 'raw_netsuite') ORDER BY 1"
        ).fetchall()
        out = {}
        for (table,) in tables:
            cols = con.sql(
                "SELECT column_name, data_type FROM duckdb_columns() "
                f"WHERE schema_name || '.' || table_name = '{table}' ORDER BY column_index"
            ).fetchall()
            keep = [(c, t) for c, t in cols if c not in BOOKKEEPING | ignore]
            names = ", ".join(f'"{c}"' for c, _ in keep)
            rows = con.sql(f"SELECT {names} FROM {table}").fetchall()
            out[table] = Counter(
                tuple(
                    _normalise_json(json.loads(v)) if t == "JSON" and v is not None else _plain(v)
                    for v, (_, t) in zip(row, keep, strict=True)
                )
                for row in rows
            )
        return out
    finally:
        con.close()
