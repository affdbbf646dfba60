"""Shared fixtures: a handmade minimal source drop, written to ``tmp_path``; the session's
reference company (a drop and a completed ``revops run`` of it, made once for all workers).

And the order ``pytest -n 2`` hands the test files out in (``--dist loadfile
--no-loadscope-reorder`` in pyproject.toml: a file is one unit of work, its module fixtures
built once, on one worker): heaviest first (``HEAVIEST_FIRST``), so the last ones to run,
while the other worker finishes, are short. (xdist would otherwise hand out the files with
the most tests first, whatever they take.)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from connectors.api.retry import RetryPolicy
from connectors.drop import REQUIRED_FILES

if TYPE_CHECKING:
    from api_company import ApiRun
    from crash import SharedReference

EXPORTED_AT = "2026-06-30T23:59:59Z"

# Test files by the time they take alone (pytest -n 0), longest first; the others follow in
# the order they are collected. Only the order of the work changes, never what runs.
HEAVIEST_FIRST = [
    "test_crash_chain.py",
    "test_recon.py",
    "test_conformance.py",
    "test_dbt_variations.py",
    "test_ui_story.py",
    "test_e2e.py",
    "test_dbt_truth.py",
    "test_trace.py",
    "test_workflow_cli.py",
    "test_cli.py",
    "test_load.py",
    "test_workflow.py",
    "test_quarantine_exceptions.py",
    "test_sandbox_incremental.py",
    "test_runlock.py",
    "test_api_asof.py",
    "test_api_mode.py",
    "test_dbt_invariants.py",
    "test_dbt_playbook.py",
    "test_dbt_project.py",
    "test_bad_drops.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The heaviest test files first."""
    rank = {name: i for i, name in enumerate(HEAVIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole


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


@pytest.fixture(scope="session", autouse=True)
def _share_dbt_parses(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every dbt invocation of the tests (``dbt_build.dbt``) starts from the session's parse."""
    from dbt_build import share_parses_in
    from shared import session_dir

    share_parses_in(session_dir(tmp_path_factory) / "shared" / "dbt-parses")


@pytest.fixture(scope="session")
def reference_company(tmp_path_factory: pytest.TempPathFactory) -> SharedReference:
    """The crash tests' company, its next day's drop, and its reference run: one uninterrupted
    ``revops run`` of its drop on a fresh home, made once per session for every worker
    (``crash.shared_reference``). Read it; copy its home (``shared.copy_home``) to change it."""
    from crash import shared_reference

    return shared_reference(tmp_path_factory)


@pytest.fixture(scope="session")
def api_company(tmp_path_factory: pytest.TempPathFactory) -> ApiRun:
    """A ``revops run --source api`` against the fake vendors serving a sandbox drop, made
    once per session for every worker (``api_company.api_run``). Read it; copy its home to
    change it."""
    from api_company import api_run

    return api_run(tmp_path_factory)


def canon(records: list[dict[str, Any]]) -> Counter[str]:
    """Records as a multiset (key order does not matter)."""
    return Counter(json.dumps(r, sort_keys=True) for r in records)
