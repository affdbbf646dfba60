"""Loading one landed batch into the warehouse raw layer, in one transaction.

A batch's lines are parsed and typed in DuckDB, checked against the object's declaration
(wire rules in SQL, domain rules with pandera, catalogue references, duplicate ids), and
split: every record that breaks a rule goes to ``raw_<system>.quarantine`` with its batch,
file, line, id, the rules in words and the raw payload; every valid record is merged into
``raw_<system>.<table>`` by primary key, the latest version by the object's own modification
time winning. ``raw_meta.batches`` records ``records_in = loaded + quarantined``; a batch
already loaded is a no-op.

A record whose JSON is identical to the version already stored (a full export repeats most
records every day) is recognised right after parsing, by the md5 of its JSON, and is neither
typed, validated nor written again: it counts as loaded (``BatchResult.unchanged``), and the
stored row keeps the batch and line it first came from.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from connectors.landing import LandedBatch
from connectors.load import warehouse
from connectors.load.typing_sql import (
    extract_all,
    field_items,
    sql_str,
    typed_value,
    violation,
)
from connectors.load.validate import failures
from connectors.schemas.fields import ChildSpec, Field, ObjectSpec


@dataclass(frozen=True)
class BatchResult:
    batch_id: str
    system: str
    obj: str
    records_in: int
    loaded: int
    quarantined: int
    already_loaded: bool = False
    cursor_max: str | None = None
    unchanged: int = 0  # of ``loaded``: identical to the stored version, not written again


_BOM = b"\xef\xbb\xbf"


def spec_fingerprint(spec: ObjectSpec) -> str:
    """A digest of how the object's records are typed (fields, paths, rules, children)."""
    return hashlib.md5(repr((spec.key, spec.fields, spec.children)).encode()).hexdigest()


def _split_lines(data: bytes) -> tuple[list[tuple[int, str]], dict[int, tuple[str, str]]]:
    """(line number, text) of each decodable non-blank line, and the lines that are not UTF-8.

    Exports written on Windows end lines with CRLF and may start with a UTF-8 byte-order
    mark; both are part of the file's encoding, not of the records, and are removed.
    """
    good: list[tuple[int, str]] = []
    bad: dict[int, tuple[str, str]] = {}
    data = data.removeprefix(_BOM)
    for number, line in enumerate(data.split(b"\n"), start=1):
        raw = line.removesuffix(b"\r")
        if not raw.strip():
            continue
        try:
            good.append((number, raw.decode("utf-8")))
        except UnicodeDecodeError as exc:
            bad[number] = (
                f"line is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at position {exc.start}): "
                "re-export the file as UTF-8",
                raw.decode("utf-8", errors="backslashreplace"),
            )
    return good, bad


def _select_typed(fields: tuple[Field, ...], values: str) -> tuple[str, str]:
    """SELECT items for the typed columns, and the list of violation sentences.

    ``values`` is a list column from :func:`extract_all`.
    """
    items = field_items(fields, values)
    cols = ", ".join(
        f'{typed_value(v, f)} AS "{f.name}"' for v, f in zip(items, fields, strict=True)
    )
    checks = [s for v, f in zip(items, fields, strict=True) if (s := violation(v, f)) is not None]
    problems = f"list_filter([{', '.join(checks)}], lambda x: x IS NOT NULL)" if checks else "[]"
    return cols, problems


def _key_raw(spec: ObjectSpec) -> str:
    """SQL: the record's key as written in its JSON ``j`` (parts joined by ``|``)."""
    parts = [
        f"coalesce(json_extract_string(j, {sql_str(spec.field(k).json_path)}), '')"
        for k in spec.key
    ]
    return "NULLIF(" + " || '|' || ".join(parts) + ", '')"


