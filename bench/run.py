"""``make bench``: the pipeline's speed and size at several company sizes, beside the floor
and the peers, with the answers compared.

For each size (customers) the harness, one measured process per step:

1. generates two sandbox drops of the same company over ``--months`` months: one at the
   as-of instant and one a day later (``--through`` the later instant, so both are the same
   company seen at two instants); a drop already generated with the same parameters is
   reused (its generation figures were recorded when it was made);
2. runs the pipeline's stages on a fresh home: load (land + type + validate + merge),
   ``dbt build``, reconciliation, publish (finance report + serving snapshot) — the same
   library calls the Dagster assets make — and checks the open exceptions against the
   drop's ``truth/exceptions.csv``;
3. measures the two floors: DuckDB reading every input file once to a count (the count
   floor), and DuckDB reading every input file once into tables with every declared column
   typed (the typed floor: what a perfect loader must at least do);
4. runs the peers on that warehouse: ``datacompy.PolarsCompare`` on invoice ↔ ERP posting
   vs our two posting checks, a plain pandas MRR vs our dbt MRR (answers compared);
5. re-runs the unchanged drop, then the next day's drop, on the same home: the next day's
   run is the cost of a one-day increment, per stage, beside the full run's;
6. runs the whole ``refresh`` job once as a Dagster run (``revops run``) on a fresh home:
   the orchestrated figure users see;
7. profiles the slowest stage (cProfile for a Python stage, dbt's per-model timings for
   ``dbt build``).

Results: ``bench/results/<date>-<size>.json`` per size and ``bench/results/<date>.md``; the
table replaces the one in ``bench/README.md``. A size that fails (a step runs out of memory,
or exits non-zero) is recorded as such, with what it measured before, and the bench goes on
with the next size. Usage::

    python -m bench.run --sizes 10000 50000 --months 36 --work data/bench
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from bench.measure import Measured, StepFailed, measure
from bench.table import render_markdown, update_readme
from dagster_project.cli import parse_as_of

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PYTHON = sys.executable
DEFAULT_AS_OF = "2026-06-15T23:59:59Z"  # mid-month: an ordinary day of activity follows
STAGES = ("load", "dbt_build", "reconcile", "publish")


@dataclass(frozen=True)
class Plan:
    """What one size's run uses: drops, homes and logs under ``work``."""

    customers: int
    months: int
    seed: int
    as_of: datetime
    work: Path

    @property
    def next_as_of(self) -> datetime:
        return self.as_of + timedelta(days=1)

    def drop(self, as_of: datetime) -> Path:
        stamp = as_of.strftime("%Y%m%dT%H%M%S")
        through = self.next_as_of.strftime("%Y%m%dT%H%M%S")
        name = f"{self.customers}c-{self.months}m-s{self.seed}-through{through}-at{stamp}"
        return self.work / "drops" / name

    def home(self, label: str) -> Path:
        return self.work / "homes" / f"{self.customers}-{label}"

    def log(self, name: str) -> Path:
        return self.work / "logs" / str(self.customers) / f"{name}.log"


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "REVOPS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


def _fresh(home: Path) -> Path:
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    return home


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _count(warehouse: Path, schemas: Sequence[str]) -> int:
    """Rows of every table in ``schemas`` (quarantine tables excluded)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            f"WHERE schema_name IN ({', '.join('?' for _ in schemas)}) "
            "AND table_name <> 'quarantine'",
            list(schemas),
        ).fetchall()
        return sum(con.sql(f'SELECT count(*) FROM "{s}"."{t}"').fetchall()[0][0] for s, t in names)
    finally:
        con.close()


# --- generation ---------------------------------------------------------------------------


def generator_digest() -> str:
    """sha256 of the generator's source: a drop made by other code is generated again."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "connectors" / "sandbox").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def generate(plan: Plan, as_of: datetime) -> dict[str, Any]:
    """The drop at ``as_of`` (generated once; its figures are kept beside it)."""
    drop = plan.drop(as_of)
    figures = drop.parent / f"{drop.name}.generate.json"
    if (drop / "manifest.json").exists() and figures.exists():
        kept = _read_json(figures)
        if kept.get("generator") == generator_digest():
            return {**kept, "reused": True}
    shutil.rmtree(drop, ignore_errors=True)
    command = [
        str(BIN / "revops"),
        "sandbox",
        "generate",
        "--out",
        str(drop),
        "--customers",
        str(plan.customers),
        "--months",
        str(plan.months),
        "--seed",
        str(plan.seed),
        "--as-of",
        _iso(as_of),
        "--through",
        _iso(plan.next_as_of),
    ]
    m = measure(command, log=plan.log(f"generate-{as_of:%Y%m%d}"))
    manifest = _read_json(drop / "manifest.json")
    result = {
        **m.as_dict(),
        "records": sum(manifest["files"].values()),
        "bytes": sum(p.stat().st_size for p in drop.rglob("*.jsonl") if p.parent.name != "truth"),
        "drop": str(drop),
        "generator": generator_digest(),
    }
    figures.write_text(json.dumps(result, indent=2) + "\n")
    return {**result, "reused": False}


