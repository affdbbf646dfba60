"""The dbt sources of the raw layer, written from the object declarations.

``dbt/models/staging/<system>/_<system>__sources.yml`` is generated, not edited: each raw
table of :func:`connectors.schemas.raw_tables.raw_tables` with its columns in order and their
portable types, and the system's description. ``make dbt-prepare`` writes the files before
it parses the project; ``tests/test_schemas.py`` fails when a committed file is stale.

    python -m connectors.schemas.dbt_sources            # write the three files
    python -m connectors.schemas.dbt_sources --check    # exit 1 naming the stale ones
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from connectors.schemas import DESCRIPTIONS, SPECS
from connectors.schemas.raw_tables import portable_type, raw_tables

DBT_STAGING = Path(__file__).resolve().parents[2] / "dbt" / "models" / "staging"


def sources_path(system: str, staging: Path = DBT_STAGING) -> Path:
    return staging / system / f"_{system}__sources.yml"


def render_sources(system: str) -> str:
    """The sources yml of ``system``'s raw tables."""
    lines = [
        f"# Generated from connectors/schemas/{system}.py by `python -m "
        "connectors.schemas.dbt_sources`",
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
    for spec in SPECS[system]:
        for table in raw_tables(spec):
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


def stale(staging: Path = DBT_STAGING) -> list[Path]:
    """The sources files that differ from what the declarations give."""
    return [
        sources_path(system, staging)
        for system in SPECS
        if not sources_path(system, staging).is_file()
        or sources_path(system, staging).read_text(encoding="utf-8") != render_sources(system)
    ]


def write(staging: Path = DBT_STAGING) -> list[Path]:
    """Write every stale sources file; the ones written."""
    written = stale(staging)
    for path in written:
        system = path.parent.name
        path.write_text(render_sources(system), encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say which files are stale")
    args = parser.parse_args(argv)
    if args.check:
        old = stale()
        for path in old:
            print(
                f"{path} is stale: run `python -m connectors.schemas.dbt_sources`", file=sys.stderr
            )
        return 1 if old else 0
    for path in write():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
