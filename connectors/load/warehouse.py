"""The warehouse's raw layer: connections, and tables created from the object declarations."""

from __future__ import annotations

from pathlib import Path

import duckdb

from connectors.schemas.fields import Field, ObjectSpec
from connectors.schemas.raw_tables import quarantine_table, raw_tables

META_DDL = (
    "CREATE SCHEMA IF NOT EXISTS raw_meta",
    """CREATE TABLE IF NOT EXISTS raw_meta.batches (
        batch_id VARCHAR, system VARCHAR, object VARCHAR, source VARCHAR, sha256 VARCHAR,
        extracted_at VARCHAR, records_in BIGINT, loaded BIGINT, quarantined BIGINT,
        cursor_max VARCHAR, loaded_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS raw_meta.cursors (
        system VARCHAR, object VARCHAR, cursor VARCHAR, updated_at TIMESTAMPTZ,
        PRIMARY KEY (system, object))""",
    """CREATE TABLE IF NOT EXISTS raw_meta.source_state (
        source VARCHAR, exported_at TIMESTAMPTZ, loaded_at TIMESTAMPTZ)""",
    # How each object's records were typed last (a digest of its declaration and link-field
    # configuration): records are only skipped as unchanged when it is the same.
    """CREATE TABLE IF NOT EXISTS raw_meta.object_specs (
        system VARCHAR, object VARCHAR, fingerprint VARCHAR, PRIMARY KEY (system, object))""",
)


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A warehouse connection with the session settings every step relies on (UTC)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        for ddl in META_DDL:
            con.execute(ddl)
    return con


def ensure_tables(con: duckdb.DuckDBPyConnection, spec: ObjectSpec) -> None:
    """Create ``raw_<system>`` with its quarantine, the object's table and its child tables."""
    schema = f"raw_{spec.system}"
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table in (quarantine_table(spec.system), *raw_tables(spec)):
        cols = ", ".join(f'"{name}" {sql_type}' for name, sql_type in table.columns)
        con.execute(f"CREATE TABLE IF NOT EXISTS {table.qualified} ({cols})")
        _add_new_columns(con, schema, table.name, table.fields)


def _add_new_columns(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, fields: tuple[Field, ...]
) -> None:
    """Add the columns a newer declaration has to a table an older revops created.

    Existing rows get NULL there until their records are loaded again; a warehouse built
    before a field was declared keeps working instead of failing on the missing column.
    """
    have = {
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    }
    for f in fields:
        if f.name not in have:
            con.execute(f'ALTER TABLE {schema}.{table} ADD COLUMN "{f.name}" {f.column_type}')


def ensure_system_tables(con: duckdb.DuckDBPyConnection, system: str) -> None:
    """Create every raw table of ``system``: an object with no file yet is an empty table."""
    from connectors.schemas import SPECS

    for spec in SPECS[system]:
        ensure_tables(con, spec)