# --- the pipeline's stages ----------------------------------------------------------------


def _python_stage(plan: Plan, name: str, stage: str, home: Path, **extra: Path) -> dict:
    stats = plan.log(f"{name}-{stage}").with_suffix(".json")
    command = [PYTHON, "-m", "bench.stage", stage, "--home", str(home), "--out", str(stats)]
    for flag, value in extra.items():
        command += [f"--{flag}", str(value)]
    m = measure(command, log=plan.log(f"{name}-{stage}"), env=_env(home), cwd=REPO)
    return {**m.as_dict(), **_read_json(stats)}


def _dbt(home: Path, *args: str, target: str = "dbt-target") -> list[str]:
    """The project's dbt on ``home``'s warehouse, artifacts in ``home/<target>``."""
    project = str(REPO / "dbt")
    return [
        str(BIN / "dbt"),
        *args,
        "--project-dir",
        project,
        "--profiles-dir",
        project,
        "--target-path",
        str(home / target),
        "--log-path",
        str(home / "dbt-logs"),
    ]


def _dbt_build(plan: Plan, name: str, home: Path) -> dict:
    rows_in = _count(home / "warehouse.duckdb", ("raw_stripe", "raw_salesforce", "raw_netsuite"))
    command = _dbt(home, "build")
    m = measure(command, log=plan.log(f"{name}-dbt_build"), env=_env(home), cwd=REPO)
    rows_out = _count(home / "warehouse.duckdb", ("core", "metrics"))
    return {**m.as_dict(), "rows_in": rows_in, "rows_out": rows_out}


def _open_exceptions(home: Path) -> set[tuple[str, str]]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.sql(
            "SELECT check_id, record_id FROM recon.exceptions WHERE status = 'open'"
        ).fetchall()
    finally:
        con.close()
    return {(c, r) for c, r in rows}


def _truth(drop: Path) -> set[tuple[str, str]]:
    with (drop / "truth" / "exceptions.csv").open(newline="") as f:
        return {(row["check_id"], row["record_id"]) for row in csv.DictReader(f)}


def pipeline(plan: Plan, name: str, home: Path, drop: Path) -> dict[str, Any]:
    """Every stage once on ``home`` with ``drop``; figures per stage and the answer check."""
    stages = {
        "load": _python_stage(plan, name, "load", home, drop=drop),
        "dbt_build": _dbt_build(plan, name, home),
        "reconcile": _python_stage(plan, name, "reconcile", home),
        "publish": _python_stage(plan, name, "publish", home),
    }
    found, truth = _open_exceptions(home), _truth(drop)
    return {
        "stages": stages,
        "total": {
            "wall_s": round(sum(s["wall_s"] for s in stages.values()), 3),
            "cpu_s": round(sum(s["cpu_s"] for s in stages.values()), 3),
            "peak_rss_mb": max(s["peak_rss_mb"] for s in stages.values()),
        },
        "exceptions": {
            "open": len(found),
            "truth": len(truth),
            "missed": len(truth - found),
            "unexpected": len(found - truth),
            "equal_truth": found == truth,
        },
    }


# --- floor, peers, Dagster, profile --------------------------------------------------------


def floor(plan: Plan, drop: Path) -> dict[str, Any]:
    """The count floor: DuckDB reading every input file once to a count."""
    stats = plan.log("floor").with_suffix(".json")
    command = [PYTHON, "-m", "bench.stage", "floor", "--drop", str(drop), "--out", str(stats)]
    m = measure(command, log=plan.log("floor"), cwd=REPO)
    return {**m.as_dict(), **_read_json(stats)}


