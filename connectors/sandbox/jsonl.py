"""Writing records as JSON lines, vectorised through polars.

Polars cannot hold an empty struct, so an empty JSON object is written as the string
sentinel ``EMPTY_OBJECT`` and replaced on the way out; NetSuite omits NULL columns, which
``write_jsonl(..., drop_nulls=True)`` does for flat records. Records are encoded and written
``CHUNK_ROWS`` at a time, so writing a file needs memory for one chunk's text only.

Batches of rows are copied out (``row_batches``), never sliced: polars (1.44) encodes a
slice or a filter of a list of structs holding a nullable struct wrongly (the nested struct's
nulls are read from the wrong rows), and the Stripe invoice lines are such a list.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl

EMPTY_OBJECT = "@{}"
CHUNK_ROWS = 20_000
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


def row_batches(df: pl.DataFrame, rows: int) -> Iterator[pl.DataFrame]:
    """``df``'s rows as consecutive frames of at most ``rows`` rows, each a copy (gathered by
    row index, not sliced: see the module docstring); none for an empty frame."""
    for offset in range(0, df.height, rows):
        yield df[np.arange(offset, min(offset + rows, df.height))]


def write_jsonl(
    df: pl.DataFrame, path: Path, *, drop_nulls: bool = False, append: bool = False
) -> int:
    """Write ``df`` to ``path`` (after its records with ``append``) as JSON lines, a chunk of
    rows at a time; returns the number of records written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8", newline="\n") as fh:
        for batch in row_batches(df, CHUNK_ROWS):
            lines = encode(batch, drop_nulls=drop_nulls)
            fh.write("\n".join(lines.to_list()))
            fh.write("\n")
    return df.height
