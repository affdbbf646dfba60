"""Writing records as JSON lines, vectorised through polars.

Polars cannot hold an empty struct, so an empty JSON object is written as the string
sentinel ``EMPTY_OBJECT`` and replaced on the way out; NetSuite omits NULL columns, which
``write_jsonl(..., drop_nulls=True)`` does for flat records.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

EMPTY_OBJECT = "@{}"
_EMPTY_OBJECT_JSON = f'"{EMPTY_OBJECT}"'


def empty_object() -> pl.Expr:
    """An expression that is written as ``{}``."""
    return pl.lit(EMPTY_OBJECT)


def encode(df: pl.DataFrame, *, drop_nulls: bool = False) -> pl.Series:
    """Each row as one JSON object (keys in column order)."""
    if df.height == 0:
        return pl.Series("json", [], dtype=pl.String)
    line = df.select(pl.struct(pl.all()).struct.json_encode().alias("json"))["json"]
    line = line.str.replace_all(_EMPTY_OBJECT_JSON, "{}", literal=True)
    # Stripe metadata never holds nulls: an absent key is an absent key.
    line = line.str.replace_all(r'"metadata":(?:null|\{"[a-z_]+":null\})', '"metadata":{}')
    if drop_nulls:
        # Flat records only: remove `"key":null` members wherever they stand.
        line = line.str.replace_all(r',"[A-Za-z0-9_]+":null', "").str.replace_all(
            r'\{"[A-Za-z0-9_]+":null,?', "{"
        )
    return line


def write_jsonl(df: pl.DataFrame, path: Path, *, drop_nulls: bool = False) -> int:
    """Write ``df`` to ``path`` as JSON lines; returns the number of records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = encode(df, drop_nulls=drop_nulls)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        if lines.len():
            fh.write("\n".join(lines.to_list()))
            fh.write("\n")
    return lines.len()
