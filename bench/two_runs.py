"""Two ``revops run`` started at once on one fresh home: one runs, the other refuses in one line.

For each try a fresh ``REVOPS_HOME`` is made and two ``revops run --source-dir DROP``
processes are started back to back (a few milliseconds apart, neither waiting for the other).
The run lock (``dagster_project/runlock.py``) must let exactly one run: it exits 0, and the
other exits 3 with exactly one line on stderr, ``revops: another revops run (pid <winner>,
...``, naming the winner's pid, having launched nothing (the home's Dagster instance then
holds exactly one run, a success). Reported per try: both exit codes, both wall times, who
won (first or second started) and whether the try is clean. Usage::

    python -m bench.two_runs --tries 20 --drop DIR [--work DIR] [--json FILE]

Without ``--drop`` a small sandbox company (20 customers, 3 months) is generated into the
work directory. Work files (homes, logs) go to ``--work`` (default
``$REVOPS_HOME/bench/two_runs``, else ``data/bench/two_runs``); each try's home is removed
when the try is clean unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REVOPS = Path(sys.executable).parent / "revops"
REFUSAL = "revops: another revops run (pid "
EXIT_BUSY = 3


@dataclass
class Proc:
    """One of the two processes of a try."""

    order: int  # 0: started first, 1: started second
    pid: int
    exit_code: int
    wall_s: float
    stderr_lines: list[str]
    stdout_tail: list[str]


@dataclass
class Try:
    index: int
    home: str
    procs: list[Proc]
    runs_in_instance: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    @property
    def winner(self) -> Proc | None:
        ok = [p for p in self.procs if p.exit_code == 0]
        return ok[0] if len(ok) == 1 else None

    @property
    def loser(self) -> Proc | None:
        busy = [p for p in self.procs if p.exit_code == EXIT_BUSY]
        return busy[0] if len(busy) == 1 else None


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["REVOPS_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _nonblank(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _instance_runs(home: Path) -> list[str]:
    """Statuses of the runs in the home's Dagster instance (none when it was never made)."""
    if not (home / "dagster" / "history" / "runs.db").exists():
        return []
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        return sorted(r.status.value for r in instance.get_runs())


def one_try(index: int, drop: Path, work: Path, keep: bool) -> Try:
    """Start two runs at once on a fresh home, wait for both and judge the outcome."""
    home = work / f"try-{index:02d}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    cmd = [str(REVOPS), "run", "--source-dir", str(drop)]
    logs = [(home / f"proc{i}.out", home / f"proc{i}.err") for i in range(2)]
    handles = [(out.open("w"), err.open("w")) for out, err in logs]
    started: list[float] = []
    popens: list[subprocess.Popen[bytes]] = []
    for out, err in handles:
        started.append(time.perf_counter())
        popens.append(subprocess.Popen(cmd, env=_env(home), stdout=out, stderr=err))
    # Reap whichever ends first, so each wall time is its own (not the slower one's).
    walls: dict[int, float] = {}
    codes: dict[int, int] = {}
    pending = {p.pid: i for i, p in enumerate(popens)}
    while pending:
        pid, status = os.wait()[:2]
        if pid not in pending:
            continue
        i = pending.pop(pid)
        walls[i] = time.perf_counter() - started[i]
        codes[i] = os.waitstatus_to_exitcode(status)
        popens[i].returncode = codes[i]
    for out, err in handles:
        out.close()
        err.close()
    procs = [
        Proc(
            order=i,
            pid=popens[i].pid,
            exit_code=codes[i],
            wall_s=round(walls[i], 3),
            stderr_lines=_nonblank(logs[i][1].read_text(errors="replace")),
            stdout_tail=_nonblank(logs[i][0].read_text(errors="replace"))[-5:],
        )
        for i in range(2)
    ]
    result = Try(index=index, home=str(home), procs=procs)
    result.runs_in_instance = _instance_runs(home)
    judge(result)
    if result.clean and not keep:
        shutil.rmtree(home, ignore_errors=True)
    return result


