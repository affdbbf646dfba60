"""Each invariant test (docs/revenue-metrics.md, "Invariants") fails loudly on a broken mart.

One 300-customer drop is built once (the session's build of test_dbt_truth's 300-seed42,
``dbt_build.built_company``, copied); for every invariant the pristine warehouse is restored,
one mart row is corrupted the way a bug would corrupt it, and the invariant's test alone is
run with the real ``dbt build --select <test>``: it must fail, naming the test, while the
same test passed in the full build of the pristine warehouse.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_build import built_company, dbt, run_results

pytestmark = pytest.mark.integration

# invariant test -> statements that break exactly what it guards
CORRUPTIONS = {
    # 1: a month missing in the middle of a customer's history
    "assert_mrr_monthly_one_row_per_customer_month": """
        DELETE FROM metrics.mrr_monthly WHERE (customer_id, month) = (
            SELECT (customer_id, month) FROM metrics.mrr_monthly
            WHERE NOT is_first_active_month ORDER BY customer_id, month LIMIT 1)
    """,
    # 2: an increase labelled as a contraction
    "assert_mrr_movements_match_changes": """
        UPDATE metrics.mrr_monthly SET movement = 'contraction' WHERE (customer_id, month) = (
            SELECT (customer_id, month) FROM metrics.mrr_monthly
            WHERE movement = 'expansion' ORDER BY customer_id, month LIMIT 1)
    """,
    # 3: a bridge that misses a cent
    "assert_mrr_bridge_closes": """
        UPDATE metrics.mrr_bridge SET fx = fx + 0.01 WHERE (month, entity) = (
            SELECT (month, entity) FROM metrics.mrr_bridge
            WHERE entity = 'ALL' ORDER BY month DESC LIMIT 1)
    """,
    # 4: a customer counted active without a movement bringing them in
    "assert_active_customers_roll_forward": """
        UPDATE metrics.mrr_bridge SET active_customers = active_customers + 1
        WHERE (month, entity) = (
            SELECT (month, entity) FROM metrics.mrr_bridge
            WHERE entity = 'US' ORDER BY month DESC LIMIT 1)
    """,
    # 5: a negative customer MRR
    "assert_mrr_non_negative_and_totals_agree": """
        UPDATE metrics.mrr_monthly SET mrr = -1 WHERE (customer_id, month) = (
            SELECT (customer_id, month) FROM metrics.mrr_monthly
            WHERE mrr > 0 ORDER BY customer_id, month LIMIT 1)
    """,
    # 6: gross retention above net retention (and above 100%)
    "assert_retention_bounds": """
        UPDATE metrics.saas_metrics SET grr_12m = nrr_12m + 0.5 WHERE (month, entity) = (
            SELECT (month, entity) FROM metrics.saas_metrics
            WHERE nrr_12m IS NOT NULL ORDER BY month DESC LIMIT 1)
    """,
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("invariants")
    # The session's build of this company (test_dbt_truth's 300-seed42), copied to corrupt.
    _, built = built_company(tmp_path_factory, {"customers": 300, "seed": 42})
    home = Path(shutil.copytree(built, root / "home"))
    passed = {r["unique_id"].split(".")[2] for r in run_results(home) if r["status"] == "pass"}
    assert set(CORRUPTIONS) <= passed
    shutil.copy(home / "warehouse.duckdb", root / "pristine.duckdb")
    return home


def restore(home: Path) -> None:
    shutil.copy(home.parent / "pristine.duckdb", home / "warehouse.duckdb")


def corrupt(home: Path, sql: str) -> int:
    """Run ``sql`` on the warehouse; returns the rows it changed."""
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


@pytest.mark.parametrize("test_name", sorted(CORRUPTIONS))
def test_invariant_fails_on_a_broken_mart(home: Path, test_name: str) -> None:
    restore(home)
    assert corrupt(home, CORRUPTIONS[test_name]) == 1
    broken = dbt(home, "build", "--select", test_name)
    print(f"\n{test_name}: exit {broken.returncode}")
    assert broken.returncode != 0
    assert "FAIL" in broken.stdout and test_name in broken.stdout
