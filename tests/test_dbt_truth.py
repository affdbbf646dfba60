"""metrics.mrr_monthly equals the sandbox's truth/mrr.csv, every cell, on real builds.

Each drop is generated, loaded into a real DuckDB warehouse and built with the real
``dbt build`` (every model, contract, data test and unit test), once per test session
(``dbt_build.built_company``: other tests read the same build). truth/mrr.csv is computed by
the generator from its own subscription timeline, not from the exported invoices, so it is
an independent oracle for the invoice-based MRR of the models (docs/revenue-metrics.md,
section "Invariants", 7).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dbt_build import built_company, differing, mrr_cells, run_results, truth_cells
from drops import CompanyAt

pytestmark = pytest.mark.integration

DROPS: dict[str, CompanyAt] = {
    "300-seed42": {"customers": 300, "seed": 42},
    "300-seed11-mid-month": {
        "customers": 300,
        "seed": 11,
        "months": 14,
        "as_of": datetime(2026, 3, 17, 9, 30, tzinfo=UTC),
    },
    "10000-seed7": {"customers": 10_000, "seed": 7},
}
SLOW = {"10000-seed7"}

Built = tuple[str, Path, Path]  # the drop's name, the drop, the home it was built in


@pytest.fixture(
    scope="module",
    params=[pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in DROPS],
)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    # Made once per session: test_dbt_invariants corrupts a copy of the 300-seed42 build.
    drop, home = built_company(tmp_path_factory, DROPS[request.param])
    return request.param, drop, home


def test_mrr_equals_truth_every_cell(built: Built) -> None:
    name, drop, home = built
    expected, actual = truth_cells(drop), mrr_cells(home)
    diff = differing(expected, actual)
    print(
        f"\n{name}: truth rows {len(expected)}, mrr_monthly rows {len(actual)}, "
        f"differing cells {len(diff)}"
    )
    for key in diff[:10]:
        print(f"  {key}: truth {expected.get(key)} ours {actual.get(key)}")
    assert len(expected) > 0
    assert len(diff) == 0


def test_dbt_build_passes_every_test(built: Built) -> None:
    """The build ran every model, contract, data test and unit test, and all passed."""
    name, _, home = built
    results = run_results(home)
    kinds = Counter(r["unique_id"].split(".")[0] for r in results)
    statuses = Counter(r["status"] for r in results)
    print(f"\n{name}: {dict(kinds)} {dict(statuses)}")
    assert kinds["model"] >= 55 and kinds["test"] >= 100 and kinds["unit_test"] >= 6
    assert set(statuses) <= {"success", "pass"}, [
        r["unique_id"] for r in results if r["status"] not in ("success", "pass")
    ]