def judge(result: Try) -> None:
    """Fill ``result.problems``: everything that is not one success and one one-line refusal."""
    codes = sorted(p.exit_code for p in result.procs)
    if codes != [0, EXIT_BUSY]:
        result.problems.append(f"exit codes {codes}, expected [0, {EXIT_BUSY}]")
    winner, loser = result.winner, result.loser
    if loser is not None:
        if len(loser.stderr_lines) != 1:
            result.problems.append(
                f"the refused run wrote {len(loser.stderr_lines)} lines on stderr, expected 1"
            )
        last = loser.stderr_lines[-1] if loser.stderr_lines else ""
        if not last.startswith(REFUSAL):
            result.problems.append(f"the refused run's last line is {last!r}")
        elif winner is not None and not last.startswith(f"{REFUSAL}{winner.pid},"):
            result.problems.append(f"the refusal does not name the winner (pid {winner.pid})")
        if loser.stdout_tail:
            result.problems.append(f"the refused run printed {loser.stdout_tail!r}")
    if result.runs_in_instance != ["SUCCESS"]:
        result.problems.append(f"runs in the instance: {result.runs_in_instance}, expected one")


def small_drop(root: Path) -> Path:
    """A small sandbox company when no ``--drop`` is given (generated once per work dir)."""
    from connectors.sandbox.generate import generate

    if not (root / "manifest.json").is_file():
        generate(root, customers=20, months=3, seed=1, progress=False)
    return root


def render(tries: list[Try]) -> str:
    lines = [
        "| try | exit codes (1st, 2nd) | winner | winner s | refused s | refusal line | ok |",
        "|---:|---|---|---:|---:|---|---|",
    ]
    for t in tries:
        first, second = t.procs
        winner, loser = t.winner, t.loser
        refusal = loser.stderr_lines[-1] if loser and loser.stderr_lines else ""
        short = (refusal[:60] + "…") if len(refusal) > 60 else refusal
        lines.append(
            f"| {t.index} | {first.exit_code}, {second.exit_code} "
            f"| {'1st' if winner and winner.order == 0 else '2nd' if winner else '-'} "
            f"| {f'{winner.wall_s:.1f}' if winner else '-'} "
            f"| {f'{loser.wall_s:.2f}' if loser else '-'} "
            f"| ``{short}`` | {'yes' if t.clean else 'NO: ' + '; '.join(t.problems)} |"
        )
    clean = [t for t in tries if t.clean]
    lines.append("")
    lines.append(
        f"{len(clean)}/{len(tries)} tries: exactly one run succeeded and the other ended "
        f"with one line `{REFUSAL}…` (exit {EXIT_BUSY})"
    )
    winners = [t.winner.wall_s for t in clean if t.winner]
    losers = [t.loser.wall_s for t in clean if t.loser]
    if winners:
        lines.append(
            f"winner wall s: median {statistics.median(winners):.1f}, "
            f"min {min(winners):.1f}, max {max(winners):.1f}"
        )
    if losers:
        lines.append(
            f"refused after s: median {statistics.median(losers):.2f}, "
            f"min {min(losers):.2f}, max {max(losers):.2f}"
        )
    firsts = sum(1 for t in clean if t.winner and t.winner.order == 0)
    if clean:
        lines.append(f"the first-started process won {firsts}/{len(clean)} clean tries")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.two_runs", description=__doc__)
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument(
        "--drop", type=Path, help="a source drop (default: a small generated company)"
    )
    parser.add_argument("--work", type=Path, help="work directory for homes and logs")
    parser.add_argument("--json", type=Path, help="write every try's figures here")
    parser.add_argument("--keep", action="store_true", help="keep the homes of clean tries")
    args = parser.parse_args(argv)
    base = Path(os.environ.get("REVOPS_HOME") or "data").expanduser().resolve()
    work = (args.work or base / "bench" / "two_runs").expanduser().resolve()
    work.mkdir(parents=True, exist_ok=True)
    drop = (args.drop or small_drop(work / "small-drop")).expanduser().resolve()
    if not (drop / "manifest.json").exists():
        parser.error(f"{drop} is not a source drop (no manifest.json)")
    print(f"{args.tries} tries of two `revops run --source-dir {drop}` at once; work in {work}")
    tries = []
    for index in range(1, args.tries + 1):
        result = one_try(index, drop, work, args.keep)
        tries.append(result)
        first, second = result.procs
        print(
            f"try {index:2d}: exits {first.exit_code},{second.exit_code}  "
            f"{first.wall_s:7.2f}s {second.wall_s:7.2f}s  "
            f"{'ok' if result.clean else 'PROBLEM: ' + '; '.join(result.problems)}",
            flush=True,
        )
    print()
    print(render(tries))
    out = args.json or work / "two_runs.json"
    payload = [{**asdict(t), "clean": t.clean, "problems": t.problems} for t in tries]
    out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(f"figures: {out}")
    return 0 if all(t.clean for t in tries) else 1


if __name__ == "__main__":
    sys.exit(main())