def _set_aside_unchanged(con: duckdb.DuckDBPyConnection, spec: ObjectSpec) -> int:
    """Move the lines identical to a stored record out of ``_parsed`` into ``_unchanged``.

    Identical = same md5 of the JSON as a stored ``_payload``, so the record (key included)
    is already in the raw layer exactly so. A key that appears more than once in the batch
    stays in ``_parsed``: the duplicate rule must see every version. ``_unchanged`` keeps the
    stored cursor value, so the batch's cursor is the same as if the line had been merged.
    """
    cursor = f'"{spec.cursor}"' if spec.cursor else "NULL"
    typed_alike = con.execute(
        "SELECT fingerprint = ? FROM raw_meta.object_specs WHERE system = ? AND object = ?",
        [spec_fingerprint(spec), spec.system, spec.name],
    ).fetchall() == [(True,)]
    if not typed_alike or not con.sql(f"SELECT 1 FROM {spec.qualified_table} LIMIT 1").fetchall():
        # Nothing stored yet (a first load), or stored by another declaration or link-field
        # configuration (its typed columns may differ): no line counts as unchanged.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _unchanged AS "
            f"SELECT NULL::BIGINT AS line_no, {cursor} AS cursor_value "
            f"FROM {spec.qualified_table} WHERE false"
        )
        return 0
    # The stored key written like the JSON's (``_key_raw``): only stored records whose key is
    # in the batch are hashed, so a small batch (an API page) costs little on a large table.
    # A typed key that prints differently from its JSON string only means no line is skipped.
    stored_key = (
        "NULLIF("
        + " || '|' || ".join(f"coalesce(CAST(\"{k}\" AS VARCHAR), '')" for k in spec.key)
        + ", '')"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _unchanged AS "
        "WITH staged AS ("
        f"  SELECT line_no, {_key_raw(spec)} AS rid, md5(j::VARCHAR) AS digest "
        "  FROM (SELECT line_no, json(text) AS j FROM _parsed WHERE is_json) "
        "  WHERE json_type(j) = 'OBJECT'"
        "), single AS ("
        "  SELECT * FROM staged QUALIFY count(*) OVER (PARTITION BY rid) = 1"
        "), stored AS ("
        f"  SELECT {stored_key} AS rid, md5(_payload::VARCHAR) AS digest, "
        f"  {cursor} AS cursor_value FROM {spec.qualified_table} "
        f"  WHERE {stored_key} IN (SELECT rid FROM staged)"
        ") "
        "SELECT s.line_no, t.cursor_value FROM single s JOIN stored t USING (rid, digest)"
    )
    con.execute("DELETE FROM _parsed WHERE line_no IN (SELECT line_no FROM _unchanged)")
    return con.sql("SELECT count(*) FROM _unchanged").fetchall()[0][0]


def _stage(con: duckdb.DuckDBPyConnection, spec: ObjectSpec, lines: list[tuple[int, str]]) -> int:
    """Temp tables ``_typed`` (one row per new or changed JSON object line), ``_child_<table>``
    and ``_unchanged``; returns how many lines were identical to stored records."""
    table = pa.table(
        {"line_no": [n for n, _ in lines], "text": [t for _, t in lines]},
        schema=pa.schema([("line_no", pa.int64()), ("text", pa.large_string())]),
    )
    con.register("_lines", table)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _parsed AS SELECT line_no, text, "
        "json_valid(text) AS is_json FROM _lines"
    )
    con.unregister("_lines")
    unchanged = _set_aside_unchanged(con, spec)
    cols, problems = _select_typed(spec.fields, "_v")
    key_raw = _key_raw(spec)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _typed AS SELECT line_no, j, {key_raw} AS _record_id, "
        f"md5(j::VARCHAR) AS _digest, {cols}, {problems} AS _problems "
        f"FROM (SELECT *, {extract_all('j', spec.fields)} AS _v FROM "
        "(SELECT line_no, json(text) AS j FROM _parsed WHERE is_json) "
        "WHERE json_type(j) = 'OBJECT')"
    )
    modified = spec.modified_at or "NULL::TIMESTAMPTZ"
    con.execute("ALTER TABLE _typed ADD COLUMN _modified_at TIMESTAMPTZ")
    con.execute(f"UPDATE _typed SET _modified_at = {modified}")
    parent_key = spec.key[0]
    for child in spec.children:
        ccols, cproblems = _select_typed(child.fields, "_cv")
        path = sql_str(child.path + "[*]")
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "_child_{child.table}" AS '
            f'SELECT line_no, "{parent_key}" AS "{child.parent_column}", position, cj, '
            f"{ccols}, {cproblems} AS _problems FROM (SELECT *, "
            f"{extract_all('cj', child.fields)} AS _cv FROM ("
            f'  SELECT line_no, "{parent_key}", unnest(json_extract(j, {path})) AS cj, '
            f"  unnest(range(1, len(json_extract(j, {path})) + 1)) AS position FROM _typed))"
        )
    return unchanged


