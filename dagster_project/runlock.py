"""One revops run at a time per ``REVOPS_HOME``, held by something a dead process cannot hold.

The lock is an OS file lock (``flock``) on ``$REVOPS_HOME/.run.lock``: the kernel releases it
when the process that holds it ends, however it ends (kill -9, OOM, power cut). The file
also says who holds it (pid, command, start time), so a second ``revops run`` can say in one
line who is running instead of waiting in silence. No Dagster import here: taking the lock,
or refusing, is immediate.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = ".run.lock"


class RunInProgressError(RuntimeError):
    """Another revops run holds the home's run lock."""


def _holder(path: Path, tries: int = 10) -> str:
    """Who holds the lock, from the lock file (read again for a moment while the holder is
    between taking the lock and writing its name)."""
    info: dict = {}
    for attempt in range(tries):
        try:
            info = json.loads(path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            info = {}
        if info and _alive(info.get("pid")):
            break
        info = {}  # not written yet, or a dead holder's name before the new one's
        if attempt + 1 < tries:
            time.sleep(0.05)
    if not info:
        return "another revops run"
    return (
        f"another revops run (pid {info.get('pid')}, `revops {info.get('command')}`, "
        f"started {info.get('started_at')})"
    )


def _alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def run_lock(
    home: Path,
    command: str,
    *,
    wait: bool = False,
    say: Callable[[str], None] = print,
    poll_seconds: float = 1.0,
) -> Iterator[None]:
    """Hold ``home``'s run lock for the duration.

    Args:
        home: The runtime home.
        command: What is running (``run``, ``demo``), written into the lock file.
        wait: Wait for a running run to end instead of refusing.
        say: Where the waiting line goes.
        poll_seconds: How often a waiting process tries again.

    Raises:
        RunInProgressError: Another process holds the lock and ``wait`` is false; its message
            names the holder and what to do.
    """
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(path)
                if not wait:
                    raise RunInProgressError(
                        f"{holder} is using {home}: wait for it to finish, or run again "
                        "with --wait to start when it ends"
                    ) from None
                if not announced:
                    say(f"waiting for {holder} to finish")
                    announced = True
                time.sleep(poll_seconds)
        info = {
            "pid": os.getpid(),
            "command": command,
            "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        data = json.dumps(info).encode()
        os.pwrite(fd, data, 0)  # overwrite in place, then cut what a longer old name left
        os.ftruncate(fd, len(data))
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def remove_publish_leftovers(serving_dir: Path) -> list[Path]:
    """Delete the temp files a killed publish left (``.revenue.duckdb.<pid>.tmp`` and its
    ``.wal``). Only call it while holding the run lock: then no publish is under way."""
    removed = []
    if serving_dir.is_dir():
        for leftover in sorted(serving_dir.glob(".*.tmp*")):
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


def held_by(home: Path) -> str | None:
    """Who holds ``home``'s run lock (a sentence), or None when nobody does."""
    path = home / LOCK_NAME
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
