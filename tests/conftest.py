"""Shared fixtures: a handmade minimal source drop, written to ``tmp_path``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.api.retry import RetryPolicy
from connectors.drop import REQUIRED_FILES

EXPORTED_AT = "2026-06-30T23:59:59Z"

MakeDrop = Callable[..., Path]


def write_minimal_drop(root: Path, *, exported_at: str | None = EXPORTED_AT) -> Path:
    """Write a manifest and a one-record file for every required file of the contract.

    Args:
        root: The drop directory to create.
        exported_at: The manifest's ``exported_at``; ``None`` leaves it out.

    Returns:
        ``root``.
    """
    root.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, str] = {"company": "Handmade Co"}
    if exported_at is not None:
        manifest["exported_at"] = exported_at
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    for system, names in REQUIRED_FILES.items():
        (root / system).mkdir(exist_ok=True)
        for name in names:
            record = {"id": f"{system}-{name.removesuffix('.jsonl')}-1"}
            (root / system / name).write_text(json.dumps(record) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def make_drop(tmp_path: Path) -> MakeDrop:
    """Factory for minimal valid drops under ``tmp_path`` (``make_drop("name")``)."""

    def make(name: str = "drop", *, exported_at: str | None = EXPORTED_AT) -> Path:
        return write_minimal_drop(tmp_path / name, exported_at=exported_at)

    return make


@pytest.fixture
def minimal_drop(make_drop: MakeDrop) -> Path:
    """A minimal valid drop: manifest plus one record in every required file."""
    return make_drop()


@pytest.fixture
def sleeps() -> list[float]:
    """The waits a retry policy asked for (recorded instead of slept)."""
    return []


@pytest.fixture
def policy(sleeps: list[float]) -> RetryPolicy:
    """A retry policy that records its waits instead of sleeping (api-mode tests)."""
    return RetryPolicy(max_attempts=4, sleep=sleeps.append)


def canon(records: list[dict[str, Any]]) -> Counter[str]:
    """Records as a multiset (key order does not matter)."""
    return Counter(json.dumps(r, sort_keys=True) for r in records)