TIME_KINDS = ("epoch", "sf_datetime", "date", "ns_timestamp")
DEFAULT_PLAUSIBLE_YEARS = 50


def plausible_years() -> int:
    """How many years a date may lie from the export's as-of (``REVOPS_PLAUSIBLE_YEARS``)."""
    value = os.environ.get("REVOPS_PLAUSIBLE_YEARS", "").strip()
    if not value:
        return DEFAULT_PLAUSIBLE_YEARS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"REVOPS_PLAUSIBLE_YEARS={value!r} must be a whole number of years, e.g. "
            f"{DEFAULT_PLAUSIBLE_YEARS}; unset it for the default"
        )
    return int(value)


def _duplicate_keys(con: duckdb.DuckDBPyConnection, table: str, col: str) -> list[tuple]:
    """(line, [keys]) of the objects in ``table.col`` that name a key twice."""
    return con.sql(
        "SELECT line_no, list_distinct(list_filter(k, lambda x, i: list_position(k, x) <> i)) "
        f'FROM (SELECT line_no, json_keys({col}) AS k FROM "{table}" '
        f"WHERE json_type({col}) = 'OBJECT') WHERE len(k) <> len(list_distinct(k))"
    ).fetchall()


def _implausible_dates(
    con: duckdb.DuckDBPyConnection, table: str, fields: tuple[Field, ...], as_of: str
) -> list[tuple]:
    """(line, [sentences]) of the records with a date far from the export's as-of."""
    times = [f for f in fields if f.kind in TIME_KINDS]
    if not times:
        return []
    years = plausible_years()
    lo = f"(TIMESTAMPTZ {sql_str(as_of)} - INTERVAL {years} YEAR)"
    hi = f"(TIMESTAMPTZ {sql_str(as_of)} + INTERVAL {years} YEAR)"
    window = f"within {years} years of the export's as-of {as_of[:10]}"
    checks = ", ".join(
        f'CASE WHEN CAST("{f.name}" AS TIMESTAMPTZ) NOT BETWEEN {lo} AND {hi} THEN '
        f"{sql_str(f.name + ' ')} || strftime(\"{f.name}\", '%Y-%m-%d') || "
        f"{sql_str(' is not a plausible date (must be ' + window + '): fix the record')} END"
        for f in times
    )
    return con.sql(
        f"SELECT line_no, p FROM (SELECT line_no, list_filter([{checks}], "
        f'lambda x: x IS NOT NULL) AS p FROM "{table}") WHERE len(p) > 0'
    ).fetchall()


def _id_in_text(spec: ObjectSpec) -> str:
    """SQL: the id of a line that is not valid JSON, found in its text (``p.text``) when the
    object has a single top-level key, so what belongs to it can be held with it."""
    if len(spec.key) != 1 or spec.field(spec.key[0]).json_path != f"$.{spec.key[0]}":
        return "NULL"
    pattern = sql_str(f'"{spec.key[0]}"\\s*:\\s*"?([A-Za-z0-9_\\-]+)')
    return f"NULLIF(regexp_extract(p.text, {pattern}, 1), '')"


