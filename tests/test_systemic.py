"""Systemic rejections: when a file's quarantine stops the load, and the sentence it gives."""

from __future__ import annotations

import pytest

from connectors.load.loader import BatchResult
from connectors.load.systemic import Rejection, is_systemic, rule_kind

pytestmark = pytest.mark.unit


def rejection(records: int, records_in: int) -> Rejection:
    return Rejection("id is required but missing", records, records_in, 1, None)


@pytest.mark.parametrize(
    ("records", "records_in", "systemic"),
    [
        (1, 1, False),  # a one-line file's bad record is a bad record
        (2, 2, True),  # every record of a small file
        (8, 9, False),  # most, but not all, of a small file
        (5, 10, True),  # half of a file of 10
        (4, 10, False),
        (2_400, 2_400, True),
        (1, 2_400, False),
    ],
)
def test_thresholds(records: int, records_in: int, systemic: bool) -> None:
    assert is_systemic(rejection(records, records_in)) is systemic


def test_thresholds_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOPS_SYSTEMIC_REJECTION_SHARE", "0.1")
    assert is_systemic(rejection(1, 10))
    monkeypatch.setenv("REVOPS_SYSTEMIC_REJECTION_SHARE", "ten percent")
    with pytest.raises(ValueError, match="REVOPS_SYSTEMIC_REJECTION_SHARE='ten percent'"):
        is_systemic(rejection(1, 10))


def test_rule_kind_groups_records_that_break_one_rule() -> None:
    kinds = {
        rule_kind(f"exchangerate must be a number written as a string, got {v}")
        for v in ("1.2", "0.97")
    }
    assert kinds == {"exchangerate must be a number written as a string"}
    assert rule_kind("price_id price_A does not resolve to any prices record") == rule_kind(
        "price_id price_B does not resolve to any prices record"
    )
    assert rule_kind("id in_1 appears 2 times in this batch") == rule_kind(
        "id in_2 appears 3 times in this batch"
    )


def test_a_batch_without_quarantine_is_never_systemic() -> None:
    from connectors.load.systemic import dominant_rejection

    result = BatchResult("b", "stripe", "customers", 10, 10, 0)
    assert dominant_rejection(None, "stripe", result) is None  # type: ignore[arg-type]
