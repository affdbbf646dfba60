"""Each source object is declared once (``connectors/schemas``); the rest is derived from it.

- The dbt sources yml of every system and docs/raw-tables.md are what the declarations give
  (committed, written by ``make dbt-prepare``), with portable column types.
- The drop contract's required and optional files are the declarations' files.
- A field added to a declaration reaches the loader's table and the dbt sources alike.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from connectors.drop import OPTIONAL_FILES, REQUIRED_FILES
from connectors.load.warehouse import connect, ensure_tables
from connectors.schemas import SPECS, Field
from connectors.schemas import derived as gen
from connectors.schemas.raw_tables import portable_type, raw_tables

pytestmark = pytest.mark.unit


def test_the_committed_derived_files_are_the_declarations() -> None:
    """The dbt sources yml and docs/raw-tables.md."""
    assert gen.stale() == [], "run `python -m connectors.schemas.derived` (make dbt-prepare)"


def test_sources_carry_portable_types_in_declaration_order() -> None:
    text = gen.render_sources("stripe")
    customers = text.index("      - name: customers\n")
    ids = text.index("          - name: id\n            data_type: string", customers)
    created = text.index("          - name: created\n            data_type: timestamp_tz", ids)
    payload = text.index("          - name: _payload\n            data_type: json", created)
    assert customers < ids < created < payload
    assert "varchar" not in text and "timestamp with time zone" not in text
    assert portable_type("DECIMAL(18,8)") == "numeric(18,8)"
    with pytest.raises(ValueError, match="no portable name"):
        portable_type("HUGEINT")


def test_the_drop_contract_is_the_declarations_files() -> None:
    for system, specs in SPECS.items():
        declared = {spec.file_name: spec.file_required for spec in specs}
        assert set(REQUIRED_FILES[system]) == {f for f, req in declared.items() if req}
        assert set(OPTIONAL_FILES[system]) == {f for f, req in declared.items() if not req}


def test_a_field_added_once_reaches_the_loader_table_and_the_dbt_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (customers, *rest) = SPECS["stripe"]
    added = replace(customers, fields=(*customers.fields, Field("preferred_locale", "str")))
    monkeypatch.setitem(SPECS, "stripe", (added, *rest))

    assert "          - name: preferred_locale\n            data_type: string" in (
        gen.render_sources("stripe")
    )
    con = connect(tmp_path / "warehouse.duckdb")
    ensure_tables(con, added)
    columns = [
        name
        for (name,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'raw_stripe' "
            "AND table_name = 'customers' ORDER BY column_index"
        ).fetchall()
    ]
    con.close()
    assert columns == [name for name, _ in raw_tables(added)[0].columns]
    assert "preferred_locale" in columns
