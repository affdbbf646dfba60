"""Files mode: land every file of a source drop and load it, system by system."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from connectors.drop import GZIP_SUFFIX, SYSTEMS, inspect_drop
from connectors.landing import LandedBatch, land_file, list_batches
from connectors.load.loader import BatchResult, load_batch
from connectors.load.systemic import check_batch
from connectors.load.warehouse import ensure_system_tables
from connectors.schemas import SPECS, spec_for


@dataclass
class LoadReport:
    """What one load did: a result per batch, and the drop's as-of instant."""

    exported_at: str
    results: list[BatchResult] = field(default_factory=list)

    def totals(self, system: str | None = None) -> dict[str, int]:
        rs = [r for r in self.results if system is None or r.system == system]
        return {
            "records_in": sum(r.records_in for r in rs),
            "loaded": sum(r.loaded for r in rs),
            "quarantined": sum(r.quarantined for r in rs),
        }


def load_order(system: str) -> list[str]:
    """Object names of ``system`` with catalogue references loaded before their referrers."""
    return [s.name for s in SPECS[system]]


def load_system(
    con: duckdb.DuckDBPyConnection, home: Path, drop_dir: Path, system: str, exported_at: str
) -> list[BatchResult]:
    """Land and load every file of ``system`` in ``drop_dir`` (absent optional files skipped)."""
    ensure_system_tables(con, system)
    results = []
    for name in load_order(system):
        path = drop_file(Path(drop_dir), system, name)
        if path is None:
            continue  # optional and absent: no records
        batch = land_file(home, system, name, path, extracted_at=exported_at)
        result = load_batch(con, batch, spec_for(system, name))
        check_batch(con, system, result, path)
        results.append(result)
    record_source_state(con, f"files:{Path(drop_dir).resolve()}", exported_at)
    return results


def drop_file(drop_dir: Path, system: str, name: str) -> Path | None:
    """Where ``system``'s ``name`` object is in the drop: ``<name>.jsonl`` or, gzipped,
    ``<name>.jsonl.gz``; None when the drop has neither."""
    for candidate in (f"{name}.jsonl", f"{name}.jsonl{GZIP_SUFFIX}"):
        path = drop_dir / system / candidate
        if path.is_file():
            return path
    return None


def load_drop(
    con: duckdb.DuckDBPyConnection, home: Path, drop_dir: Path, systems: tuple[str, ...] = SYSTEMS
) -> LoadReport:
    """Land and load ``drop_dir``. Raises ``SourceDropError`` for a broken drop (file named)."""
    inventory = inspect_drop(drop_dir)
    exported_at = inventory.exported_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    report = LoadReport(exported_at)
    for system in systems:
        report.results.extend(load_system(con, home, drop_dir, system, exported_at))
    return report


def record_source_state(con: duckdb.DuckDBPyConnection, source: str, exported_at: str) -> None:
    con.execute(
        "INSERT INTO raw_meta.source_state VALUES (?, ?::TIMESTAMPTZ, now())", [source, exported_at]
    )


def replay(con: duckdb.DuckDBPyConnection, home: Path) -> list[BatchResult]:
    """Load every landed batch in extraction order (objects in load order within a drop)."""
    rank = {(sys, name): i for sys in SYSTEMS for i, name in enumerate(load_order(sys))}

    def key(b: LandedBatch) -> tuple:
        return (b.extracted_at, SYSTEMS.index(b.system), rank[(b.system, b.obj)], b.batch_id)

    results = []
    for batch in sorted(list_batches(home), key=key):
        results.append(load_batch(con, batch, spec_for(batch.system, batch.obj)))
    for exported_at in sorted({b.extracted_at for b in list_batches(home)}):
        record_source_state(con, "replay", exported_at)
    return results
