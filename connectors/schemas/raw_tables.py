"""The raw tables an object declaration makes: their columns and types, said once.

The loader creates its tables from :func:`raw_tables` and :func:`quarantine_table`
(``connectors.load.warehouse``), and the dbt sources of each system
(``dbt/models/staging/<system>/_<system>__sources.yml``) are written from them by
:mod:`connectors.schemas.derived`. The types dbt sees are portable
names (:data:`PORTABLE_TYPES`: ``string``, ``bigint``, ``timestamp_tz``…) that the dbt macro
``revops_column_type`` turns into the warehouse's own type, so one declaration serves every
adapter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.schemas.fields import Field, ObjectSpec

# Columns the loader adds to every object table and every child table.
OBJECT_META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_payload", "JSON"),
    ("_batch_id", "VARCHAR"),
    ("_line", "BIGINT"),
    ("_modified_at", "TIMESTAMPTZ"),
)
CHILD_META_COLUMNS: tuple[tuple[str, str], ...] = (("_payload", "JSON"), ("_batch_id", "VARCHAR"))

# DuckDB type of a declaration -> the portable name in dbt's sources (revops_column_type).
PORTABLE_TYPES: dict[str, str] = {
    "VARCHAR": "string",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "DOUBLE": "double",
    "DATE": "date",
    "TIMESTAMPTZ": "timestamp_tz",
    "JSON": "json",
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


def portable_type(sql_type: str) -> str:
    """The portable name of a declared DuckDB type (``DECIMAL(18,2)`` -> ``numeric(18,2)``).

    Raises:
        ValueError: The type has no portable name yet (add it here and to the macro).
    """
    upper = sql_type.upper()
    if upper in PORTABLE_TYPES:
        return PORTABLE_TYPES[upper]
    decimal = _DECIMAL.match(upper)
    if decimal:
        return f"numeric({decimal.group(1)},{decimal.group(2)})"
    raise ValueError(
        f"column type {sql_type!r} has no portable name: add it to PORTABLE_TYPES in "
        "connectors/schemas/raw_tables.py and to the revops_column_type macro in dbt/macros"
    )


@dataclass(frozen=True)
class RawTable:
    """One raw table: ``raw_<system>.<name>``, its columns in order, what it holds."""

    system: str
    name: str
    columns: tuple[tuple[str, str], ...]  # (column, DuckDB type)
    fields: tuple[Field, ...]  # the declared ones among the columns
    description: str = ""

    @property
    def qualified(self) -> str:
        return f"raw_{self.system}.{self.name}"


def raw_tables(spec: ObjectSpec) -> tuple[RawTable, ...]:
    """The object's table, then one table per nested list (``ChildSpec``)."""
    own = tuple((f.name, f.column_type) for f in spec.fields)
    tables = [
        RawTable(
            spec.system,
            spec.table,
            own + OBJECT_META_COLUMNS,
            spec.fields,
            spec.description,
        )
    ]
    for child in spec.children:
        keys = ((child.parent_column, "VARCHAR"), ("position", "INTEGER"))
        columns = keys + tuple((f.name, f.column_type) for f in child.fields)
        tables.append(
            RawTable(
                spec.system,
                child.table,
                columns + CHILD_META_COLUMNS,
                child.fields,
                child.description,
            )
        )
    return tuple(tables)


# Where the loader puts each record that fails validation, one table per system, with every
# rule it breaks in words (docs/architecture.md, "Quarantine"). ``payload`` is the line as
# received (text: it may not be JSON); ``record_id`` its key when one could be read (parts of
# a composite key joined by ``|``), else NULL.
QUARANTINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("batch_id", "VARCHAR"),
    ("file", "VARCHAR"),
    ("line", "BIGINT"),
    ("object", "VARCHAR"),
    ("record_id", "VARCHAR"),
    ("rule", "VARCHAR"),
    ("payload", "VARCHAR"),
    ("quarantined_at", "TIMESTAMPTZ"),
)
QUARANTINE_DESCRIPTION = (
    "Records of the system that failed validation, one row per record and load: batch, file "
    "(file:<path> or api:<request>), 1-based line, object (drop file stem), record id, every "
    "rule broken in words, the line as received, when."
)


def quarantine_table(system: str) -> RawTable:
    """``raw_<system>.quarantine``: the records of ``system`` the loader refused."""
    return RawTable(system, "quarantine", QUARANTINE_COLUMNS, (), QUARANTINE_DESCRIPTION)


def system_raw_tables(system: str, specs: tuple[ObjectSpec, ...]) -> tuple[RawTable, ...]:
    """Every raw table of ``system``: each object's tables in declaration order, then its
    quarantine."""
    return (*(t for spec in specs for t in raw_tables(spec)), quarantine_table(system))