def typed_floor(plan: Plan, drop: Path) -> dict[str, Any]:
    """The typed floor: DuckDB reading every input file once into tables (a database file on
    disk, like the warehouse), every declared column typed."""
    home = _fresh(plan.home("typed-floor"))
    stats = plan.log("typed-floor").with_suffix(".json")
    command = [PYTHON, "-m", "bench.stage", "typed_floor", "--home", str(home)]
    command += ["--drop", str(drop), "--out", str(stats)]
    m = measure(command, log=plan.log("typed-floor"), cwd=REPO)
    shutil.rmtree(home, ignore_errors=True)
    return {**m.as_dict(), **_read_json(stats)}


def ratios(result: dict[str, Any]) -> dict[str, float]:
    """The pipeline and the load as multiples of the floors (wall time)."""
    first = result["first_run"]
    load, total = first["stages"]["load"]["wall_s"], first["total"]["wall_s"]
    count, typed = result["floor"]["wall_s"], result["typed_floor"]["wall_s"]
    return {
        "load_vs_typed_floor": round(load / typed, 2),
        "pipeline_vs_count_floor": round(total / count, 2),
        "load_vs_count_floor": round(load / count, 2),
        "pipeline_vs_typed_floor": round(total / typed, 2),
        "typed_floor_vs_count_floor": round(typed / count, 2),
    }


def increment(full: dict[str, Any], next_day: dict[str, Any]) -> dict[str, Any]:
    """The cost of a one-day increment per stage (the next day's drop on the warehouse the full
    run built), beside the full run's: each stage's figures and its wall time ÷ the full's."""
    out: dict[str, Any] = {}
    for stage in (*STAGES, "total"):
        figures = next_day["total"] if stage == "total" else next_day["stages"][stage]
        full_figures = full["total"] if stage == "total" else full["stages"][stage]
        keep = ("wall_s", "cpu_s", "peak_rss_mb", "rows_in", "rows_out")
        out[stage] = {k: figures[k] for k in keep if k in figures}
        out[stage]["vs_full"] = round(figures["wall_s"] / full_figures["wall_s"], 3)
    return out


def peer_datacompy(plan: Plan, home: Path) -> dict[str, Any]:
    """datacompy PolarsCompare vs our two posting checks: the same records, and the times."""
    from bench.peers.datacompy_posting import compare

    sides = {}
    for side in ("ours", "peer"):
        out = plan.log(f"datacompy-{side}").with_suffix(".json")
        command = [
            PYTHON,
            "-m",
            "bench.peers.datacompy_posting",
            "--warehouse",
            str(home / "warehouse.duckdb"),
            "--as-of",
            _iso(plan.as_of),
            "--side",
            side,
            "--out",
            str(out),
        ]
        m = measure(command, log=plan.log(f"datacompy-{side}"), env=_env(home), cwd=REPO)
        sides[side] = (m, _read_json(out))
    verdict = compare(sides["ours"][1], sides["peer"][1])
    result = _peer_result(sides["ours"][0], sides["peer"][0], verdict, bool(verdict["same"]))
    # Inside each process: the work alone, without interpreter start and imports.
    result["ours"]["work_s"] = sides["ours"][1]["seconds"]
    result["peer"]["work_s"] = sides["peer"][1]["seconds"]
    return result


def peer_pandas_mrr(plan: Plan, home: Path) -> dict[str, Any]:
    """A notebook's pandas MRR from the raw tables vs our dbt MRR (raw → mrr_monthly)."""
    from bench.peers.compare_mrr import compare, load, ours

    result = plan.log("pandas-mrr").with_suffix(".parquet")
    command = [
        PYTHON,
        "-m",
        "bench.peers.pandas_mrr",
        "--warehouse",
        str(home / "warehouse.duckdb"),
        "--as-of",
        _iso(plan.as_of),
        "--out",
        str(result),
    ]
    peer = measure(command, log=plan.log("pandas-mrr"), cwd=REPO)
    dbt = _dbt(home, "run", "--select", "+mrr_monthly", target="dbt-target-mrr")
    our = measure(dbt, log=plan.log("dbt-mrr"), env=_env(home), cwd=REPO)
    verdict = compare(ours(home / "warehouse.duckdb"), load(result))
    return _peer_result(our, peer, verdict, verdict["differing_cells"] == 0)


def _peer_result(our: Measured, peer: Measured, verdict: dict, same: bool) -> dict[str, Any]:
    return {
        "ours": our.as_dict(),
        "peer": peer.as_dict(),
        "time_ratio": round(peer.wall_s / our.wall_s, 2),
        "memory_ratio": round(peer.peak_rss_mb / our.peak_rss_mb, 2),
        "same_answer": same,
        "comparison": verdict,
    }


