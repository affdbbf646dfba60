"""The ``revops`` command line (contract: docs/architecture.md, section "CLI").

Every failure ends with one sentence on the last line of stderr naming what failed and
what to do; exit codes: 0 success, 1 failure, 2 usage or not available yet.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from dagster_project.launch import RunOutcome

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNAVAILABLE = 2
EXIT_BUSY = 3  # another run is using REVOPS_HOME

UI_URL = "http://127.0.0.1:3000"


class UsageError(ValueError):
    """The command or its environment asks for something that cannot be (exit code 2)."""


def _error(sentence: str) -> None:
    """Print the one-sentence diagnosis as the last line on stderr."""
    print(f"revops: {' '.join(sentence.split())}", file=sys.stderr, flush=True)


# --- argument types -------------------------------------------------------------------


def parse_as_of(value: str) -> datetime:
    """Parse ``--as-of``: a date (that day 23:59:59 UTC) or an ISO-8601 instant with offset.

    Example:
        >>> parse_as_of("2026-06-30").isoformat()
        '2026-06-30T23:59:59+00:00'
        >>> parse_as_of("2026-06-30T12:00:00Z").isoformat()
        '2026-06-30T12:00:00+00:00'
    """
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(23, 59, 59), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither a date (YYYY-MM-DD) nor an ISO-8601 instant "
            "(e.g. 2026-06-30T23:59:59Z)"
        ) from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} has no UTC offset; add Z (UTC) or +HH:MM, or pass a date (YYYY-MM-DD)"
        )
    return parsed.astimezone(UTC)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return number


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} must be between 0 and 1")
    return rate


# --- commands -------------------------------------------------------------------------


def _generate(out: Path, args: argparse.Namespace) -> int:
    """Generate a sandbox drop into ``out`` and print what it holds."""
    try:
        from connectors.sandbox import generate
    except ImportError as exc:
        _error(
            f"the sandbox generator cannot be imported ({exc}): it is a development tool that "
            "ships with the source repository, not the package; run it from a checkout "
            "(make setup)"
        )
        return EXIT_FAILED
    from connectors.drop import inspect_drop
    from connectors.errors import SourceDropError
    from connectors.sandbox.generate import DEFAULT_AS_OF

    through = getattr(args, "through", None)
    as_of = args.as_of or DEFAULT_AS_OF
    if through is not None and through < as_of:
        default = "" if args.as_of else " (the default)"
        _error(
            f"--through {_instant(through)} is before --as-of {_instant(as_of)}{default}: the "
            "company must be generated at least up to the export instant; pass a --through "
            "on or after --as-of"
        )
        return EXIT_UNAVAILABLE
    try:
        summary = generate(
            out,
            customers=args.customers,
            months=args.months,
            seed=args.seed,
            as_of=args.as_of,
            anomaly_rate=args.anomaly_rate,
            progress=sys.stderr.isatty(),
            through=through,
            entities=getattr(args, "entities", None),
            dialects=getattr(args, "dialects", None) or (),
        )
    except ValueError as exc:
        _error(f"sandbox generation rejected its arguments: {exc}; fix them and rerun")
        return EXIT_UNAVAILABLE
    try:
        inventory = inspect_drop(out)
    except SourceDropError as err:
        _error(f"the generated drop breaks the drop contract: {err}")
        return EXIT_FAILED
    shown = {"out_dir", "exported_at"}
    scalars = {
        k: v
        for k, v in summary.items()
        if k not in shown and isinstance(v, str | int | float | bool)
    }
    print(f"sandbox drop written to {inventory.root}")
    print(f"  exported_at  {inventory.exported_at.isoformat().replace('+00:00', 'Z')}")
    for system, count in inventory.records_by_system().items():
        print(f"  {system:<12} {count:>12,} records")
    if (out / "truth").is_dir():
        print(f"  truth        {(out / 'truth').resolve()}")
    for key, value in scalars.items():
        print(f"  {key:<12} {value}")
    return EXIT_OK


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cmd_sandbox_generate(args: argparse.Namespace) -> int:
    """``revops sandbox generate``: write a source drop plus ``truth/``."""
    return _generate(args.out, args)


def _print_run(outcome: RunOutcome) -> None:
    print(f"run {outcome.run_id}: {outcome.status}")
    if outcome.exported_at is not None:
        print(f"  exported_at  {outcome.exported_at.isoformat().replace('+00:00', 'Z')}")
    for system, count in outcome.records_by_system().items():
        print(f"  {system:<12} {count:>12,} records")
    if outcome.quarantined:
        print("quarantined records (revops exceptions --check record_quarantined):")
        for file, count in outcome.quarantined.items():
            print(f"  {file:<40} {count:>8,}")


def _launch(
    source_dir: Path | None,
    *,
    command: str,
    verbose: bool,
    source: str = "files",
    wait: bool = False,
) -> RunOutcome:
    """Run ``refresh`` holding the home's run lock (one run per home; see runlock.py).

    Raises:
        RunInProgressError: Another run holds the lock and ``wait`` is false.
    """
    from dagster_project.runlock import remove_publish_leftovers, run_lock

    home = _home()
    with run_lock(home, command, wait=wait):
        from dagster_project.launch import recover_dead_runs, run_refresh, use_local_instance

        dagster_home = use_local_instance(home)
        print(f"REVOPS_HOME={home}  DAGSTER_HOME={dagster_home}")
        for line in recover_dead_runs():
            print(line)
        for leftover in remove_publish_leftovers(home / "serving"):
            print(f"removed {leftover.name}, left by a publish that was killed")
        tags = {"revops/command": command}
        if source_dir is not None:
            tags["revops/source_dir"] = str(source_dir.resolve())
        return run_refresh(
            source_dir=source_dir,
            source=source,
            tags=tags,
            log_level="INFO" if verbose else "CRITICAL",
            progress=not verbose,  # the verbose log already shows every step
        )


def preflight(drop: Path, *, same_company: bool = True) -> None:
    """Check the drop before anything is launched (no Dagster import: a bad drop is refused
    in a fraction of a second, and no run is recorded, so the Dagster catalog keeps showing
    the last good results).

    Raises:
        SourceDropError: The drop breaks its contract; the message names the file and the fix.
    """
    from connectors.drop import check_same_company, inspect_drop

    inventory = inspect_drop(drop)
    if same_company:
        check_same_company(_home(), inventory.manifest)


def _home() -> Path:
    """``$REVOPS_HOME`` (default ``./data``), without importing Dagster."""
    return Path(os.environ.get("REVOPS_HOME") or "data").expanduser().resolve()


def _report_failure(outcome: RunOutcome) -> int:
    if outcome.failure_detail:
        print(outcome.failure_detail, file=sys.stderr)
    _error(outcome.failure or f"run {outcome.run_id} failed; see it in the UI (make dev)")
    return EXIT_FAILED


SOURCE_ENV = "REVOPS_SOURCE"


def _source(args: argparse.Namespace) -> str:
    """``files`` or ``api``: ``--source``/``--source-dir`` win over ``$REVOPS_SOURCE``."""
    if args.source is not None:
        return str(args.source)
    if args.source_dir is not None:
        return "files"
    value = os.environ.get(SOURCE_ENV, "").strip().lower() or "files"
    if value not in ("files", "api"):
        raise UsageError(
            f"{SOURCE_ENV}={value!r} is neither files nor api; set it to one of them or pass "
            "--source api / --source-dir DIR"
        )
    return value


def cmd_run(args: argparse.Namespace) -> int:
    """``revops run``: the whole pipeline as a Dagster run on the local instance."""
    source = _source(args)
    if source == "files":
        from connectors.drop import default_drop_dir

        drop = args.source_dir or default_drop_dir(_home())
        preflight(drop, same_company=not args.new_company)
    outcome = _launch(
        args.source_dir, command="run", verbose=args.verbose, source=source, wait=args.wait
    )
    _print_run(outcome)
    if not outcome.success:
        return _report_failure(outcome)
    _print_finance_summary(_home())
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """``revops demo``: generate the sandbox company, run ``refresh`` on it, say where to look."""
    from dagster_project.launch import revops_home

    home = revops_home()
    out = home / "sandbox"
    print(f"generating the sandbox company ({args.customers} customers) into {out}")
    status = _generate(out, args)
    if status != EXIT_OK:
        return status
    outcome = _launch(out, command="demo", verbose=args.verbose)
    _print_run(outcome)
    if not outcome.success:
        return _report_failure(outcome)
    _print_finance_summary(home)
    print("next:")
    print(f"  make dev           Dagster UI at {UI_URL} (this run is in its run history)")
    print(f"  revops run --source-dir {out}   run the pipeline again on this drop")
    print("  revops exceptions  the exception queue (--owner finance|revops|engineering|billing)")
    print(
        f"  analysts           duckdb {home / 'serving' / 'revenue.duckdb'} (core, metrics, recon)"
    )
    return EXIT_OK


def _print_finance_summary(home: Path) -> None:
    """MRR, the open exceptions by owner and the report's path, from the serving snapshot."""
    import duckdb

    from reconciliation.metrics import summary_by_owner

    serving = home / "serving" / "revenue.duckdb"
    if not serving.exists():
        return
    con = duckdb.connect(str(serving), read_only=True)
    try:
        head = con.sql(
            "SELECT month, mrr, arr, active_customers FROM metrics.saas_metrics "
            "WHERE entity = 'ALL' ORDER BY month DESC LIMIT 1"
        ).fetchall()
        owners = summary_by_owner(con)
    finally:
        con.close()
    if head:
        month, mrr, arr, active = head[0]
        print(
            f"  MRR {float(mrr):,.2f}  ARR {float(arr):,.2f}  active customers {active:,}"
            f"  ({month:%Y-%m}, reporting currency)"
        )
    print("open exceptions by owner:")
    for o in owners:
        print(
            f"  {o['owner']:<12} {o['open_exceptions']:>6,} open  "
            f"{float(o['amount_at_risk']):>16,.2f} at risk  ({o['high']} high)"
        )
    report = home / "reports" / "latest.html"
    if report.exists():
        print(f"finance report: {report}")


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    """``revops sandbox serve``: the fake vendor APIs on a drop, until interrupted."""
    import time

    from connectors.sandbox.serve import serve_all
    from dagster_project.launch import revops_home

    home = revops_home()
    drop = (args.source_dir or home / "sandbox").resolve()
    if not (drop / "manifest.json").exists():
        _error(f"no source drop at {drop}: run `revops sandbox generate --out {drop}` first")
        return EXIT_FAILED
    served = serve_all(drop, args.faults)
    env_file = served.write_env(home / "sandbox-api.env")
    print(f"serving {drop} over the vendors' APIs:")
    print(f"  stripe      {served.env['STRIPE_API_BASE']}")
    print(f"  salesforce  {served.env['SALESFORCE_INSTANCE_URL']}")
    print(f"  netsuite    {served.env['NETSUITE_BASE_URL']}")
    print(f"credentials (made up for this session): {env_file}")
    print(f"in another shell:  source {env_file} && revops run --source api")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped")
    finally:
        served.stop()
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """``revops replay``: rebuild the raw layer from landing into a fresh warehouse."""
    from connectors.load.files_mode import replay
    from connectors.load.warehouse import connect
    from dagster_project.launch import revops_home

    home = revops_home()
    target = home / "warehouse.duckdb"
    fresh = home / "warehouse.replay.duckdb"
    fresh.unlink(missing_ok=True)
    con = connect(fresh)
    try:
        results = replay(con, home)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if not results:
        fresh.unlink(missing_ok=True)
        _error(f"nothing landed under {home / 'landing'}: run `revops run` first")
        return EXIT_FAILED
    if target.exists():
        target.replace(home / "warehouse.before-replay.duckdb")
    fresh.replace(target)
    loaded = sum(r.loaded for r in results)
    quarantined = sum(r.quarantined for r in results)
    print(
        f"replayed {len(results)} batches: {loaded:,} records loaded, {quarantined:,} quarantined"
    )
    print(f"  warehouse  {target} (previous one kept as warehouse.before-replay.duckdb)")
    print("  next       revops run  (rebuilds the marts on the replayed raw layer)")
    return EXIT_OK


