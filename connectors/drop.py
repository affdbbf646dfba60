"""The source-drop contract (files mode): what a drop directory must hold, and its inventory.

A drop is one directory per export (docs/architecture.md, "Source drop layout")::

    DIR/manifest.json             {"exported_at": "2026-06-30T23:59:59Z", ...}
    DIR/<system>/<object>.jsonl   one JSON object per line, in the vendor's wire format
                                  (or <object>.jsonl.gz, gzipped; CRLF line ends, a UTF-8
                                  byte-order mark and blank lines are accepted)

This module checks the shape of a drop before anything is loaded: the manifest and its
``exported_at``, and that every required file exists and is not empty. It counts lines
without parsing JSON; record-level validation (and quarantine) happens at load time.

Example:
    >>> from connectors.drop import inspect_drop
    >>> inventory = inspect_drop("data/sandbox")  # doctest: +SKIP
    >>> inventory.counts["stripe/invoices.jsonl"]  # doctest: +SKIP
    1234
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.errors import SourceDropError
from connectors.schemas import SPECS

__all__ = [
    "MANIFEST_NAME",
    "OPTIONAL_FILES",
    "REQUIRED_FILES",
    "SYSTEMS",
    "DropFile",
    "DropInventory",
    "Manifest",
    "count_lines",
    "inspect_drop",
    "read_manifest",
]

MANIFEST_NAME = "manifest.json"

SYSTEMS: tuple[str, ...] = ("salesforce", "stripe", "netsuite")

# The drop contract, from the object declarations (``ObjectSpec.file_required``): a required
# file that is missing or empty stops the run (an export that produced nothing is a failed
# export); a missing optional file means "no records of that object".
REQUIRED_FILES: Mapping[str, tuple[str, ...]] = {
    system: tuple(spec.file_name for spec in specs if spec.file_required)
    for system, specs in SPECS.items()
}
OPTIONAL_FILES: Mapping[str, tuple[str, ...]] = {
    system: tuple(spec.file_name for spec in specs if not spec.file_required)
    for system, specs in SPECS.items()
}

_CHUNK_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"
_BLANK_LINE = re.compile(rb"(?m)^[ \t\r]*\n")
GZIP_SUFFIX = ".gz"
_REEXPORT_HINT = "re-export it from the source system"
SOURCE_DIR_ENV = "REVOPS_SOURCE_DIR"
DEFAULT_DROP_NAME = "drop"


def default_drop_dir(home: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Where a files-mode run reads its drop when none is named: ``REVOPS_SOURCE_DIR``, else
    ``$REVOPS_HOME/drop`` (the place an export job writes to)."""
    env = os.environ if environ is None else environ
    named = env.get(SOURCE_DIR_ENV)
    return Path(named).expanduser().resolve() if named else home / DEFAULT_DROP_NAME


@dataclass(frozen=True)
class Manifest:
    """A drop's ``manifest.json``.

    Attributes:
        path: Where the manifest was read from.
        exported_at: The as-of instant of the export, timezone-aware, in UTC.
        data: The whole manifest object, as written by the exporter.
    """

    path: Path
    exported_at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True)
class DropFile:
    """One expected file of a drop and what was found for it.

    Attributes:
        system: ``salesforce``, ``stripe`` or ``netsuite``.
        name: The file name, e.g. ``invoices.jsonl``.
        path: The absolute path where the file is (or would be): ``<name>`` or, for a
            gzipped export, ``<name>.gz``.
        required: Whether the contract requires the file.
        present: Whether the file exists.
        records: Number of non-blank lines (one record per line); 0 when absent.
    """

    system: str
    name: str
    path: Path
    required: bool
    present: bool
    records: int

    @property
    def key(self) -> str:
        """The path relative to the drop, e.g. ``stripe/invoices.jsonl``."""
        return f"{self.system}/{self.name}"


@dataclass(frozen=True)
class DropInventory:
    """What a valid drop holds: its manifest and a line count per expected file.

    Attributes:
        root: The drop directory (absolute).
        manifest: The parsed manifest.
        files: Every required and optional file, in contract order.
    """

    root: Path
    manifest: Manifest
    files: tuple[DropFile, ...] = field(default_factory=tuple)

    @property
    def exported_at(self) -> datetime:
        """The drop's as-of instant (UTC)."""
        return self.manifest.exported_at

    @property
    def counts(self) -> dict[str, int]:
        """Record count per file, keyed ``<system>/<file>``; absent optional files count 0."""
        return {f.key: f.records for f in self.files}

    @property
    def absent(self) -> list[str]:
        """Keys of the optional files the drop does not contain."""
        return [f.key for f in self.files if not f.present]

    def records_by_system(self) -> dict[str, int]:
        """Total records per source system."""
        totals = dict.fromkeys(SYSTEMS, 0)
        for f in self.files:
            totals[f.system] += f.records
        return totals

    def to_markdown(self) -> str:
        """A Markdown table of the inventory, one row per expected file."""
        rows = ["| file | required | records |", "|---|---|---:|"]
        for f in self.files:
            records = f"{f.records:,}" if f.present else "absent (0)"
            rows.append(f"| `{f.key}` | {'yes' if f.required else 'no'} | {records} |")
        return "\n".join(rows)


