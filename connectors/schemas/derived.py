"""The files written from the object declarations (``connectors/schemas``), never edited.

- ``dbt/models/staging/<system>/_<system>__sources.yml``: each raw table of
  :func:`connectors.schemas.raw_tables.raw_tables` and the system's quarantine
  (:func:`~connectors.schemas.raw_tables.quarantine_table`) with its columns in order and
  their portable types, and the system's description;
- ``dbt/models/staging/meta/stg_meta__loaded_quarantined_records.sql``: the records of the
  quarantines that an object table holds a version of (the key written as the quarantine
  writes ``record_id``), so a quarantined record that has loaded since is known (macro
  ``recon_quarantine_held``);
- ``docs/raw-tables.md``: per system, each object's drop file (required or optional), its raw
  tables and their columns, and its quarantine.

``make dbt-prepare`` writes them before it parses the dbt project; ``tests/test_schemas.py``
fails when a committed one is stale.

    python -m connectors.schemas.derived            # write the stale files
    python -m connectors.schemas.derived --check    # exit 1 naming the stale ones
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from connectors.schemas import DESCRIPTIONS, SPECS
from connectors.schemas.raw_tables import (
    portable_type,
    quarantine_table,
    raw_tables,
    system_raw_tables,
)

REPO = Path(__file__).resolve().parents[2]
DBT_STAGING = REPO / "dbt" / "models" / "staging"
DOCS_PAGE = REPO / "docs" / "raw-tables.md"
LOADED_RECORDS_MODEL = "stg_meta__loaded_quarantined_records"


def sources_path(system: str, staging: Path = DBT_STAGING) -> Path:
    return staging / system / f"_{system}__sources.yml"


def render_sources(system: str) -> str:
    """The sources yml of ``system``'s raw tables."""
    lines = [
        f"# Generated from connectors/schemas/{system}.py by `python -m "
        "connectors.schemas.derived`",
        "# (make dbt-prepare): edit the declaration, not this file.",
        "version: 2",
        "",
        "sources:",
        f"  - name: raw_{system}",
        f"    schema: raw_{system}",
        "    description: >-",
        f"      {DESCRIPTIONS[system]}",
        "    config:",
        "      meta:",
        "        # on-run-start creates a missing table with exactly these columns",
        "        create_if_missing: true",
        "    tables:",
    ]
    for table in system_raw_tables(system, SPECS[system]):
        lines.append(f"      - name: {table.name}")
        if table.description:
            lines += ["        description: >-", f"          {table.description}"]
        lines.append("        columns:")
        for name, sql_type in table.columns:
            lines += [
                f"          - name: {name}",
                f"            data_type: {portable_type(sql_type)}",
            ]
    return "\n".join(lines) + "\n"


def render_docs() -> str:
    """``docs/raw-tables.md``: the drop contract and the raw layer, object by object."""
    out = [
        "# Raw tables",
        "",
        "Written from the object declarations (`connectors/schemas/<system>.py`) by",
        "`python -m connectors.schemas.derived` (`make dbt-prepare`): edit the declaration, not",
        "this page. Every object and nested-list table also has `_payload` (the record as",
        "received) and `_batch_id`; object tables `_line` and `_modified_at` too. Each system's",
        "`quarantine` holds the records that fail validation (docs/architecture.md,",
        '"Quarantine"). Types are the portable names of the dbt sources',
        "(`dbt/macros/column_types.sql`).",
    ]
    for system, specs in SPECS.items():
        out += ["", f"## {system}", "", DESCRIPTIONS[system], ""]
        out += ["| drop file | required | raw table | columns |", "|---|---|---|---|"]
        for spec in specs:
            for index, table in enumerate(raw_tables(spec)):
                columns = ", ".join(
                    f"`{name}` {portable_type(sql_type)}"
                    for name, sql_type in table.columns
                    if not name.startswith("_")
                )
                file = f"`{system}/{spec.file_name}`" if index == 0 else "(nested list)"
                required = ("yes" if spec.file_required else "no") if index == 0 else ""
                out.append(f"| {file} | {required} | `{table.qualified}` | {columns} |")
        quarantine = quarantine_table(system)
        columns = ", ".join(
            f"`{name}` {portable_type(sql_type)}" for name, sql_type in quarantine.columns
        )
        out.append(f"| (records that fail validation) | | `{quarantine.qualified}` | {columns} |")
    return "\n".join(out) + "\n"


