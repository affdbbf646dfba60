"""The datacompy peer of ``make bench``: on a tiny sandbox drop, datacompy's PolarsCompare and
our invoice_not_posted + invoice_amount_mismatch checks find the same records, and both find
exactly the drop's truth for those two checks.

Only the check models, their union and their parents are built (``dbt run`` of
``+check_populations``: no tests), to keep the test small.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_build import dbt, load

from bench.peers.datacompy_posting import CHECK_IDS, compare, main, ours, peer, truth
from connectors.sandbox import generate

pytestmark = pytest.mark.integration


def first_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = con.execute(sql).fetchone()
    assert row is not None, sql
    return row


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("bench-datacompy")
    drop, home = root / "drop", root / "home"
    generate(drop, customers=120, months=12, seed=21, anomaly_rate=0.05, progress=False)
    load(drop, home)
    proc = dbt(home, "run", "--select", "+check_populations")
    assert proc.returncode == 0, proc.stdout[-6000:]
    return drop, home


def test_peer_and_ours_find_the_same_records_and_the_truth(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    drop, home = built
    as_of = json.loads((drop / "manifest.json").read_text(encoding="utf-8"))["exported_at"]
    warehouse = home / "warehouse.duckdb"
    answers = {}
    for side in ("peer", "ours"):  # the harness's entry point: one JSON per side
        out = tmp_path / f"{side}.json"
        args = ["--warehouse", str(warehouse), "--as-of", as_of, "--side", side]
        assert main([*args, "--out", str(out)]) == 0
        answers[side] = json.loads(out.read_text(encoding="utf-8"))

    result = compare(answers["ours"], answers["peer"])
    assert result["same"], result
    expected = truth(drop / "truth" / "exceptions.csv")
    for check_id in CHECK_IDS:
        assert answers["peer"][check_id], f"no {check_id} case in the drop"
        assert answers["ours"][check_id] == answers["peer"][check_id] == expected[check_id]
    assert answers["peer"]["rows_compared"] > 0 and answers["ours"]["rows_compared"] > 0


def test_voided_postings_and_the_sla_are_read_alike(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    """Two cases the drop may not hold: a due invoice whose only posting is voided in NetSuite
    (not posted), and one inside the SLA whose posting is voided (not yet due)."""
    drop, home = built
    as_of = datetime.fromisoformat(
        json.loads((drop / "manifest.json").read_text(encoding="utf-8"))["exported_at"]
    )
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(home / "warehouse.duckdb", warehouse)
    sla_days = 20
    con = duckdb.connect(str(warehouse))
    posted = """SELECT i.invoice_id FROM core.invoices i
        JOIN core.erp_transactions t ON t.external_id = i.invoice_id
            AND t.type = 'CustInvc' AND NOT t.is_voided
        WHERE i.is_finalized AND i.total <> 0 AND {when}
        ORDER BY i.finalized_at, i.invoice_id LIMIT 1"""
    cutoff = f"TIMESTAMPTZ '{as_of.isoformat()}' - INTERVAL {sla_days} DAY"
    (overdue,) = first_row(con, posted.format(when=f"i.finalized_at <= {cutoff}"))
    (recent,) = first_row(con, posted.format(when=f"i.finalized_at > {cutoff}"))
    con.execute(
        "UPDATE core.erp_transactions SET is_voided = true "
        "WHERE type = 'CustInvc' AND external_id IN (?, ?)",
        [overdue, recent],
    )
    con.close()

    found_peer = peer(warehouse, as_of, sla_days=sla_days)
    found_ours = ours(warehouse, as_of, sla_days=sla_days)
    assert compare(found_ours, found_peer)["same"]
    assert overdue in found_peer["invoice_not_posted"]
    assert recent not in found_peer["invoice_not_posted"]
