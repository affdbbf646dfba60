"""The workflow store: people's state of each exception and the audit of every action.

Two tables (SQLAlchemy Core, so one code path serves SQLite and PostgreSQL):

- ``exception_states``: one row per exception someone has acted on: its state (``open``,
  ``acknowledged``, ``snoozed``, ``accepted``, ``closed``), assignee, snooze date and, for an
  accepted exception, the reason and the amount and detail it was accepted at;
- ``exception_actions``: append-only, one row per action with its actor, time, note and the
  state after it. People's actions and the pipeline's (``closed_by_data``, ``reopened_by_data``,
  ``reopened_by_change``, ``snooze_ended``, actor ``revops``) are both recorded there.

The store is a SQLite file ``$REVOPS_HOME/workflow.sqlite`` unless ``REVOPS_WORKFLOW_DB`` gives
another SQLAlchemy URL (``postgresql+psycopg://user@host/db``). Its schema is managed by
Alembic (``migrations/``); opening a store brings it to the head revision, and skips importing
Alembic when it is already there (the ``revops exceptions`` path stays fast).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

# The newest migration under migrations/versions (a test keeps the two in step).
HEAD_REVISION = "0001"

WORKFLOW_DB_ENV = "REVOPS_WORKFLOW_DB"
SYSTEM_ACTOR = "revops"

# People's states; "closed" is set only by the pipeline (the data resolved the exception).
STATES = ("open", "acknowledged", "snoozed", "accepted", "closed")

metadata = MetaData()

exception_states = Table(
    "exception_states",
    metadata,
    Column("exception_id", String(64), primary_key=True),
    Column("check_id", String(64), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    Column("assignee", String(200)),
    Column("snoozed_until", Date),
    Column("accepted_reason", Text),
    Column("accepted_amount", Numeric(18, 2)),
    Column("accepted_currency", String(3)),
    Column("accepted_detail", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(200), nullable=False),
)

exception_actions = Table(
    "exception_actions",
    metadata,
    Column("action_id", Integer, primary_key=True, autoincrement=True),
    Column("exception_id", String(64), nullable=False, index=True),
    Column("action", String(32), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("acted_at", DateTime(timezone=True), nullable=False),
    Column("note", Text),
    Column("state_after", String(16), nullable=False),
)


class WorkflowStoreError(RuntimeError):
    """The store cannot be opened or written; the message names the store and what to do."""


@dataclass(frozen=True)
class HumanState:
    """People's state of one exception (a row of ``exception_states``)."""

    exception_id: str
    check_id: str
    record_id: str
    state: str
    assignee: str | None
    snoozed_until: date | None
    accepted_reason: str | None
    accepted_amount: Decimal | None
    accepted_currency: str | None
    accepted_detail: str | None
    updated_at: datetime
    updated_by: str

    def effective(self, today: date) -> str:
        """The state as of ``today``: a snooze that has ended counts as open."""
        if (
            self.state == "snoozed"
            and self.snoozed_until is not None
            and self.snoozed_until <= today
        ):
            return "open"
        return self.state


@dataclass(frozen=True)
class ActionRow:
    """One audit row."""

    exception_id: str
    action: str
    actor: str
    acted_at: datetime
    note: str | None
    state_after: str


def store_url(home: Path, url: str | None = None) -> str:
    """``url``, else ``REVOPS_WORKFLOW_DB`` if set, else the SQLite file
    ``home/workflow.sqlite``."""
    given = (url if url is not None else os.environ.get(WORKFLOW_DB_ENV, "")).strip()
    return given or f"sqlite:///{home / 'workflow.sqlite'}"