def _serving_connection() -> duckdb.DuckDBPyConnection | None:
    """A read-only connection to the serving snapshot, or None with the reason printed."""
    import duckdb

    path = _home() / "serving" / "revenue.duckdb"
    if not path.exists():
        _error(f"no serving snapshot at {path}: run `revops run` (or `revops demo`) first")
        return None
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    return con


TABLE_LIMIT = 50  # rows the queue's table shows unless --limit says otherwise


def _actor(args: argparse.Namespace) -> str:
    """Who acts: ``--by``, else ``$REVOPS_ACTOR``, else the login name."""
    import getpass

    return str(args.by or os.environ.get("REVOPS_ACTOR") or getpass.getuser())


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((160, 40)).columns


def cmd_exceptions(args: argparse.Namespace) -> int:
    """``revops exceptions [ACTION]``: the queue (pipeline state from the serving snapshot,
    people's from the workflow store), or one action on one exception."""
    from reconciliation.queue import QueueError, QueueFilter, exceptions
    from reconciliation.queue_view import table, to_csv, to_json
    from reconciliation.workflow.actions import ActionError
    from reconciliation.workflow.store import WorkflowStore, WorkflowStoreError

    con = _serving_connection()
    if con is None:
        return EXIT_FAILED
    try:
        store = WorkflowStore.for_home(_home())
        if args.action is not None:
            return _exception_action(args, con, store)
        flt = QueueFilter(
            owner=args.owner,
            states=tuple(args.status or ["active"]),
            check_id=args.check,
            entity=args.entity,
            severity=args.severity,
            assignee=args.assignee,
        )
        limit = args.limit or (TABLE_LIMIT if args.format == "table" else None)
        queue = exceptions(con, flt, store.states(), today=datetime.now(UTC).date(), limit=limit)
    except (QueueError, ActionError, WorkflowStoreError) as err:
        _error(str(err))
        return EXIT_FAILED
    finally:
        con.close()
    if args.format == "json":
        print(to_json(queue))
    elif args.format == "csv":
        sys.stdout.write(to_csv(queue))
    else:
        print(table(queue, _terminal_width()))
    return EXIT_OK


