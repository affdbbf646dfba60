"""The check catalogue: the reconciliation checks as the dbt project declares them.

A check is one dbt model in ``dbt/models/reconciliation/``, named by its check id, and its
entry in ``_reconciliation__models.yml``: a description and ``config.meta`` with its owner,
title, the systems it compares, the system whose id identifies a record (or ``per_record``:
the model's own ``record_system`` column says, for a check of records of every system), and
its SLA or tolerance parameters with their defaults (each overridden by
``REVOPS_<CHECK_ID>_<PARAM>`` in the environment of ``dbt build``, macro ``recon_param``).
The model returns the check's whole population, one row per record checked::

    record_id, customer_id, entity, currency, amount, is_exception, detail, discrepancy_at

(and ``severity``, ``record_system`` where its entry documents them), and
``recon_checks.check_populations`` unions every check's rows with its id, owner and record
system (``reconciliation.run`` reads it). Adding a check means adding its model, its yml
entry and its ``depends_on`` line in ``check_populations.sql``; nothing in Python changes.

The catalogue is read from the dbt manifest (``dbt/target/manifest.json``, written by ``make
dbt-prepare``), the parse the Dagster definitions load too: its check models are the models
of the ``reconciliation`` folder whose ``config.meta`` names a ``record_system``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

OWNERS = ("finance", "revops", "engineering", "billing")
SYSTEMS = ("salesforce", "stripe", "netsuite")
# config.meta.record_system of a check whose records come from any system: its model returns
# a record_system column (documented in its yml entry), check_populations reads it.
PER_RECORD = "per_record"

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
CHECKS_FOLDER = "reconciliation"  # dbt/models/<this>/: the check models and their union
POPULATIONS_MODEL = "check_populations"  # their union (schema recon_checks)


class CatalogError(ValueError):
    """A check declaration is invalid (bad owner, unknown system), or none can be read."""


@dataclass(frozen=True)
class Check:
    """One reconciliation check: a dbt model and its ``config.meta``.

    Attributes:
        check_id: The contract id (``invoice_not_posted``…), the model's name; used in truth
            and by evaluations.
        title: A short human name for reports.
        compares: The systems it compares (two; all three for ``record_quarantined``).
        record_system: The system whose id ``record_id`` is, or ``per_record``.
        owner: The team the exception is routed to.
        description: What an exception of the check is (the model's description).
        params: Configurable parameters with their defaults (SLA days, tolerances); each can
            be overridden by ``REVOPS_<CHECK_ID>_<PARAM>`` in the environment of dbt.
    """

    check_id: str
    title: str
    compares: tuple[str, ...]
    record_system: str
    owner: str
    description: str = ""
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.owner not in OWNERS:
            raise CatalogError(f"{self.check_id}: owner {self.owner!r} not one of {OWNERS}")
        if self.record_system not in (*SYSTEMS, PER_RECORD) or not set(self.compares) <= set(
            SYSTEMS
        ):
            raise CatalogError(
                f"{self.check_id}: unknown system in {self.compares} or record_system "
                f"{self.record_system!r} (one of {SYSTEMS} or {PER_RECORD!r})"
            )
        if not 2 <= len(self.compares) <= len(SYSTEMS):
            raise CatalogError(f"{self.check_id}: compares names {len(self.compares)} systems")


def is_check_model(node: Mapping[str, Any]) -> bool:
    """Whether a manifest node is a check model (the rule of the dbt macro recon_check_models)."""
    fqn = node.get("fqn") or []
    meta = (node.get("config") or {}).get("meta") or {}
    return (
        node.get("resource_type") == "model"
        and len(fqn) > 2
        and fqn[1] == CHECKS_FOLDER
        and bool(meta.get("record_system"))
    )


def check_of(node: Mapping[str, Any]) -> Check:
    """The check a check model's manifest node declares."""
    name = node["name"]
    meta = node["config"]["meta"]
    try:
        compares = tuple(str(system) for system in meta["compares"])
        params = {str(k): float(v) for k, v in (meta.get("params") or {}).items()}
        if meta["record_system"] == PER_RECORD and "record_system" not in (
            node.get("columns") or {}
        ):
            raise CatalogError(
                f"{name}: record_system is {PER_RECORD!r} but its entry in "
                f"{node.get('patch_path') or 'its yml'} documents no record_system column"
            )
        return Check(
            check_id=name,
            title=str(meta["title"]),
            compares=compares,
            record_system=str(meta["record_system"]),
            owner=str(meta["owner"]),
            description=str(node.get("description") or ""),
            params=params,
        )
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, CatalogError):
            raise
        raise CatalogError(
            f"{name}: config.meta in {node.get('patch_path') or 'its yml'} lacks or mistypes "
            f"{err} (owner, title, compares, record_system, numeric params)"
        ) from err


def checks_in(manifest: Mapping[str, Any]) -> tuple[Check, ...]:
    """The checks of a parsed dbt manifest, ordered by id."""
    found = [check_of(n) for n in manifest.get("nodes", {}).values() if is_check_model(n)]
    return tuple(sorted(found, key=lambda c: c.check_id))


def read_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    if not path.is_file():
        raise CatalogError(
            f"dbt manifest not found at {path}: the reconciliation checks are dbt models, "
            "read from it; run `make dbt-prepare` (dbt parse) first"
        )
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


@cache
def catalog() -> tuple[Check, ...]:
    """Every check model of the dbt project, ordered by id."""
    checks = checks_in(read_manifest())
    if not checks:
        raise CatalogError(f"the dbt manifest {MANIFEST} declares no reconciliation check")
    return checks


def get(check_id: str) -> Check:
    for check in catalog():
        if check.check_id == check_id:
            return check
    raise KeyError(f"no check {check_id!r}; known: {', '.join(c.check_id for c in catalog())}")
