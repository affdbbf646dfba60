"""The sandbox generator writes its files in batches: batching never changes a byte.

``write_jsonl`` encodes ``CHUNK_ROWS`` records at a time and the Stripe invoices are built
``INVOICE_BATCH_ROWS`` at a time; with batches of a few rows every file of a drop (truth and
manifest included) must equal the drop written with the default, larger batches. Memory
itself is measured by ``make bench``, not here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.sandbox import generate, jsonl, stripe_wire

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 3, 10, 12, tzinfo=UTC)
THROUGH = datetime(2026, 3, 13, 12, tzinfo=UTC)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _drop(out: Path) -> dict[str, bytes]:
    generate(out, customers=60, months=9, seed=11, as_of=AS_OF, through=THROUGH, progress=False)
    return _files(out)


def test_small_batches_write_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _drop(tmp_path / "default")
    monkeypatch.setattr(jsonl, "CHUNK_ROWS", 7)
    monkeypatch.setattr(stripe_wire, "INVOICE_BATCH_ROWS", 13)
    batched = _drop(tmp_path / "batched")
    assert batched.keys() == reference.keys()
    assert "stripe/invoices.jsonl" in reference and "manifest.json" in reference
    differing = [name for name in reference if batched[name] != reference[name]]
    assert not differing