def _utc(value: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class WorkflowStore:
    """The workflow store at one SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        try:
            self.engine: Engine = _engine(url)
        except (ArgumentError, ImportError) as err:
            raise WorkflowStoreError(
                f"{WORKFLOW_DB_ENV} is not a usable SQLAlchemy URL ({err}); give e.g. "
                "sqlite:////path/workflow.sqlite or postgresql+psycopg://user@host/db"
            ) from err
        self.where = self.engine.url.render_as_string(hide_password=True)
        self._ensure_schema()

    @classmethod
    def for_home(cls, home: Path) -> WorkflowStore:
        """The store of a revops home (see :func:`store_url`)."""
        return cls(store_url(home))

    def close(self) -> None:
        self.engine.dispose()

    # --- schema --------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        """Bring the schema to :data:`HEAD_REVISION` (Alembic, imported only when needed)."""
        try:
            with self.engine.connect() as conn:
                if _revision(conn) == HEAD_REVISION:
                    return
            from reconciliation.workflow.migrate import upgrade

            with self.engine.begin() as conn:
                upgrade(conn)
        except SQLAlchemyError as err:
            raise WorkflowStoreError(
                f"the workflow store {self.where} cannot be opened: {_first_line(err)}; check "
                f"{WORKFLOW_DB_ENV} (or that the file's folder is writable)"
            ) from err

    # --- reading -------------------------------------------------------------------------

    def states(self, ids: Collection[str] | None = None) -> dict[str, HumanState]:
        """People's state of ``ids`` (default: every exception anyone has acted on)."""
        query = select(exception_states)
        if ids is not None:
            query = query.where(exception_states.c.exception_id.in_(list(ids)))
        with self._reading() as conn:
            rows = conn.execute(query).mappings().all()
        return {
            r["exception_id"]: HumanState(**{**r, "updated_at": _utc(r["updated_at"])})
            for r in rows
        }

    def history(self, exception_id: str) -> list[ActionRow]:
        """Every action on one exception, oldest first."""
        query = (
            select(
                exception_actions.c.exception_id,
                exception_actions.c.action,
                exception_actions.c.actor,
                exception_actions.c.acted_at,
                exception_actions.c.note,
                exception_actions.c.state_after,
            )
            .where(exception_actions.c.exception_id == exception_id)
            .order_by(exception_actions.c.action_id)
        )
        with self._reading() as conn:
            rows = conn.execute(query).mappings().all()
        return [ActionRow(**{**r, "acted_at": _utc(r["acted_at"])}) for r in rows]

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as err:
            raise WorkflowStoreError(
                f"the workflow store {self.where} cannot be read: {_first_line(err)}"
            ) from err

    # --- writing -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: every change inside it lands, or none does."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as err:
            raise WorkflowStoreError(
                f"the workflow store {self.where} was not changed: {_first_line(err)}"
            ) from err

    @staticmethod
    def record(
        conn: Connection,
        *,
        exception_id: str,
        check_id: str,
        record_id: str,
        action: str,
        actor: str,
        at: datetime,
        note: str | None,
        changes: dict[str, object],
    ) -> None:
        """Apply ``changes`` to the exception's state row (created on first action) and
        append the action's audit row, in the caller's transaction ``conn``."""
        current = (
            conn.execute(
                select(exception_states).where(exception_states.c.exception_id == exception_id)
            )
            .mappings()
            .first()
        )
        row: dict[str, object] = (
            dict(current)
            if current is not None
            else {
                "exception_id": exception_id,
                "check_id": check_id,
                "record_id": record_id,
                "state": "open",
                "assignee": None,
                "snoozed_until": None,
                "accepted_reason": None,
                "accepted_amount": None,
                "accepted_currency": None,
                "accepted_detail": None,
            }
        )
        row.update(changes)
        row["updated_at"] = at
        row["updated_by"] = actor
        if current is None:
            conn.execute(exception_states.insert().values(**row))
        else:
            conn.execute(
                exception_states.update()
                .where(exception_states.c.exception_id == exception_id)
                .values(**row)
            )
        conn.execute(
            exception_actions.insert().values(
                exception_id=exception_id,
                action=action,
                actor=actor,
                acted_at=at,
                note=note,
                state_after=row["state"],
            )
        )


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        database = engine.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def _first_line(err: BaseException) -> str:
    lines = str(getattr(err, "orig", None) or err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