def dagster_run(plan: Plan, drop: Path) -> dict[str, Any]:
    """The whole ``refresh`` job as one Dagster run (``revops run``) on a fresh home."""
    home = _fresh(plan.home("dagster"))
    command = [str(BIN / "revops"), "run", "--source-dir", str(drop)]
    m = measure(command, log=plan.log("dagster-run"), env=_env(home), cwd=REPO)
    found, truth = _open_exceptions(home), _truth(drop)
    return {**m.as_dict(), **dagster_steps(home), "exceptions_equal_truth": found == truth}


# Dagster steps of the refresh job per pipeline stage (the rest: asset bookkeeping).
STEP_STAGES = {
    "load": ("source_drop", "raw_stripe", "raw_salesforce", "raw_netsuite", "raw_meta__"),
    "dbt_build": ("dbt_models",),
    "reconcile": ("reconciliation",),
    "publish": ("finance_report", "serving_snapshot"),
}


def dagster_steps(home: Path) -> dict[str, Any]:
    """The latest run's duration and its step times by stage, from the Dagster instance."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        run = instance.get_runs(limit=1)[0]
        totals = instance.get_run_stats(run.run_id)
        steps = {
            s.step_key: s.end_time - s.start_time
            for s in instance.get_run_step_stats(run.run_id)
            if s.end_time is not None and s.start_time is not None
        }
    by_stage = {
        stage: round(sum(t for k, t in steps.items() if k.startswith(prefixes)), 3)
        for stage, prefixes in STEP_STAGES.items()
    }
    assert totals.start_time is not None and totals.end_time is not None  # the run has ended
    return {
        "run_s": round(totals.end_time - totals.start_time, 3),
        "steps_s": round(sum(steps.values()), 3),
        "stage_steps_s": by_stage,
    }


def profile(plan: Plan, first: dict[str, Any], drop: Path, home: Path) -> dict[str, Any]:
    """Where the slowest stage of the first run spends its time."""
    slowest = max(STAGES, key=lambda s: first["stages"][s]["wall_s"])
    if slowest == "dbt_build":
        results = _read_json(home / "dbt-target" / "run_results.json")["results"]
        top = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:12]
        lines = [f"{r['execution_time']:8.2f} s  {r['unique_id']}" for r in top]
        return {"stage": slowest, "method": "dbt run_results.json", "top": lines}
    scratch = _fresh(plan.home("profile"))
    if slowest != "load":  # the later stages need the warehouse the earlier ones build
        shutil.copy(home / "warehouse.duckdb", scratch / "warehouse.duckdb")
    text = plan.log(f"profile-{slowest}").with_suffix(".txt")
    extra = {"drop": drop} if slowest == "load" else {}
    _python_stage(plan, "profile", slowest, scratch, profile=text, **extra)
    shutil.rmtree(scratch, ignore_errors=True)
    return {"stage": slowest, "method": "cProfile", "top": _profile_top(text.read_text())}


def _profile_top(text: str, n: int = 12) -> list[str]:
    """The first ``n`` rows of the profile's own-time table."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
    return [line.rstrip() for line in lines[start : start + 1 + n] if line.strip()]


# --- one size, then the whole run ----------------------------------------------------------


