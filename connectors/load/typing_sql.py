"""SQL that types JSON records in DuckDB and names each wire-format violation in words.

For every :class:`~connectors.schemas.fields.Field` two expressions over the field's JSON
value (``v``: the result of one multi-path ``json_extract`` per record, so each document is
parsed once): the typed value (NULL when absent, null or malformed) and a violation sentence
(NULL when the value is fine). The loader collects the sentences per record; a record with
any goes to quarantine.
"""

from __future__ import annotations

from connectors.schemas.fields import Field

_INTEGER = "('BIGINT', 'UBIGINT')"
_NUMBER = "('BIGINT', 'UBIGINT', 'DOUBLE')"

# Each wire kind: (accepted JSON types, string pattern or None, what it must be in words).
_RULES: dict[str, tuple[str, str | None, str]] = {
    "str": ("('VARCHAR')", None, "a string"),
    "int": (_INTEGER, None, "an integer"),
    "epoch": (_INTEGER, None, "a Unix timestamp in whole seconds"),
    "bool": ("('BOOLEAN')", None, "true or false"),
    "number": (_NUMBER, None, "a JSON number"),
    "sf_datetime": (
        "('VARCHAR')",
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?(Z|[+-]\d\d:?\d\d)",
        "a datetime with its UTC offset, like 2026-04-01T12:34:56.000+0000",
    ),
    "date": ("('VARCHAR')", r"\d{4}-\d\d-\d\d", "a date written YYYY-MM-DD"),
    "ns_str": ("('VARCHAR')", None, "a string"),
    "ns_int": ("('VARCHAR')", r"-?\d+", "a whole number written as a string"),
    "ns_decimal": ("('VARCHAR')", r"-?\d+(\.\d+)?", "a number written as a string"),
    "ns_bool": ("('VARCHAR')", "[TF]", "'T' or 'F'"),
    "ns_timestamp": (
        "('VARCHAR')",
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",
        "a UTC timestamp written YYYY-MM-DD HH24:MI:SS",
    ),
}


def extract_all(json_col: str, fields: tuple[Field, ...]) -> str:
    """One ``json_extract`` for every path of every field (see :func:`field_items`)."""
    paths = [p for f in fields for p in f.json_paths]
    return f"json_extract({json_col}, [{', '.join(sql_str(p) for p in paths)}])"


def field_items(fields: tuple[Field, ...], values: str) -> list[str]:
    """Per field, the expression of its JSON value within ``values`` (an :func:`extract_all`
    list): its first path that is present and not null, else the first path's value."""
    items: list[str] = []
    i = 1
    for f in fields:
        found = [f"{values}[{i + k}]" for k in range(len(f.json_paths))]
        i += len(found)
        expr = found[-1]
        for candidate in reversed(found[:-1]):
            absent = f"coalesce(json_type({candidate}), 'NULL') = 'NULL'"
            present = f"coalesce(json_type({expr}), 'NULL') <> 'NULL'"
            expr = f"CASE WHEN {absent} AND {present} THEN {expr} ELSE {candidate} END"
        items.append(expr)
    return items


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _raw(v: str) -> str:
    return f"json_extract_string({v}, '$')"


def _jtype(v: str) -> str:
    return f"json_type({v})"


def _cast(field: Field, raw: str) -> str:
    """The typed value, given that the wire form is acceptable."""
    kind, target = field.kind, field.column_type
    if kind in ("str", "ns_str"):
        return raw
    if kind in ("int", "ns_int"):
        return f"TRY_CAST({raw} AS BIGINT)"
    if kind == "epoch":
        return f"to_timestamp(TRY_CAST({raw} AS BIGINT))"
    if kind == "bool":
        return f"({raw} = 'true')"
    if kind == "ns_bool":
        return f"({raw} = 'T')"
    if kind in ("number", "ns_decimal"):
        return f"TRY_CAST({raw} AS {target})"
    if kind in ("sf_datetime",):
        return f"TRY_CAST({raw} AS TIMESTAMPTZ)"
    if kind == "date":
        return f"TRY_CAST({raw} AS DATE)"
    if kind == "ns_timestamp":
        return f"(TRY_CAST({raw} AS TIMESTAMP) AT TIME ZONE 'UTC')"
    raise ValueError(f"unknown kind {kind!r} for field {field.name}")


def typed_value(v: str, field: Field) -> str:
    """Expression for the column's typed value (NULL unless the wire form is right)."""
    if field.kind == "json":
        return v
    types, pattern, _ = _RULES[field.kind]
    raw = _raw(v)
    ok = f"{_jtype(v)} IN {types}"
    if pattern:
        ok += f" AND regexp_full_match({raw}, {sql_str(pattern)})"
    return f"CASE WHEN {ok} THEN {_cast(field, raw)} END"


def violation(v: str, field: Field) -> str | None:
    """Expression for the sentence saying what is wrong with the value (NULL when fine)."""
    if field.kind == "json":
        return None
    types, pattern, words = _RULES[field.kind]
    raw = _raw(v)
    jtype = _jtype(v)
    shown = f"left(coalesce({v}::VARCHAR, ''), 80)"
    bad_type = f"{jtype} NOT IN {types} AND {jtype} <> 'NULL'"
    bad = bad_type
    if pattern:
        mismatch = f"NOT regexp_full_match({raw}, {sql_str(pattern)})"
        bad = f"({bad_type}) OR ({jtype} IN {types} AND {mismatch})"
    # A well-formed string that still does not convert (2026-02-30) is wrong too.
    unconvertible = f"{jtype} IN {types} AND ({typed_value(v, field)}) IS NULL"
    message = sql_str(f"{field.name} must be {words}, got ") + f" || {shown}"
    return f"CASE WHEN ({bad}) OR ({unconvertible}) THEN {message} END"
