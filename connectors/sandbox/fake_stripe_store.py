"""The fake Stripe API's data: a drop's Stripe files held as raw JSON lines plus a small index.

A 10,000-customer drop carries about 80,000 invoices (a quarter of a gigabyte of JSON), so
the store never keeps parsed objects: each collection holds its records' raw lines sorted the
way Stripe lists them (``created`` descending, then ``id`` descending) and an index of ids,
``created`` values and statuses read by polars with a narrow schema. Records whose embedded
list (``invoice.lines``, ``credit_note.lines``, ``subscription.items``) is longer than the
API embeds are the only ones parsed, to serve a truncated copy; the full list comes from the
raw line when a client pages through it.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from connectors.errors import SourceDropError

# URL resource (after ``/v1/``) -> drop file stem, in extraction order.
LIST_RESOURCES: dict[str, str] = {
    "customers": "customers",
    "products": "products",
    "prices": "prices",
    "subscriptions": "subscriptions",
    "invoices": "invoices",
    "invoice_payments": "invoice_payments",
    "credit_notes": "credit_notes",
    "charges": "charges",
    "refunds": "refunds",
    "billing/meters": "billing_meters",
}

# Drop file stem -> the embedded list the API truncates.
EMBEDDED_FIELDS: dict[str, str] = {
    "invoices": "lines",
    "credit_notes": "lines",
    "subscriptions": "items",
}

# How many items of an embedded list the real API shows before ``has_more``.
EMBEDDED_LIMIT = 10

_ALL = "all"
_DEFAULT = "<default>"


@dataclass(frozen=True)
class Window:
    """The index range ``[start, stop)`` of one page and whether more follow it."""

    start: int
    stop: int
    has_more: bool


def page_window(
    lo: int, hi: int, limit: int, *, after: int | None = None, before: int | None = None
) -> Window:
    """Slice a page out of the candidates ``[lo, hi)`` of a list in Stripe order.

    Args:
        lo: First candidate index (after ``created`` filters).
        hi: One past the last candidate index.
        limit: Page size.
        after: Index of the first element after the ``starting_after`` cursor.
        before: Index of the ``ending_before`` cursor element.

    Returns:
        The page's window; ``has_more`` looks forward for ``starting_after`` paging and
        backward (towards newer records) for ``ending_before`` paging, as Stripe does.
    """
    if before is not None:
        stop = max(lo, min(before, hi))
        start = max(lo, stop - limit)
        return Window(start, stop, start > lo)
    start = lo if after is None else min(hi, max(lo, after))
    stop = min(hi, start + limit)
    return Window(start, stop, stop < hi)


@dataclass
class Collection:
    """One Stripe resource: raw lines sorted newest first, and their index.

    Attributes:
        name: The drop file stem (``invoices``, ``billing_meters``…).
        raw: Each record's line as written in the drop (UTF-8 bytes), in list order.
        ids: The records' ids, in list order.
        neg_created: ``-created`` per record (ascending, so ``bisect`` applies).
        position: Id -> list position.
        statuses: Status -> positions (ascending), plus Stripe's default subscription
            view (everything but ``canceled``); ``status=all`` lists everything.
        served: Position -> the JSON served instead of ``raw`` (embedded list truncated).
        embedded_field: The embedded list Stripe truncates, if any.
    """

    name: str
    raw: list[bytes]
    ids: list[str]
    neg_created: list[int]
    position: dict[str, int]
    statuses: dict[str, Sequence[int]] = field(default_factory=dict)
    served: dict[int, bytes] = field(default_factory=dict)
    embedded_field: str | None = None

    def __len__(self) -> int:
        return len(self.raw)

    def body(self, pos: int) -> bytes:
        """The JSON of the record at ``pos`` as a list or retrieve call returns it."""
        return self.served.get(pos, self.raw[pos])

    def view(self, status: str | None) -> Sequence[int]:
        """Positions listed for a ``status`` filter (``None``: no filter given)."""
        if status is None:
            return self.statuses.get(_DEFAULT, range(len(self.raw)))
        return self.statuses.get(status, range(len(self.raw)) if status == _ALL else [])

    def created_bounds(self, view: Sequence[int], created: dict[str, int]) -> tuple[int, int]:
        """The ``[lo, hi)`` index range of ``view`` that ``created[...]`` filters keep."""
        lo, hi = 0, len(view)

        def key(pos: int) -> int:
            return self.neg_created[pos]

        for op, value in created.items():
            if op in ("gte", "eq"):
                hi = min(hi, bisect_right(view, -value, key=key))
            if op in ("lte", "eq"):
                lo = max(lo, bisect_left(view, -value, key=key))
            if op == "gt":
                hi = min(hi, bisect_left(view, -value, key=key))
            if op == "lt":
                lo = max(lo, bisect_right(view, -value, key=key))
        return lo, max(lo, hi)

    def embedded_items(self, pos: int) -> list[dict[str, Any]]:
        """The complete embedded list of the record at ``pos`` (parsed from its raw line)."""
        if self.embedded_field is None:
            return []
        record = json.loads(self.raw[pos])
        return list(record.get(self.embedded_field, {}).get("data", []))


def _index_frame(path: Path, embedded_field: str | None) -> pl.DataFrame:
    """Read only ``id``, ``created``, ``status`` and the embedded list's length."""
    schema: dict[str, Any] = {"id": pl.String, "created": pl.Int64, "status": pl.String}
    if embedded_field is not None:
        schema[embedded_field] = pl.Struct({"data": pl.List(pl.Struct({"id": pl.String}))})
    try:
        frame = pl.read_ndjson(path, schema=schema)
    except pl.exceptions.PolarsError as exc:
        raise SourceDropError(
            path, f"{path} is not valid Stripe JSON lines ({exc}); regenerate the drop"
        ) from exc
    if embedded_field is None:
        frame = frame.with_columns(embedded=pl.lit(0, dtype=pl.UInt32))
    else:
        frame = frame.with_columns(
            embedded=pl.col(embedded_field).struct.field("data").list.len().fill_null(0)
        )
    missing = frame.filter(pl.col("id").is_null() | pl.col("created").is_null()).height
    if missing:
        raise SourceDropError(
            path, f"{path}: {missing} records lack an id or created; regenerate the drop"
        )
    return frame.with_row_index("row").select("row", "id", "created", "status", "embedded")