def bench_size(
    plan: Plan,
    *,
    with_profile: bool,
    with_dagster: bool,
    say: Callable[[str], None] = print,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every measurement of one size, into ``result`` (kept as far as it got when a step
    fails)."""
    result = {} if result is None else result
    result.update(
        {
            "customers": plan.customers,
            "months": plan.months,
            "seed": plan.seed,
            "as_of": _iso(plan.as_of),
            "next_as_of": _iso(plan.next_as_of),
        }
    )
    say(f"[{plan.customers}] generating the drops")
    result["generate"] = {
        "first": generate(plan, plan.as_of),
        "next_day": generate(plan, plan.next_as_of),
    }
    drop, next_drop = plan.drop(plan.as_of), plan.drop(plan.next_as_of)
    home = _fresh(plan.home("stages"))
    say(f"[{plan.customers}] first full run")
    result["first_run"] = pipeline(plan, "first", home, drop)
    say(f"[{plan.customers}] floors")
    result["floor"] = floor(plan, drop)
    result["typed_floor"] = typed_floor(plan, drop)
    result["floor"]["pipeline_multiple"] = round(
        result["first_run"]["total"]["wall_s"] / result["floor"]["wall_s"], 2
    )
    result["floor"]["load_multiple"] = round(
        result["first_run"]["stages"]["load"]["wall_s"] / result["floor"]["wall_s"], 2
    )
    result["ratios"] = ratios(result)
    say(f"[{plan.customers}] peers")
    # On a copy: our side of each comparison writes (recon lifecycle, dbt models).
    peers_home = _fresh(plan.home("peers"))
    shutil.copy(home / "warehouse.duckdb", peers_home / "warehouse.duckdb")
    result["peers"] = {
        "datacompy_posting": peer_datacompy(plan, peers_home),
        "pandas_mrr": peer_pandas_mrr(plan, peers_home),
    }
    shutil.rmtree(peers_home, ignore_errors=True)
    say(f"[{plan.customers}] unchanged re-run")
    result["rerun"] = pipeline(plan, "rerun", home, drop)
    say(f"[{plan.customers}] next day's drop")
    result["next_day"] = pipeline(plan, "next-day", home, next_drop)
    first_wall = result["first_run"]["total"]["wall_s"]
    for key in ("rerun", "next_day"):
        result[key]["vs_first"] = round(result[key]["total"]["wall_s"] / first_wall, 3)
    result["increment"] = increment(result["first_run"], result["next_day"])
    if with_dagster:
        say(f"[{plan.customers}] the refresh job as a Dagster run")
        result["dagster_run"] = dagster_run(plan, drop)
    if with_profile:
        say(f"[{plan.customers}] profile of the slowest stage")
        result["profile"] = profile(plan, result["first_run"], drop, home)
    return result


# What a process killed for memory leaves in its log (Python, DuckDB, polars / Rust).
MEMORY_SIGNS = (
    "MemoryError",
    "Out of Memory Error",
    "OutOfMemoryException",
    "memory allocation of",
    "Cannot allocate memory",
    "failed to allocate",
)


def failure(error: BaseException) -> dict[str, Any]:
    """What a failed size records: the step, whether it ran out of memory, the message.

    A step counts as out of memory when it was killed by SIGKILL (what the kernel's
    out-of-memory killer sends) or its log says an allocation failed.
    """
    if not isinstance(error, StepFailed):
        reason = "memory" if isinstance(error, MemoryError) else "error"
        return {"reason": reason, "step": None, "message": f"{type(error).__name__}: {error}"}
    text = error.log.read_text(errors="replace") if error.log.exists() else ""
    memory = error.returncode == -9 or any(sign in text for sign in MEMORY_SIGNS)
    return {
        "reason": "memory" if memory else "error",
        "step": error.log.stem,
        "returncode": error.returncode,
        "peak_rss_mb": round(error.peak_rss_mb, 1),
        "log": str(error.log),
        "message": str(error)[-2000:],
    }


def machine() -> dict[str, Any]:
    import duckdb as _duckdb
    import polars

    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "duckdb": _duckdb.__version__,
        "polars": polars.__version__,
        "platform": platform.platform(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", type=parse_as_of, default=parse_as_of(DEFAULT_AS_OF))
    parser.add_argument("--work", type=Path, default=REPO / "data" / "bench")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--readme", type=Path, default=REPO / "bench" / "README.md")
    parser.add_argument("--no-dagster", action="store_true", help="skip the Dagster run")
    parser.add_argument(
        "--profile-max",
        type=int,
        default=10_000,
        help="profile the slowest stage at sizes up to this many customers (profiling costs "
        "one more run of that stage)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    args.results.mkdir(parents=True, exist_ok=True)
    results = []
    failed_otherwise = False
    for customers in args.sizes:
        plan = Plan(customers, args.months, args.seed, args.as_of, args.work.resolve())
        result: dict[str, Any] = {}
        try:
            bench_size(
                plan,
                with_profile=customers <= args.profile_max,
                with_dagster=not args.no_dagster,
                result=result,
            )
        except (StepFailed, MemoryError) as error:
            # One size failing (for memory, typically, at the largest) does not lose the others.
            result["failed"] = failure(error)
            failed_otherwise |= result["failed"]["reason"] != "memory"
            print(f"[{customers}] FAILED ({result['failed']['reason']}): {error}", flush=True)
        result["machine"] = machine()
        result["date"] = date
        path = args.results / f"{date}-{customers}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        results.append(result)
        print(f"[{customers}] results in {path}")
    table = render_markdown(results)
    (args.results / f"{date}.md").write_text(table)
    if args.readme.exists():
        update_readme(args.readme, table)
    print()
    print(table)
    print(f"bench finished in {time.perf_counter() - started:,.0f} s")
    return 1 if failed_otherwise else 0


if __name__ == "__main__":
    sys.exit(main())
