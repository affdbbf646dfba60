"""The pandas MRR peer of ``make bench``: on a tiny sandbox drop, the notebook-style pandas MRR
computed from the raw tables equals our ``metrics.mrr_monthly`` and the drop's truth, every
cell, exactly.

Only ``metrics.mrr_monthly`` and its parents are built (``dbt run --select +mrr_monthly``), to
keep the test small. The drop is chosen to hold what the MRR rule has to get right: proration
credits and charges, discounted lines, trials, annual and quarterly prices, and invoices that
are not open or paid.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dbt_build import dbt, load

from bench.peers.compare_mrr import compare, ours, truth
from bench.peers.compare_mrr import load as load_peer
from bench.peers.pandas_mrr import main
from connectors.sandbox import generate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("bench-pandas-mrr")
    drop, home = root / "drop", root / "home"
    generate(drop, customers=80, months=12, seed=5, progress=False)
    load(drop, home)
    proc = dbt(home, "run", "--select", "+mrr_monthly")
    assert proc.returncode == 0, proc.stdout[-6000:]
    return drop, home


def test_the_drop_has_what_the_rule_must_handle(built: tuple[Path, Path]) -> None:
    _, home = built
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        counts = con.sql(
            """
            SELECT
                count(*) FILTER (WHERE l.proration AND l.amount < 0),
                count(*) FILTER (WHERE l.proration AND l.amount > 0),
                count(*) FILTER (WHERE json_array_length(l.discount_amounts) > 0),
                count(*) FILTER (WHERE l.amount = 0),
                count(*) FILTER (WHERE p."interval" = 'year'),
                count(*) FILTER (WHERE p.interval_count = 3),
                count(*) FILTER (WHERE i.status NOT IN ('open', 'paid'))
            FROM raw_stripe.invoice_lines AS l
            JOIN raw_stripe.invoices AS i ON l.invoice_id = i.id
            JOIN raw_stripe.prices AS p ON l.price_id = p.id
            """
        ).fetchall()[0]
    finally:
        con.close()
    assert all(n > 0 for n in counts), counts


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_peer_equals_ours_and_the_truth_every_cell(
    built: tuple[Path, Path], tmp_path: Path, suffix: str
) -> None:
    drop, home = built
    as_of = json.loads((drop / "manifest.json").read_text(encoding="utf-8"))["exported_at"]
    out = tmp_path / f"peer{suffix}"
    # the harness's entry point: the peer runs as its own process and writes a file
    args = ["--warehouse", str(home / "warehouse.duckdb"), "--as-of", as_of, "--out", str(out)]
    assert main(args) == 0
    peer = load_peer(out)

    result = compare(ours(home / "warehouse.duckdb"), peer)
    print(f"\nours vs peer: {result}")
    assert result["cells"] > 0
    assert result["differing_cells"] == 0, result
    assert result["only_ours"] == result["only_peer"] == 0

    against_truth = compare(truth(drop / "truth" / "mrr.csv"), peer)
    assert against_truth["differing_cells"] == 0, against_truth
    assert (peer["mrr"] > 0).sum() > 0 and (peer["mrr"] == 0).sum() > 0  # churned months too


def test_compare_counts_every_difference_exactly() -> None:
    def frame(rows: list[tuple[str, str, str, object]]) -> pd.DataFrame:
        return pd.DataFrame(rows, columns=["customer_key", "month", "currency", "mrr"])

    ours_df = frame(
        [
            ("a", "2026-01-01", "USD", Decimal("10.00")),
            ("a", "2026-02-01", "USD", Decimal("10.00")),
            ("b", "2026-01-01", "MULTI", None),
            ("c", "2026-01-01", "EUR", Decimal("5.00")),
        ]
    )
    peer_df = frame(
        [
            ("a", "2026-01", "usd", "10"),
            ("a", "2026-02", "usd", Decimal("10.01")),
            ("b", "2026-01", "multi", None),
            ("d", "2026-01", "eur", Decimal("1.00")),
        ]
    )
    result = compare(ours_df, peer_df)
    assert {k: result[k] for k in ("cells", "differing_cells", "only_ours", "only_peer")} == {
        "cells": 5,
        "differing_cells": 3,
        "only_ours": 1,
        "only_peer": 1,
    }
    assert result["examples"][0] == {
        "customer_key": "a",
        "month": "2026-02",
        "currency": "usd",
        "ours": "10.00",
        "peer": "10.01",
        "side": "both",
    }