def _exception_action(args: argparse.Namespace, con: duckdb.DuckDBPyConnection, store: Any) -> int:
    """``show``, or one of people's actions, on the exception ``args.id`` names."""
    from reconciliation import queue as q
    from reconciliation.queue_view import show
    from reconciliation.workflow import actions
    from reconciliation.workflow.targets import find_target

    now = datetime.now(UTC)
    target = find_target(con, args.id)
    if args.action == "show":
        states = store.states([target.exception_id])
        row = q.one(con, target.exception_id, states, today=now.date())
        history = q.history(con, target.exception_id)
        print(show(row, history, store.history(target.exception_id), args.show_format))
        return EXIT_OK
    actor = _actor(args)
    if args.action == "ack":
        state = actions.acknowledge(store, target, actor=actor, now=now, note=args.note)
    elif args.action == "assign":
        state = actions.assign(store, target, args.person, actor=actor, now=now)
    elif args.action == "comment":
        state = actions.comment(store, target, args.text, actor=actor, now=now)
    elif args.action == "snooze":
        state = actions.snooze(store, target, args.until, actor=actor, now=now, note=args.note)
    elif args.action == "accept":
        state = actions.accept(store, target, args.reason, actor=actor, now=now)
    else:
        state = actions.reopen(store, target, actor=actor, now=now, note=args.note)
    who = f", assigned to {state.assignee}" if state.assignee else ""
    print(
        f"{target.exception_id[:8]} {target.check_id} {target.record_id}: {state.state}{who} "
        f"({args.action} by {actor})"
    )
    return EXIT_OK


