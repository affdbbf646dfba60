"""api mode and files mode on the same generated company produce identical raw tables.

Real fake servers on loopback speak each vendor's protocol; the vendors' SDKs extract; the
pages land and load through the same loader as a drop's files. Compared: every raw table,
every column but the batch bookkeeping (a drop file is one batch, an API page is another).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from connectors.api.retry import RetryPolicy
from connectors.load.api_mode import (
    NetSuiteSource,
    SalesforceSource,
    StripeSource,
    load_api_system,
)
from connectors.load.files_mode import load_drop
from connectors.load.warehouse import connect
from connectors.sandbox import generate
from connectors.sandbox.fake_netsuite import FakeNetSuite
from connectors.sandbox.fake_salesforce import FakeSalesforce
from connectors.sandbox.fake_stripe import start_fake_stripe
from connectors.sandbox.faults import FAULTS

pytestmark = pytest.mark.integration

KEY = "sk_test_sandbox_0123456789"
BOOKKEEPING = {"_batch_id", "_line", "quarantined_at"}
FAST = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05)


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("company")
    generate(out, customers=100, months=8, seed=5, progress=False)
    return out


@pytest.fixture(scope="module")
def files_warehouse(drop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("files_home")
    con = connect(home / "warehouse.duckdb")
    load_drop(con, home, drop)
    con.close()
    return home / "warehouse.duckdb"


@pytest.fixture(scope="module")
def fakes(drop: Path) -> Iterator[dict]:
    stripe = start_fake_stripe(drop, KEY)
    with FakeSalesforce(drop, page_size=50) as sf, FakeNetSuite(drop, max_rows=2000) as ns:
        yield {"stripe": stripe, "salesforce": sf, "netsuite": ns}
    stripe.stop()


def sources(drop: Path, fakes: dict, timeout: float = 30.0) -> dict:
    sf, ns = fakes["salesforce"], fakes["netsuite"]
    return {
        "salesforce": SalesforceSource(sf.url, sf.client_id, sf.client_secret, sf.cert, timeout),
        "stripe": StripeSource(
            KEY,
            fakes["stripe"].url,
            usage_export=drop / "stripe" / "meter_events.jsonl",
            timeout=timeout,
        ),
        "netsuite": NetSuiteSource(
            ns.url,
            ns.account_id,
            ns.consumer_key,
            ns.consumer_secret,
            ns.token_id,
            ns.token_secret,
            ns.cert,
            timeout,
        ),
    }


def run_api(home: Path, drop: Path, fakes: dict, timeout: float = 30.0) -> Path:
    con = connect(home / "warehouse.duckdb")
    for system, source in sources(drop, fakes, timeout).items():
        load_api_system(con, home, system, source, policy=FAST)
    con.close()
    return home / "warehouse.duckdb"


def assert_same_raw_tables(a: Path, b: Path) -> None:
    con = duckdb.connect(str(a), read_only=True)
    con.execute(f"ATTACH '{b}' AS other (READ_ONLY)")
    tables = con.sql(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name IN "
        "('raw_salesforce', 'raw_stripe', 'raw_netsuite') ORDER BY 1"
    ).fetchall()
    assert len(tables) == 32
    for (table,) in tables:
        cols = [
            c
            for (c,) in con.sql(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                f"AND schema_name || '.' || table_name = '{table}'"
            ).fetchall()
            if c not in BOOKKEEPING
        ]
        quoted = ", ".join(f'"{c}"' for c in cols if c != "_payload")
        mine, theirs = f"SELECT {quoted} FROM {table}", f"SELECT {quoted} FROM other.{table}"
        diff = con.sql(f"({mine} EXCEPT ALL {theirs}) UNION ALL ({theirs} EXCEPT ALL {mine})")
        assert diff.fetchall() == [], table
        # Payloads are compared as JSON values: key order inside an object is not data.
        if "_payload" in cols:
            assert canonical_payloads(con, table) == canonical_payloads(con, f"other.{table}"), (
                table
            )


def canonical_payloads(con: duckdb.DuckDBPyConnection, table: str) -> Counter[str]:
    rows = con.sql(f"SELECT _payload::VARCHAR FROM {table}").fetchall()
    return Counter(json.dumps(json.loads(p), sort_keys=True) for (p,) in rows)


def test_api_mode_equals_files_mode(
    drop: Path, fakes: dict, files_warehouse: Path, tmp_path: Path
) -> None:
    api_warehouse = run_api(tmp_path / "api", drop, fakes)
    assert_same_raw_tables(files_warehouse, api_warehouse)


def test_api_mode_equals_files_mode_while_every_fault_fires(
    drop: Path, fakes: dict, files_warehouse: Path, tmp_path: Path
) -> None:
    for fake in fakes.values():
        fake.faults.slow_seconds = 1.5  # past the client's 1 s timeout
        for fault in FAULTS:
            fake.faults.arm(fault, 1)
    api_warehouse = run_api(tmp_path / "api", drop, fakes, timeout=1.0)
    for name, fake in fakes.items():
        left = fake.faults.pending()
        left.pop("expired_session", None) if name == "stripe" else None
        assert left == {}, (name, left)  # every armed fault actually fired
    assert_same_raw_tables(files_warehouse, api_warehouse)


def test_second_api_run_is_incremental_and_changes_nothing(
    drop: Path, fakes: dict, files_warehouse: Path, tmp_path: Path
) -> None:
    home = tmp_path / "api"
    run_api(home, drop, fakes)
    con = connect(home / "warehouse.duckdb")
    stored = dict(
        con.sql("SELECT system || '/' || object, cursor FROM raw_meta.cursors").fetchall()
    )
    assert stored["stripe/invoices"].isdigit() and "T" in stored["salesforce/Opportunity"]
    before = con.sql("SELECT count(*) FROM raw_meta.batches").fetchall()[0][0]
    con.close()
    run_api(home, drop, fakes)
    con = connect(home / "warehouse.duckdb", read_only=True)
    # The incremental run re-reads at most the records at the cursor instant, and loads them
    # as the same versions: nothing in any raw table changes.
    after = con.sql("SELECT sum(loaded) FROM raw_meta.batches").fetchall()[0][0]
    assert con.sql("SELECT count(*) FROM raw_meta.batches").fetchall()[0][0] >= before
    assert after is not None
    con.close()
    assert_same_raw_tables(files_warehouse, home / "warehouse.duckdb")
