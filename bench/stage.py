"""One pipeline stage as its own process, so the harness can measure it alone.

Each stage calls exactly the library functions the Dagster assets call (the assets only wire
them): ``load`` = ``connectors.load.files_mode.load_drop`` (the three ``raw_<system>``
assets), ``reconcile`` = ``reconciliation.run.run_checks`` (the ``reconciliation`` asset),
``publish`` = ``reconciliation.report.write_report`` + ``reconciliation.publish.
publish_snapshot`` (``finance_report`` + ``serving_snapshot``). ``dbt build`` is run by the
harness as dbt's own process. The two floors are the references: ``floor`` is DuckDB reading
every input file once (``read_json`` to a count, the count floor); ``typed_floor`` is DuckDB
reading every input file once into tables with every declared column typed (what a perfect
loader must at least do), built from the object declarations (``connectors.schemas``).

Usage::

    python -m bench.stage load --home H --drop D --out stats.json [--profile prof.txt]
    python -m bench.stage reconcile --home H --out stats.json
    python -m bench.stage publish --home H --out stats.json
    python -m bench.stage floor --drop D --out stats.json
    python -m bench.stage typed_floor --home H --drop D --out stats.json

``stats.json`` holds the stage's rows in and out (what it read, what it wrote).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from io import StringIO
from pathlib import Path

import duckdb

from connectors.drop import SYSTEMS
from connectors.load.files_mode import load_drop
from connectors.load.warehouse import connect
from connectors.schemas import ChildSpec, Field, spec_for
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
        # A run id of its own: the summaries are read back by run id (one fixed id would add
        # up every run's counts on the same warehouse).
        summaries = run_checks(con, run_id=f"bench-{uuid.uuid4().hex[:12]}")
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


# How each wire kind (connectors/schemas/fields.py) becomes its declared type, from the value
# as text (``json_extract_string``). TRY_: a record the loader would quarantine types to NULL
# here rather than stopping the read; the floor validates nothing.
_TYPING = {
    "epoch": "to_timestamp(TRY_CAST({v} AS BIGINT))",
    "sf_datetime": "try_strptime({v}, '%Y-%m-%dT%H:%M:%S.%g%z')",
    "ns_bool": "({v} = 'T')",
    "ns_timestamp": "TRY_CAST({v} || '+00' AS TIMESTAMPTZ)",
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _typed_columns(fields: Sequence[Field], doc: str) -> tuple[str, list[str]]:
    """The one extraction of every declared path of ``fields`` from the JSON ``doc`` (parsed
    once: ``json_extract_string(doc, [paths])``), and each field's typed column over it."""
    paths: list[str] = []
    columns = []
    for f in fields:
        slots = []
        for path in f.json_paths:
            paths.append(path)
            slots.append(f"_v[{len(paths)}]")
        if f.kind == "json":
            values = [f"json_extract({doc}, {_literal(p)})" for p in f.json_paths]
            typed = values[0] if len(values) == 1 else f"coalesce({', '.join(values)})"
        else:
            text = slots[0] if len(slots) == 1 else f"coalesce({', '.join(slots)})"
            rule = _TYPING.get(f.kind, "TRY_CAST({v} AS " + f.column_type + ")")
            typed = rule.format(v=text)
        columns.append(f"{typed} AS {_quote(f.name)}")
    extract = f"json_extract_string({doc}, [{', '.join(_literal(p) for p in paths)}]) AS _v"
    return extract, columns


def typed_floor_sql(system: str, path: Path) -> list[str]:
    """SQL reading the drop file ``path`` once into its declared tables, every declared column
    typed: the object's table (``raw_<system>.<table>``), then one table per nested list."""
    spec = spec_for(system, path.stem)
    schema = f"raw_{system}"
    source = f"read_ndjson_objects({_literal(str(path))})"
    extract, columns = _typed_columns(spec.fields, "json")
    lists = [
        f"CAST(json_extract(json, {_literal(c.path)}) AS JSON[]) AS _list{i}"
        for i, c in enumerate(spec.children)
    ]
    own = f"{schema}.{_quote(spec.table)}"
    statements = [
        f"CREATE TABLE {own} AS SELECT {', '.join(columns + lists)} "
        f"FROM (SELECT json, {extract} FROM {source})"
    ]
    key = _quote(spec.key[0])
    for i, child in enumerate(spec.children):
        statements.append(_child_sql(schema, own, key, i, child))
    if spec.children:
        drops = ", ".join(f"DROP COLUMN _list{i}" for i in range(len(spec.children)))
        statements += [f"ALTER TABLE {own} {d}" for d in drops.split(", ")]
    return statements