def open_drop_file(path: Path | str) -> io.BufferedIOBase:
    """Open a drop file for reading bytes, decompressing a ``.gz`` file on the fly."""
    path = Path(path)
    return gzip.open(path, "rb") if path.suffix == GZIP_SUFFIX else open(path, "rb")


def count_lines(path: Path | str) -> int:
    """Count the records of a file without decoding it: its non-blank lines (a last line
    without newline counts; blank lines, e.g. a trailing one, do not).

    Args:
        path: The file to count (``.gz`` files are decompressed as they are read).

    Returns:
        The number of non-blank lines (0 for an empty file).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
        >>> _ = p.write_bytes(b'{"id": 1}\\r\\n{"id": 2}\\r\\n\\r\\n')
        >>> count_lines(p)
        2
    """
    lines = 0
    carry = b""  # the start of a line whose newline has not been read yet
    with open_drop_file(path) as fh:
        first = fh.read(len(_BOM))
        carry = first.removeprefix(_BOM)  # a byte-order mark is encoding, not content
        while chunk := fh.read(_CHUNK_BYTES):
            text = carry + chunk
            cut = text.rfind(b"\n") + 1
            whole, carry = text[:cut], text[cut:]  # ``whole`` starts at a line start
            lines += whole.count(b"\n") - len(_BLANK_LINE.findall(whole))
    return lines + (1 if carry.strip() else 0)