def cmd_trace(args: argparse.Namespace) -> int:
    """``revops trace ID``: one record's path across the three systems, from the snapshot."""
    from reconciliation.trace import TraceError, as_json, render, trace

    con = _serving_connection()
    if con is None:
        return EXIT_FAILED
    try:
        found = trace(con, args.id)
    except TraceError as err:
        _error(str(err))
        return EXIT_FAILED
    finally:
        con.close()
    if args.format == "json":
        print(as_json(found))
    else:
        import shutil

        print(render(found, width=shutil.get_terminal_size((120, 40)).columns))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """``revops report``: write the finance report again from the serving snapshot."""
    import os

    from dagster_project.launch import revops_home
    from reconciliation.report import write_report

    con = _serving_connection()
    if con is None:
        return EXIT_FAILED
    try:
        run_id = con.sql("SELECT run_id FROM recon.check_runs ORDER BY ran_at DESC LIMIT 1")
        run = run_id.fetchall()[0][0]
        path = write_report(
            con, revops_home() / "reports", run, os.environ.get("REVOPS_REPORTING_CURRENCY", "USD")
        )
    finally:
        con.close()
    print(f"finance report: {path}")
    return EXIT_OK


# --- parser ---------------------------------------------------------------------------


def _add_generation_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=_positive_int, default=300, metavar="N")
    parser.add_argument("--months", type=_positive_int, default=24, metavar="M")
    parser.add_argument("--seed", type=int, default=42, metavar="S")
    parser.add_argument(
        "--as-of",
        type=parse_as_of,
        default=None,
        metavar="DATE",
        help="YYYY-MM-DD (that day 23:59:59Z) or an ISO-8601 instant; default: generator's",
    )
    parser.add_argument(
        "--through",
        type=parse_as_of,
        default=None,
        metavar="DATE",
        help="generate the company up to this instant (not before --as-of; default: --as-of) "
        "and export it as seen at --as-of: the same seed, sizes and --through give the same "
        "company at any --as-of, so a later --as-of is a further, incremental drop",
    )
    parser.add_argument(
        "--anomaly-rate", type=_rate, default=0.02, metavar="R", help="share of records"
    )


