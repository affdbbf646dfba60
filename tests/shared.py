"""Builds that several tests need, made once per test session and shared by every xdist worker.

A shared build is a directory under the session's base temporary directory (the one both
workers of ``pytest -n 2`` see: their own base directories are inside it); the first worker
that asks for it builds it while holding an ``flock`` on a file beside it, the others wait for
the lock and find it done. A build that failed is not tried again: whoever asks later fails
with its traceback. A shared build is never written after it is done: a test that changes
what it holds works on a copy (``copy_home``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of this test session that every xdist worker sees."""
    base = tmp_path_factory.getbasetemp()
    # An xdist worker's base directory is <session>/popen-gwN; without xdist it is the
    # session's own.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if absent) across processes."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_build(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """The directory ``name`` of the session, made by ``build(directory)`` the first time any
    worker asks for it.

    Raises:
        RuntimeError: The build failed (in this worker or in another one).
    """
    root = session_dir(tmp_path_factory) / "shared"
    root.mkdir(exist_ok=True)
    target, done, failed = root / name, root / f"{name}.done", root / f"{name}.failed"
    with locked(root / f"{name}.lock"):
        if failed.exists():
            raise RuntimeError(f"the shared build {name} failed:\n{failed.read_text()}")
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            try:
                build(target)
            except BaseException:
                failed.write_text(traceback.format_exc(), encoding="utf-8")
                raise
            done.touch()
    return target


def copy_home(home: Path, to: Path) -> Path:
    """A copy of the revops home ``home`` at ``to``: its warehouse, snapshot, Dagster instance
    and dbt artifacts. Only history names the old directory (dbt's artifacts, the parse dbt
    keeps, which the next run on the copy makes anew): the copy is a home of its own."""
    return Path(shutil.copytree(home, to, symlinks=True))
