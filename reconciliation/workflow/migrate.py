"""Alembic, driven from code: the store's schema brought to the newest migration.

``migrations/`` is an ordinary Alembic script directory (``alembic revision`` works on it
with ``-c`` pointing at a config whose ``script_location`` is that folder); revops runs it
programmatically on the connection it already holds, so no ``alembic.ini`` is needed.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).parent / "migrations"


def config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Run every migration up to ``revision`` on ``conn`` (inside the caller's transaction)."""
    command.upgrade(config(conn), revision)


def head() -> str:
    """The newest revision of the script directory."""
    revision = ScriptDirectory.from_config(config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migrations under {MIGRATIONS}")
    return revision
