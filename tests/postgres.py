"""A real PostgreSQL server for the tests: Debian's ``postgresql``, started on a free loopback
port in a temporary data directory and stopped afterwards.

Debian's packages put the server binaries under ``/usr/lib/postgresql/<version>/bin``; when
none is there, the package is installed (as ``make test`` does for chromium). PostgreSQL
refuses to run as root, so as root the server runs as the ``postgres`` user the package
creates. Authentication is ``trust`` on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")


def _bin_dir() -> Path:
    versions = sorted(
        (p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not versions:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "postgresql"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        return _bin_dir()
    return versions[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    assert runuser, "running PostgreSQL as root needs runuser (util-linux) to drop to postgres"
    return [runuser, "-u", "postgres", "--", *argv]


@contextmanager
def postgres_server() -> Iterator[str]:
    """A running server with an empty database ``revops``; yields its SQLAlchemy URL.

    Its data directory is a fresh directory under the system's temporary directory (pytest's
    are private to root, and the server runs as ``postgres``), removed afterwards.
    """
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="revops-postgres-"))
    data = root / "pgdata"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = _free_port()
    log = root / "server.log"

    def run(*argv: str) -> None:
        done = subprocess.run(_as_server_user(list(argv)), capture_output=True, text=True, cwd=root)
        if done.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr.strip()} {tail}"
            )

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(log),
        "-w",
        "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
        "start",
    )
    try:
        run(
            str(bin_dir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "revops",
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/revops"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