def _names(value: str) -> list[str]:
    """``a,b`` -> ``["a", "b"]`` (``--entities``, ``--dialect``)."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name")
    return names


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _add_exceptions_parser(commands: Any) -> None:
    """``revops exceptions`` (the queue) and its actions."""
    exceptions = commands.add_parser(
        "exceptions",
        help="the exception queue, and what people do with an exception",
        description="List the queue (default: open and acknowledged exceptions, largest "
        "amount at risk first), or act on one exception: ID is the id the queue prints "
        "(6+ characters) or CHECK:RECORD.",
    )
    exceptions.add_argument("--owner", metavar="TEAM", help="finance, revops, engineering, …")
    exceptions.add_argument(
        "--status",
        type=_names,
        metavar="STATE[,STATE…]",
        help="open, acknowledged, snoozed, accepted, resolved; active (default: open and "
        "acknowledged) or all",
    )
    exceptions.add_argument("--check", metavar="ID")
    exceptions.add_argument("--entity", metavar="CODE", help="US, UK, DE, ...")
    exceptions.add_argument("--severity", metavar="LEVEL", help="high, medium, low")
    exceptions.add_argument("--assignee", metavar="NAME")
    exceptions.add_argument(
        "--limit", type=_positive_int, metavar="N", help=f"show the top N (table: {TABLE_LIMIT})"
    )
    exceptions.add_argument("--format", choices=["table", "csv", "json"], default="table")
    exceptions.set_defaults(func=cmd_exceptions, action=None)
    acts = exceptions.add_subparsers(dest="action", metavar="ACTION")

    def action(name: str, help_: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = acts.add_parser(name, help=help_)
        parser.add_argument("id", metavar="ID")
        if name != "show":
            parser.add_argument("--by", metavar="NAME", help="who acts (default $REVOPS_ACTOR)")
        return parser

    show = action("show", "one exception in full: detail, history, audit")
    show.add_argument("--format", dest="show_format", choices=["table", "json"], default="table")
    action("ack", "acknowledge: someone is on it").add_argument("--note")
    action("assign", "give it to someone").add_argument("person", metavar="PERSON")
    action("comment", "add a note to its history").add_argument("text", metavar="TEXT")
    snooze = action("snooze", "hide it from the queue until a date")
    snooze.add_argument("--until", type=_date, required=True, metavar="YYYY-MM-DD")
    snooze.add_argument("--note")
    action("accept", "accept as expected until its amount or detail changes").add_argument(
        "--reason", required=True
    )
    action("reopen", "undo an acknowledgement, snooze or acceptance").add_argument("--note")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``revops``."""
    parser = argparse.ArgumentParser(
        prog="revops",
        description="Batch ELT reconciler: Salesforce, Stripe and NetSuite -> DuckDB -> dbt.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="generate the sandbox company and run the pipeline")
    _add_generation_args(demo)
    demo.add_argument("-v", "--verbose", action="store_true", help="show Dagster's run log")
    demo.set_defaults(func=cmd_demo)

    sandbox = commands.add_parser("sandbox", help="the simulated company")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    generate = sandbox_commands.add_parser("generate", help="write a source drop plus truth/")
    generate.add_argument("--out", type=Path, required=True, metavar="DIR")
    _add_generation_args(generate)
    generate.add_argument(
        "--entities",
        type=_names,
        default=None,
        metavar="US[,UK…]",
        help="the entities the company trades in (US, UK, DE; default all three)",
    )
    generate.add_argument(
        "--dialect",
        dest="dialects",
        type=_names,
        default=None,
        metavar="NAME[,NAME…]",
        help="rewrite the drop in these export dialects (or 'all'); the pipeline settings "
        "they need are written to truth/config.json",
    )
    generate.set_defaults(func=cmd_sandbox_generate)
    serve = sandbox_commands.add_parser("serve", help="serve a drop over the vendors' APIs")
    serve.add_argument(
        "--source-dir", type=Path, metavar="DIR", help="default $REVOPS_HOME/sandbox"
    )
    serve.add_argument(
        "--faults", metavar="SPEC", help="e.g. rate_limit=2,server_error=1,slow=1 (see faults.py)"
    )
    serve.set_defaults(func=cmd_sandbox_serve)

    replay = commands.add_parser("replay", help="rebuild the raw layer from landing")
    replay.set_defaults(func=cmd_replay)

    run = commands.add_parser("run", help="run the pipeline as a Dagster run")
    source = run.add_mutually_exclusive_group()
    source.add_argument(
        "--source-dir",
        type=Path,
        metavar="DIR",
        help="a source drop (default: $REVOPS_SOURCE_DIR, else $REVOPS_HOME/drop)",
    )
    source.add_argument(
        "--source",
        choices=["files", "api"],
        help="where to extract from (default: $REVOPS_SOURCE, else files)",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="show Dagster's run log")
    run.add_argument(
        "--wait", action="store_true", help="wait for a run already using REVOPS_HOME to end"
    )
    run.add_argument(
        "--new-company",
        action="store_true",
        help="accept a drop whose manifest names another company than the warehouse holds",
    )
    run.set_defaults(func=cmd_run)

    _add_exceptions_parser(commands)

    trace_cmd = commands.add_parser(
        "trace", help="one record's path: opportunity → subscription → invoices → postings → …"
    )
    trace_cmd.add_argument(
        "id", help="a Salesforce, Stripe or NetSuite id, or a canonical customer id"
    )
    trace_cmd.add_argument("--format", choices=["table", "json"], default="table")
    trace_cmd.set_defaults(func=cmd_trace)

    report = commands.add_parser("report", help="(re)write the finance report")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``revops`` console script."""
    args = build_parser().parse_args(argv)
    from connectors.errors import SourceDropError
    from dagster_project.runlock import RunInProgressError

    try:
        return int(args.func(args))
    except UsageError as usage:
        _error(str(usage))
        return EXIT_UNAVAILABLE
    except RunInProgressError as busy:
        _error(str(busy))
        return EXIT_BUSY
    except SourceDropError as bad:
        _error(f"the source drop was not run: {bad}")
        return EXIT_FAILED
    except BrokenPipeError:
        # The reader of stdout went away (``revops exceptions | head``): not an error. Point
        # stdout at /dev/null so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        _error("interrupted; rerun the command to start again")
        return 130
    except Exception as exc:
        traceback.print_exc()
        _error(f"{args.command} failed with {type(exc).__name__}: {exc}; see the traceback above")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
