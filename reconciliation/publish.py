"""Publishing the serving snapshot analysts and finance query: ``serving/revenue.duckdb``.

The snapshot holds the ``core``, ``metrics`` and ``recon`` schemas of a complete build, and
the quarantine of each source system (``raw_<system>.quarantine``: the records the load
refused, which the ``record_quarantined`` exceptions name by file and line). It is
written to a new file beside the old one and moved over it in one rename, so a reader never
sees a half-written file, a connection already open on the old snapshot keeps reading it,
and a failed run (which never reaches this step) leaves the previous snapshot in place.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from connectors.schemas import SPECS
from connectors.schemas.raw_tables import RawTable, quarantine_table

PUBLISHED_SCHEMAS = ("core", "metrics", "recon")
# Raw tables published too: each system's quarantine (an empty one when the system was never
# loaded, with the declared columns).
PUBLISHED_RAW_TABLES: tuple[RawTable, ...] = tuple(quarantine_table(system) for system in SPECS)


class PublishError(RuntimeError):
    """The snapshot could not be written; the previous one is untouched."""


def publish_snapshot(warehouse: Path, serving: Path) -> dict[str, int]:
    """Copy the published schemas of ``warehouse`` into ``serving`` atomically.

    Returns the row count of every table written (``schema.table`` -> rows).
    """
    serving.parent.mkdir(parents=True, exist_ok=True)
    tmp = serving.with_name(f".{serving.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
            tables = con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'wh' "
                f"AND schema_name IN {PUBLISHED_SCHEMAS} ORDER BY 1, 2"
            ).fetchall()
            views = con.execute(
                "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = 'wh' "
                f"AND schema_name IN {PUBLISHED_SCHEMAS} AND NOT internal ORDER BY 1, 2"
            ).fetchall()
            missing = set(PUBLISHED_SCHEMAS) - {s for s, _ in tables + views}
            if missing:
                raise PublishError(
                    f"the warehouse {warehouse} has no {', '.join(sorted(missing))} schema yet: "
                    "the build did not complete, so the previous snapshot stays"
                )
            for schema in PUBLISHED_SCHEMAS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for schema, name in tables + views:
                con.execute(f'CREATE TABLE {schema}."{name}" AS SELECT * FROM wh.{schema}."{name}"')
                counts[f"{schema}.{name}"] = con.execute(
                    f'SELECT count(*) FROM {schema}."{name}"'
                ).fetchall()[0][0]
            present = set(
                con.execute(
                    "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
                    "WHERE database_name = 'wh'"
                ).fetchall()
            )
            for raw in PUBLISHED_RAW_TABLES:
                schema, name = raw.qualified.split(".")
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                columns = ", ".join(f'"{c}" {t}' for c, t in raw.columns)
                con.execute(f'CREATE TABLE {schema}."{name}" ({columns})')
                if (raw.qualified,) in present:
                    names = ", ".join(f'"{c}"' for c, _ in raw.columns)
                    con.execute(
                        f'INSERT INTO {schema}."{name}" SELECT {names} FROM wh.{schema}."{name}"'
                    )
                counts[raw.qualified] = con.execute(
                    f'SELECT count(*) FROM {schema}."{name}"'
                ).fetchall()[0][0]
            con.execute("DETACH wh")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, serving)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return counts
