"""One pipeline stage as its own process, so the harness can measure it alone.

Each stage calls exactly the library functions the Dagster assets call (the assets only wire
them): ``load`` = ``connectors.load.files_mode.load_drop`` (the three ``raw_<system>``
assets), ``reconcile`` = ``reconciliation.run.run_checks`` (the ``reconciliation`` asset),
``publish`` = ``reconciliation.report.write_report`` + ``reconciliation.publish.
publish_snapshot`` (``finance_report`` + ``serving_snapshot``). ``dbt build`` is run by the
harness as dbt's own process. ``floor`` is the reference: DuckDB reading every input file
once (``read_json`` to a count).

Usage::

    python -m bench.stage load --home H --drop D --out stats.json [--profile prof.txt]
    python -m bench.stage reconcile --home H --out stats.json
    python -m bench.stage publish --home H --out stats.json
    python -m bench.stage floor --drop D --out stats.json

``stats.json`` holds the stage's rows in and out (what it read, what it wrote).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
from collections.abc import Callable, Sequence
from io import StringIO
from pathlib import Path

import duckdb

from connectors.drop import SYSTEMS
from connectors.load.files_mode import load_drop
from connectors.load.warehouse import connect
from reconciliation.publish import publish_snapshot
from reconciliation.report import write_report
from reconciliation.run import run_checks

WAREHOUSE = "warehouse.duckdb"
SERVING = Path("serving") / "revenue.duckdb"


def drop_files(drop: Path) -> list[Path]:
    """Every input file of a drop (the systems' JSONL files; ``truth/`` is not input)."""
    return sorted(p for system in SYSTEMS for p in (drop / system).glob("*.jsonl"))


def stage_load(home: Path, drop: Path) -> dict[str, int]:
    con = connect(home / WAREHOUSE)
    try:
        report = load_drop(con, home, drop)
    finally:
        con.close()
    # A batch loaded before (same file content) is recognised by its hash and skipped, and a
    # record identical to its stored version by its JSON's md5: read, not written again.
    new = [r for r in report.results if not r.already_loaded]
    return {
        "rows_in": report.totals()["records_in"],
        "rows_out": sum(r.loaded - r.unchanged for r in new),
        "unchanged": sum(r.unchanged for r in new),
        "quarantined": sum(r.quarantined for r in new),
        "batches": len(report.results),
        "batches_already_loaded": len(report.results) - len(new),
    }


def stage_reconcile(home: Path) -> dict[str, int]:
    con = connect(home / WAREHOUSE)
    try:
        summaries = run_checks(con, run_id="bench")
    finally:
        con.close()
    return {
        "rows_in": sum(s.records_checked for s in summaries),
        "rows_out": sum(s.exceptions_open for s in summaries),
        "new": sum(s.exceptions_new for s in summaries),
        "resolved": sum(s.exceptions_resolved for s in summaries),
    }


def stage_publish(home: Path) -> dict[str, int]:
    con = connect(home / WAREHOUSE, read_only=True)
    try:
        write_report(con, home / "reports", "bench")
    finally:
        con.close()
    counts = publish_snapshot(home / WAREHOUSE, home / SERVING)
    rows = sum(counts.values())
    return {"rows_in": rows, "rows_out": rows, "tables": len(counts)}


def stage_floor(drop: Path) -> dict[str, int]:
    """DuckDB reads every input file once: the least any loader of these files can cost."""
    con = duckdb.connect()
    rows = 0
    files = drop_files(drop)
    for path in files:
        rows += con.sql(
            f"SELECT count(*) FROM read_json('{path}', format = 'newline_delimited')"
        ).fetchall()[0][0]
    return {"rows_in": rows, "rows_out": rows, "files": len(files)}


def _profiled(work: Callable[[], dict[str, int]], out: Path) -> dict[str, int]:
    """Run ``work`` under cProfile; write the top functions by own and cumulative time."""
    profiler = cProfile.Profile()
    result = profiler.runcall(work)
    text = StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(25)
    out.write_text(text.getvalue())
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stage", description=__doc__)
    parser.add_argument("stage", choices=["load", "reconcile", "publish", "floor"])
    parser.add_argument("--home", type=Path, help="the REVOPS_HOME of the run")
    parser.add_argument("--drop", type=Path, help="the source drop")
    parser.add_argument("--out", type=Path, required=True, help="where the stats JSON goes")
    parser.add_argument("--profile", type=Path, help="profile the stage, write the top here")
    args = parser.parse_args(argv)
    needs = {"load": ("home", "drop"), "reconcile": ("home",), "publish": ("home",)}
    needs["floor"] = ("drop",)
    missing = [f"--{n}" for n in needs[args.stage] if getattr(args, n) is None]
    if missing:
        parser.error(f"the {args.stage} stage needs {' and '.join(missing)}")
    work: dict[str, Callable[[], dict[str, int]]] = {
        "load": lambda: stage_load(args.home, args.drop),
        "reconcile": lambda: stage_reconcile(args.home),
        "publish": lambda: stage_publish(args.home),
        "floor": lambda: stage_floor(args.drop),
    }
    run = work[args.stage]
    stats = _profiled(run, args.profile) if args.profile else run()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(stats, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
