"""Landing: every extracted page or drop file, written unchanged as an immutable batch.

``$REVOPS_HOME/landing/<system>/<object>/<batch_id>.jsonl.gz`` holds the bytes exactly as
received (one record per line), and ``<batch_id>.json`` its manifest: records, sha256 of
the uncompressed bytes, cursor range, extracted_at and source. The batch id is derived from
the content, so landing the same bytes again is a no-op, and any warehouse state can be
rebuilt by loading every landed batch in order (``revops replay``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from connectors.api.pages import Page
from connectors.errors import ConnectorError


class LandingError(ConnectorError):
    """A landed batch is missing or does not match its manifest."""


@dataclass(frozen=True)
class LandedBatch:
    """One immutable batch in the landing area."""

    batch_id: str
    system: str
    obj: str
    records: int
    sha256: str
    extracted_at: str  # ISO-8601 UTC instant
    source: str
    cursor_min: str | None = None
    cursor_max: str | None = None
    path: str = ""  # the .jsonl.gz file

    def read(self) -> bytes:
        """The batch's bytes, checked against the manifest's sha256."""
        data = gzip.decompress(Path(self.path).read_bytes())
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise LandingError(
                f"landed batch {self.path} does not match its manifest's sha256; the landing "
                "area was modified: restore the file or delete the batch and extract again"
            )
        return data


def count_records(data: bytes) -> int:
    """Non-blank lines: what a batch holds."""
    return sum(1 for line in data.split(b"\n") if line.strip())


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def land_bytes(
    home: Path,
    system: str,
    obj: str,
    data: bytes,
    *,
    source: str,
    extracted_at: str,
    cursor_min: str | None = None,
    cursor_max: str | None = None,
) -> LandedBatch:
    """Land ``data`` (JSON lines) as a batch; returns the existing batch for known content."""
    digest = hashlib.sha256(data).hexdigest()
    batch_id = digest[:24]
    folder = Path(home) / "landing" / system / obj
    manifest = folder / f"{batch_id}.json"
    if manifest.exists():
        return read_manifest(manifest)
    gz = folder / f"{batch_id}.jsonl.gz"
    _atomic_write(gz, gzip.compress(data, compresslevel=1, mtime=0))
    batch = LandedBatch(
        batch_id=batch_id,
        system=system,
        obj=obj,
        records=count_records(data),
        sha256=digest,
        extracted_at=extracted_at,
        source=source,
        cursor_min=cursor_min,
        cursor_max=cursor_max,
        path=str(gz),
    )
    meta = {k: v for k, v in asdict(batch).items() if k != "path"}
    _atomic_write(manifest, (json.dumps(meta, indent=2) + "\n").encode())
    return batch


def land_file(home: Path, system: str, obj: str, file: Path, *, extracted_at: str) -> LandedBatch:
    """Land one source-drop file unchanged (a gzipped file's content, decompressed)."""
    data = gzip.decompress(Path(file).read_bytes()) if Path(file).suffix == ".gz" else None
    if data is None:
        data = Path(file).read_bytes()
    return land_bytes(home, system, obj, data, source=f"file:{file}", extracted_at=extracted_at)


def land_page(home: Path, page: Page, *, extracted_at: str) -> LandedBatch:
    """Land one api-mode page: its records as JSON lines, exactly as the API returned them."""
    data = "".join(
        json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in page.records
    ).encode("utf-8")
    return land_bytes(
        home,
        page.system,
        page.obj,
        data,
        source=f"api:{page.request}",
        extracted_at=extracted_at,
        cursor_max=page.cursor,
    )


def read_manifest(path: Path) -> LandedBatch:
    meta = json.loads(Path(path).read_text())
    return LandedBatch(**meta, path=str(Path(path).with_suffix(".jsonl.gz")))


def list_batches(home: Path) -> list[LandedBatch]:
    """Every landed batch, in the order to replay them (extraction time, then name)."""
    root = Path(home) / "landing"
    batches = [read_manifest(p) for p in root.glob("*/*/*.json")] if root.exists() else []
    return sorted(batches, key=lambda b: (b.extracted_at, b.system, b.obj, b.batch_id))
