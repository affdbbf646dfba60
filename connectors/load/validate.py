"""Domain rules on typed rows, as pandera schemas derived from each object's declaration."""

from __future__ import annotations

import re
from collections import defaultdict

import pandera.polars as pa
import polars as pl

from connectors.schemas.fields import KNOWN_CURRENCIES, Field

_SF_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_checksum_ok(value: str) -> bool:
    """The last 3 characters of an 18-character Salesforce id are its case checksum."""
    if len(value) != 18:
        return False
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, ch in enumerate(value[chunk * 5 : chunk * 5 + 5]) if ch.isupper())
        suffix += _SF_CHECKSUM[bits]
    return suffix == value[15:]


def _checks(field: Field) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if field.pattern:
        checks.append(pa.Check.str_matches(field.pattern, error=f"{field.name} format"))
        if field.sf_checksum:
            checks.append(
                pa.Check(
                    lambda data: data.lazyframe.select(
                        pl.col(data.key).map_elements(
                            salesforce_checksum_ok, return_dtype=pl.Boolean
                        )
                    ),
                    error="salesforce_checksum",
                )
            )
    if field.enum:
        checks.append(pa.Check.isin(list(field.enum), error="enum"))
    if field.min_value is not None:
        checks.append(pa.Check.ge(field.min_value, error="min_value"))
    if field.currency:
        known = sorted(KNOWN_CURRENCIES | {c.lower() for c in KNOWN_CURRENCIES})
        checks.append(pa.Check.isin(known, error="currency"))
    return checks


def schema_for(fields: tuple[Field, ...], name: str) -> pa.DataFrameSchema:
    """The pandera schema of one object's (or child table's) typed columns."""
    columns = {
        f.name: pa.Column(nullable=not f.required, checks=_checks(f), required=True)
        for f in fields
        if f.kind != "json"
    }
    return pa.DataFrameSchema(columns, name=name, strict=False, coerce=False)


def _sentence(field: Field, check: str, value: object) -> str:
    if check == "not_nullable":
        return f"{field.name} is required but missing"
    if check == "enum":
        allowed = ", ".join(field.enum or ())
        return f"{field.name} {value!r} is not a value the vendor defines ({allowed})"
    if check == "currency":
        return f"{field.name} {value!r} is not a known ISO 4217 currency code"
    if check == "min_value":
        return f"{field.name} must not be below {field.min_value:g}, got {value}"
    if check == "salesforce_checksum":
        return f"{field.name} {value!r} fails the Salesforce id checksum (not a Salesforce id)"
    if check.endswith("format"):
        return f"{field.name} {value!r} does not match the id format {field.pattern}"
    return f"{field.name} fails {check} (value {value!r})"


def failures(df: pl.DataFrame, fields: tuple[Field, ...], name: str) -> dict[int, list[str]]:
    """Row index -> sentences for each rule the row breaks (empty when all rows pass)."""
    by_name = {f.name: f for f in fields}
    try:
        schema_for(fields, name).validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        out: dict[int, list[str]] = defaultdict(list)
        for row in exc.failure_cases.iter_rows(named=True):
            if row["index"] is None or row["column"] not in by_name:
                raise
            check = re.sub(r"\(.*", "", str(row["check"]))
            out[int(row["index"])].append(
                _sentence(by_name[row["column"]], check, row["failure_case"])
            )
        return dict(out)
    return {}
