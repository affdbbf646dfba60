"""Systemic rejections: a file whose records are quarantined wholesale stops the load at once.

One bad record goes to quarantine and the run goes on. A file whose records are all (or
mostly) rejected for one rule is different: the export does not match what revops expects
(a column the exporter never writes, a renamed link field, another API version), and every
downstream step would fail or, worse, publish numbers built without that file. The load
step stops then, with one sentence: the file, the rule, how many records, what to do.

Thresholds (environment, read at load time):

- ``REVOPS_SYSTEMIC_REJECTION_SHARE`` (default 0.5): the share of a file's records that one
  rule may reject before the file counts as rejected wholesale;
- a file of fewer than ``REVOPS_SYSTEMIC_REJECTION_MIN_RECORDS`` (default 10) records
  counts only when every record, and more than one, is rejected (one bad record of a
  three-line file, or of a one-line file, is a bad record, not a broken export).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from connectors.errors import SourceDropError
from connectors.load.loader import BatchResult

DEFAULT_SHARE = 0.5
DEFAULT_MIN_RECORDS = 10


class SystemicRejectionError(SourceDropError):
    """A file's records were quarantined wholesale for one rule."""


@dataclass(frozen=True)
class Rejection:
    """The dominant rule of a batch's quarantine and how many records it rejected."""

    rule: str
    records: int
    records_in: int
    example_line: int
    example_id: str | None


def rule_kind(rule: str) -> str:
    """A quarantine rule with its record's values blanked, so one rule groups many records.

    >>> rule_kind("id is required but missing; name 'x' is not a value")
    'id is required but missing'
    >>> rule_kind("price_id price_1 does not resolve to any prices record (neither ...)")
    'price_id … does not resolve to any prices record (neither ...)'
    """
    first = rule.split("; ", 1)[0]
    first = re.sub(r", got .*$", "", first)
    first = re.sub(r"'[^']*'", "…", first)
    first = re.sub(r"^(\w+) \S+ (does not resolve|appears \d+ times)", r"\1 … \2", first)
    return re.sub(r"appears \d+ times", "appears several times", first)


def dominant_rejection(
    con: duckdb.DuckDBPyConnection, system: str, result: BatchResult
) -> Rejection | None:
    """The rule that rejected most of the batch's records (None when nothing was)."""
    if result.quarantined == 0:
        return None
    rows = con.execute(
        f"SELECT line, record_id, rule FROM raw_{system}.quarantine "
        "WHERE batch_id = ? AND object = ? ORDER BY line",
        [result.batch_id, result.obj],
    ).fetchall()
    kinds = Counter(rule_kind(rule) for _, _, rule in rows)
    if not kinds:
        return None
    kind, count = kinds.most_common(1)[0]
    line, record_id, _ = next(r for r in rows if rule_kind(r[2]) == kind)
    return Rejection(kind, count, result.records_in, line, record_id)


def _threshold(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    try:
        return float(value) if value else default
    except ValueError:
        raise ValueError(
            f"{name}={value!r} is not a number; unset it or give e.g. {default}"
        ) from None


def is_systemic(rejection: Rejection) -> bool:
    """Whether the rejection stops the load (see the module's thresholds)."""
    share = _threshold("REVOPS_SYSTEMIC_REJECTION_SHARE", DEFAULT_SHARE)
    minimum = _threshold("REVOPS_SYSTEMIC_REJECTION_MIN_RECORDS", DEFAULT_MIN_RECORDS)
    if rejection.records_in < minimum:
        return rejection.records == rejection.records_in > 1
    return rejection.records >= share * rejection.records_in


def check_batch(
    con: duckdb.DuckDBPyConnection, system: str, result: BatchResult, file: Path | str
) -> None:
    """Raise :class:`SystemicRejectionError` when ``file``'s batch was rejected wholesale.

    Also for a batch loaded by an earlier run (``already_loaded``): re-running a stopped
    load must stop at the same file, not carry on with it missing.
    """
    rejection = dominant_rejection(con, system, result)
    if rejection is None or not is_systemic(rejection):
        return
    which = "every one" if rejection.records == rejection.records_in else "most"
    example = f" (first: line {rejection.example_line}"
    example += f", id {rejection.example_id})" if rejection.example_id else ")"
    raise SystemicRejectionError(
        file,
        f"{file}: {rejection.records:,} of {rejection.records_in:,} records rejected ({which}) "
        f"for one rule: {rejection.rule}{example}; the export does not have the shape revops "
        f"expects: re-export it with that field, or set the field-name configuration, and see "
        f"raw_{system}.quarantine for every record",
    )