def loaded_records_path(staging: Path = DBT_STAGING) -> Path:
    return staging / "meta" / f"{LOADED_RECORDS_MODEL}.sql"


def render_loaded_records() -> str:
    """The dbt model of the quarantined records that have a loaded version, one ``source()``
    per object table (each semi-joined with its system's quarantine, so reading it scans the
    key columns only).

    ``record_id`` is the key as the loader writes it into the quarantine: the key columns as
    text, a composite key's parts joined by ``|`` (``connectors.load.loader._key_raw``).
    """
    objects = [
        f"    ({spec.system!r}, {spec.name!r}, {spec.table!r}, {list(spec.key)!r}),"
        for specs in SPECS.values()
        for spec in specs
    ]
    lines = [
        "-- Generated from connectors/schemas by `python -m connectors.schemas.derived`",
        "-- (make dbt-prepare): edit the declarations, not this file.",
        "-- grain: one row per record of a raw object table whose key its system's quarantine",
        "-- also has (a version of it that was quarantined): its system, object (drop file",
        "-- stem) and key as the quarantine writes record_id (the key columns as text, a",
        "-- composite key's parts joined by |). A table: the checks read it many times.",
        "{{ config(materialized='table') }}",
        "{%- set string = dbt.type_string() %}",
        "{%- set objects = [",
        *objects,
        "] %}",
        "{%- for system, object, table, key in objects %}",
        "{%- set record_id -%}",
        "    nullif(",
        "        {%- for column in key %}",
        "        coalesce(cast({{ adapter.quote(column) }} as {{ string }}), '')",
        "        {%- if not loop.last %} || '|' ||{% endif %}",
        "        {%- endfor %}, ''",
        "    )",
        "{%- endset %}",
        "select",
        "    '{{ system }}' as system,",
        "    '{{ object }}' as object,",
        "    {{ record_id }} as record_id",
        "from {{ source('raw_' ~ system, table) }}",
        "where {{ record_id }} in (",
        "    select q.record_id from {{ source('raw_' ~ system, 'quarantine') }} as q",
        "    where q.object = '{{ object }}'",
        ")",
        "{%- if not loop.last %}",
        "union all",
        "{%- endif %}",
        "{%- endfor %}",
    ]
    return "\n".join(lines) + "\n"


def derived_files(staging: Path = DBT_STAGING, docs: Path = DOCS_PAGE) -> dict[Path, str]:
    """Every derived file with the text the declarations give it."""
    files = {sources_path(system, staging): render_sources(system) for system in SPECS}
    files[loaded_records_path(staging)] = render_loaded_records()
    files[docs] = render_docs()
    return files


def stale(staging: Path = DBT_STAGING, docs: Path = DOCS_PAGE) -> list[Path]:
    """The derived files that differ from what the declarations give."""
    return [
        path
        for path, text in derived_files(staging, docs).items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def write(staging: Path = DBT_STAGING, docs: Path = DOCS_PAGE) -> list[Path]:
    """Write every stale derived file; the ones written."""
    files = derived_files(staging, docs)
    written = stale(staging, docs)
    for path in written:
        path.write_text(files[path], encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say which files are stale")
    args = parser.parse_args(argv)
    if args.check:
        old = stale()
        for path in old:
            print(f"{path} is stale: run `python -m connectors.schemas.derived`", file=sys.stderr)
        return 1 if old else 0
    for path in write():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