def _held(con: duckdb.DuckDBPyConnection, spec: ObjectSpec) -> list[tuple[int, str]]:
    """(line, sentence) of the records whose parent record is quarantined (``spec.holds``)."""
    from connectors.schemas import spec_for

    out = []
    for hold in spec.holds:
        target = spec_for(spec.system, hold.target)
        key = target.key[0]
        quarantine = f"raw_{spec.system}.quarantine"
        for line_no, value, file, line, rule in con.execute(
            f'SELECT t.line_no, CAST(t."{hold.column}" AS VARCHAR), q.file, q.line, q.rule '
            f"FROM _typed t JOIN (SELECT record_id, arg_max(file, quarantined_at) AS file, "
            f"arg_max(line, quarantined_at) AS line, arg_max(rule, quarantined_at) AS rule "
            f"FROM {quarantine} WHERE object = ? GROUP BY record_id) q "
            f'ON q.record_id = CAST(t."{hold.column}" AS VARCHAR) '
            f'WHERE CAST(t."{hold.column}" AS VARCHAR) NOT IN '
            f'(SELECT CAST("{key}" AS VARCHAR) FROM {target.qualified_table})',
            [hold.target],
        ).fetchall():
            where = "/".join(str(file).removeprefix("file:").split("/")[-2:])
            out.append(
                (
                    line_no,
                    f"held with {hold.target} {value}, which is quarantined ({where} line "
                    f"{line}: {rule[:160]}); it loads once that record does",
                )
            )
    return out


def _problems(con: duckdb.DuckDBPyConnection, spec: ObjectSpec, as_of: str) -> dict[int, list[str]]:
    """Line number -> every rule the record breaks."""
    out: dict[int, list[str]] = defaultdict(list)
    for line_no, text in con.sql("SELECT line_no, text FROM _parsed WHERE NOT is_json").fetchall():
        try:
            json.loads(text)
            reason = "line is not valid JSON"
        except json.JSONDecodeError as exc:
            reason = f"line is not valid JSON ({exc.msg} at column {exc.colno})"
        out[line_no].append(reason + ": fix or re-export the record")
    for line_no, jtype in con.sql(
        "SELECT line_no, json_type(text) FROM _parsed WHERE is_json AND json_type(text) <> 'OBJECT'"
    ).fetchall():
        out[line_no].append(f"line is a JSON {jtype.lower()}, not an object")
    tables = [("_typed", spec.fields, "j")] + [
        (f"_child_{c.table}", c.fields, "cj") for c in spec.children
    ]
    for table, fields, json_col in tables:
        for line_no, keys in _duplicate_keys(con, table, json_col):
            named = ", ".join(repr(k) for k in keys)
            where = "the record" if json_col == "j" else "an item of the record"
            out[line_no].append(
                f"{where} names the key {named} twice (which value is meant is not knowable): "
                "fix or re-export the record"
            )
        for line_no, sentences in _implausible_dates(con, table, fields, as_of):
            out[line_no].extend(sentences)
        for line_no, problems in con.sql(
            f'SELECT line_no, _problems FROM "{table}" WHERE len(_problems) > 0'
        ).fetchall():
            out[line_no].extend(problems)
        plain = [f for f in fields if f.kind != "json"]
        frame = con.sql(
            f"SELECT line_no, _problems, {', '.join(chr(34) + f.name + chr(34) for f in plain)} "
            f'FROM "{table}" ORDER BY line_no, rowid'
        ).pl()
        typed_bad = {
            (row["line_no"], name)
            for row in frame.select("line_no", "_problems").iter_rows(named=True)
            for name in (p.split(" ", 1)[0] for p in row["_problems"])
        }
        line_of = frame["line_no"].to_list()
        for index, sentences in failures(frame.drop("_problems"), tuple(plain), table).items():
            for sentence in sentences:
                column = sentence.split(" ", 1)[0]
                if (line_of[index], column) not in typed_bad:  # already said more precisely
                    out[line_of[index]].append(sentence)
    for ref in spec.references:
        source = f"_child_{ref.child}" if ref.child else "_typed"
        target = f"raw_{spec.system}.{ref.target_table}"
        for line_no, value in con.sql(
            f'SELECT line_no, "{ref.column}" FROM "{source}" WHERE "{ref.column}" IS NOT NULL '
            f'AND "{ref.column}" NOT IN (SELECT "{ref.target_column}" FROM {target})'
        ).fetchall():
            out[line_no].append(
                f"{ref.column} {value} does not resolve to any {ref.target_table} record "
                "(neither in this drop nor already loaded)"
            )
    for line_no, sentence in _held(con, spec):
        out[line_no].append(sentence)
    for line_no, record_id, n in con.sql(
        "SELECT line_no, _record_id, count(*) OVER (PARTITION BY _record_id) FROM _typed "
        "QUALIFY count(DISTINCT _digest) OVER (PARTITION BY _record_id) > 1"
    ).fetchall():
        out[line_no].append(
            f"id {record_id} appears {n} times in this batch with different content: "
            "every version is held back until the source sends one"
        )
    return out