def _read_lines(path: Path) -> list[bytes]:
    """The file's non-blank lines as bytes (served as they are, never re-encoded)."""
    with path.open("rb") as fh:
        return [stripped for line in fh if (stripped := line.rstrip(b"\r\n")).strip()]


def _truncate(raw: bytes, embedded_field: str, limit: int) -> bytes:
    """``raw`` with its embedded list cut to ``limit`` items and ``has_more`` set."""
    record = json.loads(raw)
    listed = record[embedded_field]
    listed["data"] = listed["data"][:limit]
    listed["has_more"] = True
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _status_views(name: str, statuses: list[str | None]) -> dict[str, Sequence[int]]:
    """Per-status position lists; subscriptions also get Stripe's default view."""
    if name != "subscriptions":
        return {}
    views: dict[str, list[int]] = {}
    for pos, status in enumerate(statuses):
        if status is not None:
            views.setdefault(status, []).append(pos)
    views[_DEFAULT] = [pos for pos, status in enumerate(statuses) if status != "canceled"]
    return dict(views)


def load_collection(path: Path, name: str, embedded_limit: int = EMBEDDED_LIMIT) -> Collection:
    """Load one drop file into a :class:`Collection` (sorted, indexed, lists truncated).

    Raises:
        SourceDropError: The file is not JSON lines of Stripe objects.
    """
    embedded_field = EMBEDDED_FIELDS.get(name)
    frame = _index_frame(path, embedded_field)
    lines = _read_lines(path)
    if len(lines) != frame.height:
        raise SourceDropError(
            path, f"{path}: {len(lines)} lines but {frame.height} records; regenerate the drop"
        )
    frame = frame.sort(["created", "id"], descending=True)
    order = frame["row"].to_list()
    ids = frame["id"].to_list()
    raw = [lines[row] for row in order]
    collection = Collection(
        name=name,
        raw=raw,
        ids=ids,
        neg_created=[-c for c in frame["created"].to_list()],
        position={record_id: pos for pos, record_id in enumerate(ids)},
        statuses=_status_views(name, frame["status"].to_list()),
        embedded_field=embedded_field,
    )
    if embedded_field is not None:
        long_lists = frame.with_row_index("pos").filter(pl.col("embedded") > embedded_limit)
        for pos in long_lists["pos"].to_list():
            collection.served[pos] = _truncate(raw[pos], embedded_field, embedded_limit)
    return collection


def load_store(drop_dir: Path, embedded_limit: int = EMBEDDED_LIMIT) -> dict[str, Collection]:
    """Every listable Stripe file of a drop, by drop file stem (absent files are empty).

    Raises:
        SourceDropError: ``drop_dir`` has no ``stripe/`` directory or a file is unreadable.
    """
    stripe_dir = Path(drop_dir) / "stripe"
    if not stripe_dir.is_dir():
        raise SourceDropError(
            stripe_dir, f"{stripe_dir} does not exist; generate a drop with `revops sandbox`"
        )
    store: dict[str, Collection] = {}
    for name in LIST_RESOURCES.values():
        path = stripe_dir / f"{name}.jsonl"
        if path.exists() and path.stat().st_size > 0:
            store[name] = load_collection(path, name, embedded_limit)
        else:
            store[name] = Collection(
                name,
                raw=[],
                ids=[],
                neg_created=[],
                position={},
                embedded_field=EMBEDDED_FIELDS.get(name),
            )
    return store