def _parse_instant(value: object, path: Path) -> datetime:
    """Parse ``exported_at``: an ISO-8601 instant with a UTC designator or offset."""
    problem = (
        f"{path}: exported_at must be an ISO-8601 UTC instant such as "
        f'"2026-06-30T23:59:59Z", got {value!r}; fix the manifest or re-export the drop'
    )
    if not isinstance(value, str):
        raise SourceDropError(path, problem)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SourceDropError(path, problem) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise SourceDropError(path, problem)
    return parsed.astimezone(UTC)


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` hook: an object with a key twice is refused, never the last one kept."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def read_manifest(drop_dir: Path | str) -> Manifest:
    """Read and validate ``DIR/manifest.json``.

    Args:
        drop_dir: The drop directory.

    Returns:
        The manifest, with ``exported_at`` as an aware UTC datetime.

    Raises:
        SourceDropError: The manifest is missing, not valid JSON, not an object, or has no
            valid ``exported_at``. The message names the file and says what to do.
    """
    path = Path(drop_dir).resolve() / MANIFEST_NAME
    if not path.is_file():
        raise SourceDropError(
            path,
            f"{path} is missing: every source drop needs a manifest.json with exported_at; "
            f"{_REEXPORT_HINT}",
        )
    try:
        data = json.loads(path.read_bytes(), object_pairs_hook=_no_duplicate_keys)
    except DuplicateKeyError as exc:
        raise SourceDropError(
            path,
            f"{path} has the key {exc.key!r} twice (which value is meant is not knowable); "
            "fix the manifest or re-export the drop",
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceDropError(
            path, f"{path} is not valid JSON ({exc}); fix the manifest or re-export the drop"
        ) from None
    if not isinstance(data, dict):
        raise SourceDropError(
            path, f"{path} must hold a JSON object with exported_at; fix it or re-export the drop"
        )
    if "exported_at" not in data:
        raise SourceDropError(
            path,
            f"{path} has no exported_at (the as-of instant of the export, e.g. "
            f'"2026-06-30T23:59:59Z"); add it to the manifest or re-export the drop',
        )
    return Manifest(path=path, exported_at=_parse_instant(data["exported_at"], path), data=data)


def _inside(root: Path, path: Path) -> None:
    """Refuse a file that is, or lies behind, a link leading out of the drop directory."""
    target = path.resolve()
    if not target.is_relative_to(root):
        raise SourceDropError(
            path,
            f"{path} leads outside the source drop (to {target}): revops reads only files "
            "inside the drop directory; copy the file into the drop instead of linking it",
        )


def _inspect_file(root: Path, system: str, name: str, *, required: bool) -> DropFile:
    path = root / system / name
    if not path.exists() and (root / system / (name + GZIP_SUFFIX)).exists():
        path = root / system / (name + GZIP_SUFFIX)
    if path.exists() or path.is_symlink():
        _inside(root, path)
    if not path.is_file():
        if required:
            raise SourceDropError(
                path, f"required file {path} is missing from the source drop; {_REEXPORT_HINT}"
            )
        return DropFile(system, name, path, required=False, present=False, records=0)
    records = count_lines(path)
    if required and records == 0:
        raise SourceDropError(
            path,
            f"required file {path} is empty (an export that produced nothing is a failed "
            f"export); {_REEXPORT_HINT}",
        )
    return DropFile(system, name, path, required=required, present=True, records=records)


def inspect_drop(drop_dir: Path | str) -> DropInventory:
    """Check a drop directory against the contract and count the records of every file.

    Args:
        drop_dir: The drop directory.

    Returns:
        The inventory: manifest and per-file line counts (absent optional files count 0).

    Raises:
        SourceDropError: The directory does not exist, the manifest is invalid, or a
            required file is missing or empty. The message names the path and what to do.
    """
    root = Path(drop_dir).resolve()
    if not root.is_dir():
        raise SourceDropError(
            root,
            f"source drop directory {root} does not exist; put an export there, or name the "
            f"export's directory with --source-dir or {SOURCE_DIR_ENV}",
        )
    _inside(root, root / MANIFEST_NAME)
    manifest = read_manifest(root)
    files = [
        _inspect_file(root, system, name, required=required)
        for system in SYSTEMS
        for required, names in ((True, REQUIRED_FILES[system]), (False, OPTIONAL_FILES[system]))
        for name in names
    ]
    for f in files:
        _check_declared(manifest, f)
    return DropInventory(root=root, manifest=manifest, files=tuple(files))


def _declared(manifest: Manifest, f: DropFile) -> tuple[str, int | None, str | None] | None:
    """What the manifest's ``files`` says of ``f``: (its key, records, sha256), if anything.

    Exporters write either a count (``"stripe/invoices.jsonl": 481``) or an object
    (``{"records": 481, "sha256": "…"}``), under the name with or without ``.gz``.
    """
    listed = manifest.data.get("files")
    if not isinstance(listed, Mapping):
        return None
    for key in (f.key, f.key + GZIP_SUFFIX):
        if key in listed:
            value = listed[key]
            if isinstance(value, Mapping):
                records, sha = value.get("records"), value.get("sha256")
            else:
                records, sha = value, None
            if records is not None and (isinstance(records, bool) or not isinstance(records, int)):
                raise SourceDropError(
                    manifest.path,
                    f"{manifest.path}: files[{key!r}] must be a record count, got {records!r}; "
                    "fix the manifest or re-export the drop",
                )
            return key, records, sha if isinstance(sha, str) else None
    return None


def _check_declared(manifest: Manifest, f: DropFile) -> None:
    """A file must hold what the manifest says it holds: its record count and checksum."""
    declared = _declared(manifest, f)
    if declared is None:
        return
    key, records, sha = declared
    if not f.present:
        raise SourceDropError(
            f.path,
            f"manifest.json lists {key} ({records} records) but the drop has no such file: "
            "it was lost in transit; copy the drop again or re-export it",
        )
    if records is not None and records != f.records:
        raise SourceDropError(
            f.path,
            f"{key} holds {f.records:,} records but manifest.json says {records:,}: the file is "
            "incomplete or not the one exported; copy the drop again or re-export it",
        )
    if sha is not None:
        digest = hashlib.sha256()
        with open(f.path, "rb") as fh:
            while chunk := fh.read(_CHUNK_BYTES):
                digest.update(chunk)
        if digest.hexdigest() != sha.removeprefix("sha256:").lower():
            raise SourceDropError(
                f.path,
                f"{key} does not match the sha256 manifest.json gives for it: the file changed "
                "after the export; copy the drop again or re-export it",
            )


LAST_DROP_NAME = "last_drop.json"


def check_same_company(home: Path | str, manifest: Manifest) -> None:
    """Refuse a drop of another company than the one this home's warehouse holds.

    Compared when both the drop's manifest and the home's last drop name a ``company``
    (exporters usually write it; a drop without one is taken as it is).

    Raises:
        SourceDropError: The companies differ; the message names both and what to do.
    """
    company = manifest.data.get("company")
    path = Path(home) / LAST_DROP_NAME
    if not isinstance(company, str) or not path.is_file():
        return
    try:
        last = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    held = last.get("company")
    if isinstance(held, str) and held.strip() and held.strip() != company.strip():
        raise SourceDropError(
            manifest.path,
            f"{manifest.path} is an export of {company!r} but the warehouse in {home} holds "
            f"{held!r} (last drop {last.get('source_dir')}): loading it would merge two "
            "companies; point REVOPS_HOME at a home of its own, or run with --new-company "
            "if the company was renamed",
        )


def record_drop(home: Path | str, inventory: DropInventory) -> None:
    """Remember which company and drop this home's warehouse now holds."""
    Path(home).mkdir(parents=True, exist_ok=True)
    info = {
        "company": inventory.manifest.data.get("company"),
        "exported_at": inventory.exported_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source_dir": str(inventory.root),
    }
    (Path(home) / LAST_DROP_NAME).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