def load_batch(
    con: duckdb.DuckDBPyConnection,
    batch: LandedBatch,
    spec: ObjectSpec,
    *,
    advance_cursor: bool = True,
) -> BatchResult:
    """Load ``batch`` into the raw layer (no-op when it was loaded before).

    ``advance_cursor=False`` leaves ``raw_meta.cursors`` alone: api mode advances an object's
    cursor only when every page of the extraction is loaded (Stripe lists newest first, so a
    cursor moved after the first page would skip older records if the run failed midway).
    """
    warehouse.ensure_tables(con, spec)
    done = con.execute(
        "SELECT records_in, loaded, quarantined, cursor_max FROM raw_meta.batches "
        "WHERE batch_id = ? AND system = ? AND object = ?",
        [batch.batch_id, batch.system, batch.obj],
    ).fetchall()
    if done:
        r = done[0]
        return BatchResult(batch.batch_id, batch.system, batch.obj, r[0], r[1], r[2], True, r[3])
    good, bad_utf8 = _split_lines(batch.read())
    n_good = len(good)
    unchanged = _stage(con, spec, good)
    del good  # DuckDB holds the lines now; the Python copy can go
    problems = _problems(con, spec, batch.extracted_at)
    records_in = n_good + len(bad_utf8)
    rows = [
        (batch.batch_id, batch.source, line, batch.obj, None, rule, payload)
        for line, (rule, payload) in bad_utf8.items()
    ]
    con.register(
        "_bad",
        pa.table(
            {
                "line_no": pa.array(list(problems), pa.int64()),
                "rule": pa.array(["; ".join(v) for v in problems.values()], pa.large_string()),
            }
        ),
    )
    rows += con.execute(
        f"SELECT ?, ?, p.line_no, ?, coalesce(t._record_id, {_id_in_text(spec)}), b.rule, "
        "p.text FROM _bad b JOIN _parsed p USING (line_no) LEFT JOIN _typed t USING (line_no) "
        "ORDER BY p.line_no",
        [batch.batch_id, batch.source, batch.obj],
    ).fetchall()
    con.unregister("_bad")
    quarantined = len(rows)
    loaded = records_in - quarantined
    con.execute("BEGIN TRANSACTION")
    try:
        if rows:
            con.executemany(
                f"INSERT INTO raw_{spec.system}.quarantine VALUES (?, ?, ?, ?, ?, ?, ?, now())",
                rows,
            )
        _merge(con, spec, batch, list(problems) + list(bad_utf8))
        cursor_max = _cursor(con, spec)
        con.execute(
            "INSERT INTO raw_meta.batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
            [
                batch.batch_id,
                batch.system,
                batch.obj,
                batch.source,
                batch.sha256,
                batch.extracted_at,
                records_in,
                loaded,
                quarantined,
                cursor_max,
            ],
        )
        con.execute(
            "INSERT OR REPLACE INTO raw_meta.object_specs VALUES (?, ?, ?)",
            [spec.system, spec.name, spec_fingerprint(spec)],
        )
        if cursor_max is not None and advance_cursor:
            con.execute(
                "INSERT OR REPLACE INTO raw_meta.cursors VALUES (?, ?, ?, now())",
                [batch.system, batch.obj, cursor_max],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        _drop_staging(con, spec)
    return BatchResult(
        batch.batch_id,
        batch.system,
        batch.obj,
        records_in,
        loaded,
        quarantined,
        False,
        cursor_max,
        unchanged,
    )


def _merge(
    con: duckdb.DuckDBPyConnection, spec: ObjectSpec, batch: LandedBatch, bad: list[int]
) -> None:
    """Merge the valid records: per key the newest version (by modification time) wins."""
    con.register("_bad_lines", pa.table({"line_no": pa.array(bad, pa.int64())}))
    key = ", ".join(f'"{k}"' for k in spec.key)
    # A key column the vendor does not guarantee (a NetSuite link's line numbers) may be NULL.
    match = " AND ".join(f't."{k}" IS NOT DISTINCT FROM s."{k}"' for k in spec.key)
    cols = ", ".join(f'"{f.name}"' for f in spec.fields)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _valid AS SELECT line_no, {key}, _modified_at FROM _typed "
        f"WHERE line_no NOT IN (SELECT line_no FROM _bad_lines) "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY line_no) = 1"
    )
    con.unregister("_bad_lines")
    target = spec.qualified_table
    newer_exists = (
        f"EXISTS (SELECT 1 FROM {target} t WHERE {match} AND t._modified_at > s._modified_at)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _winners AS SELECT * FROM _valid s WHERE NOT {newer_exists}"
    )
    con.execute(f"DELETE FROM {target} t WHERE EXISTS (SELECT 1 FROM _winners s WHERE {match})")
    con.execute(
        f"INSERT INTO {target} ({cols}, _payload, _batch_id, _line, _modified_at) "
        f"SELECT {cols}, j, {sql_str(batch.batch_id)}, line_no, _modified_at FROM _typed "
        "WHERE line_no IN (SELECT line_no FROM _winners) ORDER BY line_no"
    )
    for child in spec.children:
        _merge_child(con, spec, child, batch)