def _child_sql(schema: str, own: str, key: str, i: int, child: ChildSpec) -> str:
    """A nested list's table from the object table's list column (the file is not read again)."""
    extract, columns = _typed_columns(child.fields, "_item")
    items = (
        f"SELECT {key} AS _parent, unnest(_list{i}) AS _item, "
        f"generate_subscripts(_list{i}, 1) AS _position FROM {own}"
    )
    return (
        f"CREATE TABLE {schema}.{_quote(child.table)} AS SELECT "
        f"_parent AS {_quote(child.parent_column)}, CAST(_position AS INTEGER) AS position, "
        f"{', '.join(columns)} FROM (SELECT *, {extract} FROM ({items}))"
    )


def stage_typed_floor(home: Path, drop: Path) -> dict[str, int]:
    """DuckDB reads every input file once into tables, every declared column typed: the least
    a loader that must type these files (and write them down) can cost."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "typed-floor.duckdb"
    target.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    rows_in = rows_out = columns = tables = 0
    files = drop_files(drop)
    try:
        for system in SYSTEMS:
            con.execute(f"CREATE SCHEMA raw_{system}")
        for path in files:
            system = path.parent.name
            for statement in typed_floor_sql(system, path):
                con.execute(statement)
            spec = spec_for(system, path.stem)
            for n, table in enumerate([spec.table, *(c.table for c in spec.children)]):
                count = con.sql(f"SELECT count(*) FROM raw_{system}.{_quote(table)}").fetchall()
                rows_out += count[0][0]
                rows_in += count[0][0] if n == 0 else 0
                tables += 1
            columns += len(spec.fields) + sum(len(c.fields) + 2 for c in spec.children)
    finally:
        con.close()
        target.unlink(missing_ok=True)
    return {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "files": len(files),
        "tables": tables,
        "columns": columns,
    }


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
    parser.add_argument("stage", choices=["load", "reconcile", "publish", "floor", "typed_floor"])
    parser.add_argument("--home", type=Path, help="the REVOPS_HOME of the run")
    parser.add_argument("--drop", type=Path, help="the source drop")
    parser.add_argument("--out", type=Path, required=True, help="where the stats JSON goes")
    parser.add_argument("--profile", type=Path, help="profile the stage, write the top here")
    args = parser.parse_args(argv)
    needs = {"load": ("home", "drop"), "reconcile": ("home",), "publish": ("home",)}
    needs["floor"] = ("drop",)
    needs["typed_floor"] = ("home", "drop")
    missing = [f"--{n}" for n in needs[args.stage] if getattr(args, n) is None]
    if missing:
        parser.error(f"the {args.stage} stage needs {' and '.join(missing)}")
    work: dict[str, Callable[[], dict[str, int]]] = {
        "load": lambda: stage_load(args.home, args.drop),
        "reconcile": lambda: stage_reconcile(args.home),
        "publish": lambda: stage_publish(args.home),
        "floor": lambda: stage_floor(args.drop),
        "typed_floor": lambda: stage_typed_floor(args.home, args.drop),
    }
    run = work[args.stage]
    started, cpu_started = time.perf_counter(), time.process_time()
    stats: dict[str, float] = dict(_profiled(run, args.profile) if args.profile else run())
    # The work alone, without interpreter start and imports (CPU: every thread of this process).
    stats["work_s"] = round(time.perf_counter() - started, 3)
    stats["work_cpu_s"] = round(time.process_time() - cpu_started, 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(stats, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
