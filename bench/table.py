"""The benchmark's Markdown: one section per company size, rendered from the result JSON."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
STAGE_LABELS = {
    "load": "extract/load (land, type, validate, merge)",
    "dbt_build": "dbt build (staging → core → metrics, tests)",
    "reconcile": "reconciliation (13 checks, queue)",
    "publish": "publish (finance report, serving snapshot)",
}
RUN_LABELS = {
    "first_run": "first full run (empty warehouse)",
    "rerun": "unchanged re-run (same drop again)",
    "next_day": "next day's drop",
}


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _s(value: float) -> str:
    return f"{value:,.1f}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def _stage_rows(result: dict[str, Any]) -> list[str]:
    """The full run's stages beside the one-day increment's (the next day's drop)."""
    first, floor = result["first_run"], result["floor"]
    inc = result.get("increment")
    blank = " | | | | | |" if inc else ""
    rows = [
        "| stage | wall s | CPU s | peak RSS MB | rows in | rows out "
        + (
            "| +1 day: wall s | CPU s | peak RSS MB | rows in | rows out | ÷ full |" if inc else "|"
        ),
        "|---|---:|---:|---:|---:|---:|" + ("---:|---:|---:|---:|---:|---:|" if inc else ""),
    ]
    for stage, label in STAGE_LABELS.items():
        s = first["stages"][stage]
        rows.append(
            f"| {label} | {_s(s['wall_s'])} | {_s(s['cpu_s'])} | {_n(s['peak_rss_mb'])} "
            f"| {_n(s['rows_in'])} | {_n(s['rows_out'])} |" + (_inc(inc[stage]) if inc else "")
        )
    t = first["total"]
    rows.append(
        f"| **pipeline** | **{_s(t['wall_s'])}** | {_s(t['cpu_s'])} | {_n(t['peak_rss_mb'])} | | |"
        + (_inc(inc["total"], bold=True) if inc else "")
    )
    rows.append(
        f"| count floor: DuckDB `read_json` count of every input file | {_s(floor['wall_s'])} "
        f"| {_s(floor['cpu_s'])} | {_n(floor['peak_rss_mb'])} | {_n(floor['rows_in'])} | |" + blank
    )
    if "typed_floor" in result:
        typed = result["typed_floor"]
        rows.append(
            f"| typed floor: DuckDB reading every input file into tables, all "
            f"{_n(typed['columns'])} declared columns typed | {_s(typed['wall_s'])} "
            f"| {_s(typed['cpu_s'])} | {_n(typed['peak_rss_mb'])} | {_n(typed['rows_in'])} "
            f"| {_n(typed['rows_out'])} |" + blank
        )
    return rows


def _inc(figures: dict[str, Any], bold: bool = False) -> str:
    wall = f"**{_s(figures['wall_s'])}**" if bold else _s(figures["wall_s"])
    rows_in = _n(figures["rows_in"]) if "rows_in" in figures else ""
    rows_out = _n(figures["rows_out"]) if "rows_out" in figures else ""
    return (
        f" {wall} | {_s(figures['cpu_s'])} | {_n(figures['peak_rss_mb'])} | {rows_in} "
        f"| {rows_out} | {figures['vs_full']:.2f} |"
    )


def _ratio_line(result: dict[str, Any]) -> str:
    floor = result["floor"]
    if "ratios" not in result:
        return (
            f"Pipeline = **{floor['pipeline_multiple']:.1f}×** the floor; the load alone "
            f"{floor['load_multiple']:.1f}×."
        )
    r = result["ratios"]
    return (
        f"Load ÷ typed floor = **{r['load_vs_typed_floor']:.1f}×**; whole pipeline ÷ count "
        f"floor = **{r['pipeline_vs_count_floor']:.1f}×** (load ÷ count floor "
        f"{r['load_vs_count_floor']:.1f}×, pipeline ÷ typed floor "
        f"{r['pipeline_vs_typed_floor']:.1f}×; the typed floor is "
        f"{r['typed_floor_vs_count_floor']:.1f}× the count floor). The +1 day columns: the "
        "next day's drop on the warehouse the full run built (rows out of the load: records "
        "written)."
    )


def render_failed(result: dict[str, Any]) -> str:
    """A size that did not finish: where, why, and what it measured before."""
    f, m = result["failed"], result["machine"]
    why = "ran out of memory" if f["reason"] == "memory" else "failed"
    out = [
        f"### {result['customers']:,} customers, {result['months']} months — did not finish "
        f"({m['cpus']} CPUs, {m['memory_gb']} GB, {result['date']})",
        "",
        f"The step `{f['step']}` {why}"
        + (f" (exit {f['returncode']}, {_n(f['peak_rss_mb'])} MB peak)" if f["step"] else "")
        + (f"; its log: `{f['log']}`." if f.get("log") else f": {f['message']}."),
    ]
    gen = result.get("generate", {}).get("first")
    if gen:
        out += [
            "",
            f"Drop: {_n(gen['records'])} records, {gen['bytes'] / 1e6:,.0f} MB of JSONL; "
            f"generated in {_s(gen['wall_s'])} s, {_n(gen['peak_rss_mb'])} MB peak.",
        ]
    first = result.get("first_run")
    if first:
        out += [
            "",
            "First full run: "
            + ", ".join(
                f"{stage} {_s(first['stages'][stage]['wall_s'])} s "
                f"({_n(first['stages'][stage]['peak_rss_mb'])} MB)"
                for stage in STAGE_LABELS
            )
            + ".",
        ]
    return "\n".join(out) + "\n"


def _run_rows(result: dict[str, Any]) -> list[str]:
    rows = [
        "| run | wall s | × first | load | dbt build | reconcile | publish "
        "| records written by the load | open exceptions = truth |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    first_wall = result["first_run"]["total"]["wall_s"]
    for key, label in RUN_LABELS.items():
        run = result[key]
        stages = " | ".join(_s(run["stages"][s]["wall_s"]) for s in STAGE_LABELS)
        ex = run["exceptions"]
        rows.append(
            f"| {label} | {_s(run['total']['wall_s'])} | "
            f"{run['total']['wall_s'] / first_wall:.2f} | {stages} "
            f"| {_n(run['stages']['load']['rows_out'])} "
            f"| {_yes(ex['equal_truth'])} ({_n(ex['open'])}) |"
        )
    if "dagster_run" in result:
        d = result["dagster_run"]
        steps = " | ".join(_s(d["stage_steps_s"][s]) for s in STAGE_LABELS)
        rows.append(
            f"| first full run as one Dagster run (`revops run`, whole process, "
            f"{_n(d['peak_rss_mb'])} MB peak; the run {_s(d['run_s'])} s, its steps "
            f"{_s(d['steps_s'])} s) | {_s(d['wall_s'])} | {d['wall_s'] / first_wall:.2f} "
            f"| {steps} | | {_yes(d['exceptions_equal_truth'])} |"
        )
    return rows


def _peer_rows(peers: dict[str, Any]) -> list[str]:
    rows = [
        "| comparison | ours s | ours MB | peer s | peer MB | peer ÷ ours time "
        "| peer ÷ ours memory | same answer |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    labels = {
        "datacompy_posting": "invoice ↔ ERP posting: our `invoice_not_posted` + "
        "`invoice_amount_mismatch` vs datacompy `PolarsCompare`",
        "pandas_mrr": "MRR from the raw tables: dbt `+mrr_monthly` vs a pandas notebook",
    }
    for key, label in labels.items():
        p = peers[key]
        rows.append(
            f"| {label} | {_wall(p['ours'])} | {_n(p['ours']['peak_rss_mb'])} "
            f"| {_wall(p['peer'])} | {_n(p['peer']['peak_rss_mb'])} "
            f"| {p['time_ratio']:.2f}{_work_ratio(p)} | {p['memory_ratio']:.2f} "
            f"| {_yes(p['same_answer'])} |"
        )
    rows += [
        "",
        "Times are whole processes (start-up and imports included); in brackets, the work "
        "alone as timed inside the process.",
    ]
    return rows


def _wall(side: dict[str, Any]) -> str:
    work = side.get("work_s")
    return _s(side["wall_s"]) + (f" ({work:,.2f})" if work is not None else "")


def _work_ratio(peer: dict[str, Any]) -> str:
    ours, theirs = peer["ours"].get("work_s"), peer["peer"].get("work_s")
    return f" ({theirs / ours:.2f})" if ours and theirs else ""


def render_size(result: dict[str, Any]) -> str:
    if "failed" in result:
        return render_failed(result)
    gen = result["generate"]["first"]
    m = result["machine"]
    out = [
        f"### {result['customers']:,} customers, {result['months']} months "
        f"(as of {result['as_of']}; {m['cpus']} CPUs, {m['memory_gb']} GB, {result['date']})",
        "",
        f"Drop: {_n(gen['records'])} records, {gen['bytes'] / 1e6:,.0f} MB of JSONL; "
        f"generated in {_s(gen['wall_s'])} s, {_n(gen['peak_rss_mb'])} MB peak.",
        "",
        *_stage_rows(result),
        "",
        _ratio_line(result),
        "",
        *_run_rows(result),
        "",
        *_peer_rows(result["peers"]),
    ]
    if "profile" in result:
        p = result["profile"]
        out += [
            "",
            f"Slowest stage: **{STAGE_LABELS[p['stage']]}** — {p['method']} "
            f"(separate run), top entries:",
            "",
            "```",
            *p["top"],
            "```",
        ]
    return "\n".join(out) + "\n"


def render_markdown(results: Sequence[dict[str, Any]]) -> str:
    return "\n".join(render_size(r) for r in results)


def update_readme(readme: Path, table: str) -> None:
    """Replace the text between the bench markers of ``readme`` with ``table``."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{readme} has no {START} … {END} markers for the results table")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    readme.write_text(pattern.sub(lambda _: f"{START}\n{table}\n{END}", text, count=1))