def _merge_child(
    con: duckdb.DuckDBPyConnection, spec: ObjectSpec, child: ChildSpec, batch: LandedBatch
) -> None:
    target = f"raw_{spec.system}.{child.table}"
    parent = f'"{child.parent_column}"'
    cols = ", ".join(f'"{f.name}"' for f in child.fields)
    child_cols = ", ".join(f'c."{f.name}"' for f in child.fields)
    con.execute(f'DELETE FROM {target} WHERE {parent} IN (SELECT "{spec.key[0]}" FROM _winners)')
    con.execute(
        f"INSERT INTO {target} ({parent}, position, {cols}, _payload, _batch_id) "
        f"SELECT c.{parent}, c.position, {child_cols}, "
        f'c.cj, {sql_str(batch.batch_id)} FROM "_child_{child.table}" c '
        f"JOIN _winners w ON w.line_no = c.line_no"
    )


def _drop_staging(con: duckdb.DuckDBPyConnection, spec: ObjectSpec) -> None:
    """Free the batch's temp tables (a large batch's JSON is the bulk of the memory)."""
    tables = ["_parsed", "_typed", "_valid", "_winners", "_unchanged"] + [
        f"_child_{c.table}" for c in spec.children
    ]
    for table in tables:
        con.execute(f'DROP TABLE IF EXISTS "{table}"')


def _cursor(con: duckdb.DuckDBPyConnection, spec: ObjectSpec) -> str | None:
    """The batch's largest cursor value, written as the vendor's API filters take it."""
    if spec.cursor is None:
        return None
    f = spec.field(spec.cursor)
    fmt = {
        "epoch": f'CAST(epoch(max("{f.name}")) AS BIGINT)::VARCHAR',
        "sf_datetime": f"strftime(max(\"{f.name}\"), '%Y-%m-%dT%H:%M:%SZ')",
        "ns_timestamp": f"strftime(max(\"{f.name}\"), '%Y-%m-%d %H:%M:%S')",
    }[f.kind]
    value = con.sql(
        f'SELECT {fmt} FROM (SELECT "{f.name}" FROM _typed '
        "WHERE line_no IN (SELECT line_no FROM _valid) "
        f'UNION ALL SELECT cursor_value AS "{f.name}" FROM _unchanged)'
    ).fetchall()[0][0]
    return value
