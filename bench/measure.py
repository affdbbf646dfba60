"""Whole-process measurement of one command: wall time, CPU time and peak RSS.

Every measured step of the benchmark is its own process, so its figures are the kernel's
accounting for that process (``os.wait4``): CPU = user + system time of the process and of
the children it waited for (dbt's threads and subprocesses included), peak RSS = the largest
resident set of the process or of any of those children.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


class StepFailed(RuntimeError):
    """A measured command exited non-zero; the message names the command and its log.

    ``returncode`` is the exit code (negative: killed by that signal, ``-9`` is what the
    kernel's out-of-memory killer leaves), ``log`` the command's output, ``peak_rss_mb`` the
    largest resident set it reached before it ended.
    """

    def __init__(self, message: str, *, returncode: int, log: Path, peak_rss_mb: float) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.log = log
        self.peak_rss_mb = peak_rss_mb


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in asdict(self).items()}


def measure(
    command: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Measured:
    """Run ``command`` to completion with its output in ``log`` and return its figures.

    Raises:
        StepFailed: the command exited non-zero (the last lines of ``log`` are quoted).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env or os.environ),
            cwd=cwd,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise StepFailed(
            f"`{' '.join(command)}` exited {proc.returncode}; its log is {log}:\n{tail}",
            returncode=proc.returncode,
            log=log,
            peak_rss_mb=usage.ru_maxrss / 1024,
        )
    return Measured(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports kilobytes
    )
