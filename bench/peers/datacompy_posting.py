"""datacompy's ``PolarsCompare`` as a peer of our invoice → ERP posting checks.

The peer does what a careful analyst would do with datacompy: read the Stripe invoices and
the NetSuite invoices into polars with plain selects, join them on the Stripe invoice id and
compare total and currency, then read the two answers off the comparison:

* ``invoice_not_posted``: Stripe-only rows (``df1_unq_rows``) of invoices that are due a
  posting (total not zero) and are past the SLA at the as-of;
* ``invoice_amount_mismatch``: joined rows whose total (beyond the tolerance) or currency
  differs (``all_mismatch()``).

The populations mirror our two checks exactly: the Stripe side is every finalized invoice
(the mismatch check looks at every posted one, zero totals included; the not-posted rule adds
``total <> 0`` and the SLA cutoff); the ERP side is NetSuite's ``CustInvc`` rows that are not
voided (a voided posting is no posting), keyed by their external id. NetSuite rows whose
external id has no finalized Stripe invoice fall in ``df2_unq_rows`` and are not these checks'
business (``erp_orphan_posting`` is). Totals are compared in integer cents, so the tolerance
is applied exactly (``|a - b| <= 1`` cent) rather than on binary floats, where a difference of
exactly 0.01 can come out as 0.010000000000005 and fail.

``ours`` rebuilds our two check models (dbt views, ``dbt run``) with the SLA and tolerance
given, then runs only those two checks through :func:`reconciliation.run.run_checks`, the
code path being timed (``seconds``; the dbt run is ``dbt_seconds``); it writes the ``recon.*``
lifecycle tables and the two views of the warehouse it is given, which must be a
``warehouse.duckdb`` built by ``dbt build`` (every check model), so give it a copy. Each side
runs as its own process (the harness measures wall, CPU and RSS)::

    python -m bench.peers.datacompy_posting --warehouse W --as-of ISO --side peer --out P.json
    python -m bench.peers.datacompy_posting --warehouse W --as-of ISO --side ours --out O.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

CHECK_IDS = ("invoice_not_posted", "invoice_amount_mismatch")
SAMPLE = 5

STRIPE_SQL = """
SELECT invoice_id, currency, CAST(total * 100 AS BIGINT) AS total_cents, finalized_at
FROM core.invoices
WHERE is_finalized
"""
ERP_SQL = """
SELECT external_id AS invoice_id, currency, CAST(foreign_total * 100 AS BIGINT) AS total_cents
FROM core.erp_transactions
WHERE type = 'CustInvc' AND NOT is_voided
"""


def _utc(as_of: datetime) -> datetime:
    return as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)


def peer(
    warehouse: Path, as_of: datetime, sla_days: float = 2, tolerance: float = 0.01
) -> dict[str, Any]:
    """The two exception sets as datacompy's ``PolarsCompare`` finds them."""
    imported = time.perf_counter()
    import datacompy
    import polars as pl

    started = time.perf_counter()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        stripe = con.sql(STRIPE_SQL).pl()
        erp = con.sql(ERP_SQL).pl()
    finally:
        con.close()
    with warnings.catch_warnings():  # datacompy 1.1 still passes polars' old `join_nulls`
        warnings.filterwarnings("ignore", "the argument `join_nulls`", DeprecationWarning)
        cmp = datacompy.PolarsCompare(
            stripe,
            erp,
            join_columns="invoice_id",
            abs_tol={"total_cents": tolerance * 100, "default": 0},
            df1_name="stripe",
            df2_name="netsuite",
        )
    cutoff = _utc(as_of) - timedelta(days=sla_days)
    not_posted = cmp.df1_unq_rows.filter(
        (pl.col("total_cents") != 0)
        & (pl.col("finalized_at").dt.convert_time_zone("UTC") <= cutoff)
    )["invoice_id"]
    mismatch = cmp.all_mismatch()["invoice_id"]
    return {
        "side": "peer",
        "tool": f"datacompy {datacompy.__version__} PolarsCompare (polars {pl.__version__})",
        "invoice_not_posted": sorted(set(not_posted.to_list())),
        "invoice_amount_mismatch": sorted(set(mismatch.to_list())),
        "rows_compared": len(stripe) + len(erp),
        "rows": {
            "stripe": len(stripe),
            "netsuite": len(erp),
            "joined": len(cmp.intersect_rows),
            "stripe_only": len(cmp.df1_unq_rows),
            "netsuite_only": len(cmp.df2_unq_rows),
            "netsuite_duplicate_keys": int(erp["invoice_id"].is_duplicated().sum()),
        },
        "import_seconds": round(started - imported, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }


def build_checks(warehouse: Path, params: dict[str, float]) -> None:
    """``dbt run`` of the two check models on ``warehouse`` with ``params`` as their
    ``REVOPS_<CHECK>_<PARAM>`` overrides (the check models are views: only they change)."""
    from reconciliation.catalog import DBT_PROJECT_DIR

    if warehouse.name != "warehouse.duckdb":
        raise ValueError(f"{warehouse}: dbt's profile reads <home>/warehouse.duckdb only")
    beside = Path(sys.executable).parent / "dbt"
    dbt = str(beside) if beside.is_file() else (shutil.which("dbt") or "dbt")
    env = {**os.environ, **{k: repr(float(v)) for k, v in params.items()}}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    with tempfile.TemporaryDirectory(prefix="datacompy-dbt-") as scratch:
        proc = subprocess.run(
            [
                dbt,
                "run",
                "--select",
                *CHECK_IDS,
                "--vars",
                json.dumps({"revops_home": str(warehouse.resolve().parent)}),
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                "--target-path",
                str(Path(scratch) / "target"),
                "--log-path",
                str(Path(scratch) / "logs"),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"dbt run of {', '.join(CHECK_IDS)} failed:\n{proc.stdout[-4000:]}")


def ours(
    warehouse: Path, as_of: datetime, sla_days: float = 2, tolerance: float = 0.01
) -> dict[str, Any]:
    """The two exception sets as our checks find them: their models rebuilt with
    ``sla_days`` and ``tolerance`` (``REVOPS_INVOICE_NOT_POSTED_SLA_DAYS``,
    ``REVOPS_INVOICE_AMOUNT_MISMATCH_TOLERANCE``), a real ``run_checks`` of just those two
    checks (it writes ``recon.*`` of ``warehouse``), then its open exceptions.

    Our checks judge as of the warehouse's as-of instant (``intermediate.int_as_of``):
    ``as_of`` must be it."""
    imported = time.perf_counter()
    from connectors.load.warehouse import connect
    from reconciliation.catalog import get
    from reconciliation.run import latest_as_of, run_checks

    built = time.perf_counter()
    build_checks(
        warehouse,
        {
            "REVOPS_INVOICE_NOT_POSTED_SLA_DAYS": sla_days,
            "REVOPS_INVOICE_AMOUNT_MISMATCH_TOLERANCE": tolerance,
        },
    )
    started = time.perf_counter()
    checks = tuple(get(c) for c in CHECK_IDS)
    run_id = f"bench-datacompy-{uuid.uuid4()}"
    con = connect(warehouse)
    try:
        judged = _utc(datetime.fromisoformat(latest_as_of(con).replace("Z", "+00:00")))
        if judged != _utc(as_of):
            raise ValueError(f"the warehouse is as of {judged:%Y-%m-%dT%H:%M:%SZ}, not {as_of}")
        summaries = run_checks(con, run_id=run_id, checks=checks)
        # After a run, the open exceptions of a check that ran are exactly what it found.
        rows = con.execute(
            "SELECT check_id, record_id FROM recon.exceptions "
            "WHERE status = 'open' AND last_run_id = ? AND check_id IN (?, ?)",
            [run_id, *CHECK_IDS],
        ).fetchall()
    finally:
        con.close()
    found: dict[str, set[str]] = {c: set() for c in CHECK_IDS}
    for check_id, record_id in rows:
        found[check_id].add(record_id)
    checked = {s.check_id: s.records_checked for s in summaries}
    return {
        "side": "ours",
        "tool": "reconciliation.run.run_checks (dbt views, DuckDB SQL)",
        **{c: sorted(found[c]) for c in CHECK_IDS},
        "rows_compared": sum(checked.values()),
        "rows": {f"{c}_checked": checked.get(c, 0) for c in CHECK_IDS},
        "import_seconds": round(built - imported, 3),
        "dbt_seconds": round(started - built, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }


def compare(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """Per check: the set sizes, their overlap and a sample of each side's extras."""
    out: dict[str, Any] = {}
    same = True
    for check_id in CHECK_IDS:
        a, b = set(ours[check_id]), set(peer[check_id])
        same = same and a == b
        out[check_id] = {
            "ours": len(a),
            "peer": len(b),
            "both": len(a & b),
            "only_ours": sorted(a - b)[:SAMPLE],
            "only_peer": sorted(b - a)[:SAMPLE],
        }
    out["same"] = same
    return out


def truth(exceptions_csv: Path) -> dict[str, list[str]]:
    """A sandbox drop's ``truth/exceptions.csv``, restricted to the two checks."""
    import csv

    found: dict[str, set[str]] = {c: set() for c in CHECK_IDS}
    with exceptions_csv.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["check_id"] in found:
                found[row["check_id"]].add(row["record_id"])
    return {c: sorted(found[c]) for c in CHECK_IDS}


def _as_of(value: str | None, warehouse: Path) -> datetime:
    if value is None:  # the newest export loaded, as run_checks defaults to
        from reconciliation.run import latest_as_of

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            value = latest_as_of(con)
        finally:
            con.close()
    return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers.datacompy_posting",
        description="Find invoice_not_posted + invoice_amount_mismatch with datacompy (peer) "
        "or with our checks (ours) and write the id sets as JSON.",
    )
    parser.add_argument("--warehouse", type=Path, required=True, help="a COPY (ours writes)")
    parser.add_argument("--as-of", help="ISO instant (default: the newest export loaded)")
    parser.add_argument("--side", choices=("peer", "ours"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sla-days", type=float, default=2)
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args(argv)
    if not args.warehouse.exists():
        parser.error(f"no warehouse at {args.warehouse}")
    side = peer if args.side == "peer" else ours
    result = side(
        args.warehouse,
        _as_of(args.as_of, args.warehouse),
        sla_days=args.sla_days,
        tolerance=args.tolerance,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
