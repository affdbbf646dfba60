"""Our ``metrics.mrr_monthly`` against the pandas peer (or the sandbox truth), cell by cell.

A cell is one (customer_key, month, currency): ``customer_key`` is the CRM account id, or
``stripe:<customer id>`` for a customer no existing account claims; ``month`` is ``YYYY-MM``;
``currency`` is lower case (Stripe's spelling; the mart and truth/mrr.csv upper-case it).
MRR values are compared as exact ``Decimal``s: any difference, however small, differs, and
a cell present on one side only differs too. A ``multi``-currency cell has no local MRR
(``None``) and equals only another ``None``.

    python -m bench.peers.compare_mrr --warehouse W --peer P.parquet [--truth truth/mrr.csv]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

KEY = ["customer_key", "month", "currency"]
EXAMPLES = 5

OURS_SQL = """
SELECT coalesce(crm_account_id, 'stripe:' || billing_customer_id) AS customer_key,
       strftime(month, '%Y-%m') AS month,
       lower(currency) AS currency,
       CAST(mrr AS VARCHAR) AS mrr
FROM metrics.mrr_monthly
"""


def as_decimal(value: Any) -> Decimal | None:
    """An MRR value as an exact Decimal; None (a 'multi' cell, or a blank) stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else Decimal(repr(value))
    if not isinstance(value, int | str) and pd.isna(value):
        return None
    return Decimal(str(value))


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """The key columns as text (month ``YYYY-MM``, currency lower case), ``mrr`` as Decimal."""
    out = pd.DataFrame(
        {
            "customer_key": frame["customer_key"].astype(str),
            "month": frame["month"].astype(str).str[:7],
            "currency": frame["currency"].astype(str).str.lower(),
            "mrr": [as_decimal(v) for v in frame["mrr"]],
        }
    )
    duplicated = out.duplicated(KEY)
    if duplicated.any():
        example = out[duplicated].iloc[0].to_dict()
        raise ValueError(f"{int(duplicated.sum())} duplicated cells, e.g. {example}")
    return out


def ours(warehouse: Path) -> pd.DataFrame:
    """metrics.mrr_monthly of ``warehouse`` at the comparison grain (a plain read)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        frame = con.sql(OURS_SQL).df()
    finally:
        con.close()
    return normalise(frame)


def truth(path: Path) -> pd.DataFrame:
    """A sandbox drop's truth/mrr.csv at the comparison grain."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return normalise(frame.rename(columns={"crm_account_id": "customer_key"}))


def load(path: Path) -> pd.DataFrame:
    """A peer's output file (``.parquet`` or ``.csv``) at the comparison grain."""
    if path.suffix == ".parquet":
        return normalise(pd.read_parquet(path))
    return normalise(pd.read_csv(path, dtype=str, keep_default_na=False))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def compare(ours_df: pd.DataFrame, peer_df: pd.DataFrame) -> dict[str, Any]:
    """Every cell of either side compared exactly.

    Returns ``cells`` (the outer join's rows), ``differing_cells`` (value differs, or the
    cell is on one side only), ``only_ours``, ``only_peer`` and up to five ``examples``.
    """
    joined = normalise(ours_df).merge(
        normalise(peer_df), on=KEY, how="outer", suffixes=("_ours", "_peer"), indicator=True
    )
    only_ours = joined["_merge"] == "left_only"
    only_peer = joined["_merge"] == "right_only"
    values_differ = [a != b for a, b in zip(joined["mrr_ours"], joined["mrr_peer"], strict=True)]
    differs = only_ours | only_peer | pd.Series(values_differ, index=joined.index, dtype=bool)
    examples = [
        {
            **{k: row[k] for k in KEY},
            "ours": None if row["_merge"] == "right_only" else _text(row["mrr_ours"]),
            "peer": None if row["_merge"] == "left_only" else _text(row["mrr_peer"]),
            "side": {"left_only": "ours", "right_only": "peer"}.get(str(row["_merge"]), "both"),
        }
        for _, row in joined[differs].sort_values(KEY).head(EXAMPLES).iterrows()
    ]
    return {
        "cells": len(joined),
        "differing_cells": int(differs.sum()),
        "only_ours": int(only_ours.sum()),
        "only_peer": int(only_peer.sum()),
        "examples": examples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.compare_mrr", description=__doc__)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--peer", type=Path, required=True, help="the peer's .parquet or .csv")
    parser.add_argument("--truth", type=Path, help="a sandbox drop's truth/mrr.csv")
    args = parser.parse_args(argv)
    peer = load(args.peer)
    result = {"ours_vs_peer": compare(ours(args.warehouse), peer)}
    if args.truth:
        result["truth_vs_peer"] = compare(truth(args.truth), peer)
    print(json.dumps(result, indent=2))
    return 0 if all(r["differing_cells"] == 0 for r in result.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
