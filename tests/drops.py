"""Drops in tests: the company a test generates, and editing a drop the way an exporter would
have written it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TypedDict

from connectors.drop import MANIFEST_NAME, count_lines


class Company(TypedDict, total=False):
    """The company of a generated drop, as keyword arguments of ``connectors.sandbox.generate``
    a test keeps in a dict and spreads with ``**`` (typed: a plain dict of them does not
    type-check against ``generate``'s parameters). A key the call also passes by name must not
    be in the dict's type, hence the variants below."""

    customers: int
    months: int
    seed: int
    anomaly_rate: float


class CompanyAt(Company, total=False):
    """A ``Company`` with the instant its drop is exported at (``as_of``)."""

    as_of: datetime


class QuietCompany(Company, total=False):
    """A ``Company`` with ``progress`` too (``False``: no progress line in the test's output)."""

    progress: bool


def sync_manifest(drop: Path) -> None:
    """Recount every file the manifest lists, as the exporter of an edited drop would have
    (a test that adds, removes or cuts records states the counts that go with them)."""
    path = drop / MANIFEST_NAME
    manifest = json.loads(path.read_text(encoding="utf-8"))
    files = manifest.get("files")
    if not isinstance(files, dict):
        return
    for key in list(files):
        if (drop / key).is_file():
            files[key] = count_lines(drop / key)
        else:
            del files[key]
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
