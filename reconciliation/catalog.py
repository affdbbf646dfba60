"""The check catalogue: each reconciliation check declared once, discovered by module.

A check is one module in ``reconciliation/checks/`` defining ``CHECK = Check(...)``: its id,
the systems it compares, the system whose id identifies a record, its owner, its SLA or
tolerance parameters, and one SQL query that runs inside the warehouse. Adding a check means
adding one such module; nothing else changes.

The query returns the check's whole population, one row per record checked::

    record_id, customer_id, entity, currency, amount, is_exception, detail

``amount`` is the amount at risk in ``currency`` (major units); ``detail`` is the plain
sentence a finance person acts on (only needed where ``is_exception``). The query may use
``{as_of}`` (a TIMESTAMPTZ literal of the as-of instant), ``{reporting_currency}`` and its
own parameters by name (``{sla_days}``…), all substituted as SQL literals.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

OWNERS = ("finance", "revops", "engineering", "billing")
SYSTEMS = ("salesforce", "stripe", "netsuite")


class CatalogError(ValueError):
    """A check declaration is invalid (bad owner, duplicate id, unknown parameter)."""


@dataclass(frozen=True)
class Check:
    """One reconciliation check.

    Attributes:
        check_id: The contract id (``invoice_not_posted``…); used in truth and by evaluations.
        title: A short human name for reports.
        compares: The two systems it compares.
        record_system: The system whose id ``record_id`` is.
        owner: The team the exception is routed to.
        sql: The population query (see the module docstring).
        params: Configurable parameters with their defaults (SLA days, tolerances); each can
            be overridden by ``REVOPS_<CHECK_ID>_<PARAM>`` in the environment.
    """

    check_id: str
    title: str
    compares: tuple[str, str]
    record_system: str
    owner: str
    sql: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.owner not in OWNERS:
            raise CatalogError(f"{self.check_id}: owner {self.owner!r} not one of {OWNERS}")
        if self.record_system not in SYSTEMS or not set(self.compares) <= set(SYSTEMS):
            raise CatalogError(f"{self.check_id}: unknown system in {self.compares}")

    def render(self, as_of: str, reporting_currency: str, overrides: Mapping[str, float]) -> str:
        """The query with its parameters substituted as SQL literals."""
        values = {**self.params, **{k: v for k, v in overrides.items() if k in self.params}}
        literals = {k: repr(float(v)) for k, v in values.items()}
        try:
            return self.sql.format(
                as_of=f"TIMESTAMPTZ '{as_of}'",
                reporting_currency="'" + reporting_currency.replace("'", "''") + "'",
                **literals,
            )
        except KeyError as err:
            raise CatalogError(f"{self.check_id}: query uses undeclared parameter {err}") from err


@cache
def catalog() -> tuple[Check, ...]:
    """Every check module in ``reconciliation.checks``, ordered by id."""
    from reconciliation import checks

    found: dict[str, Check] = {}
    for module in pkgutil.iter_modules(checks.__path__):
        check = getattr(importlib.import_module(f"{checks.__name__}.{module.name}"), "CHECK", None)
        if not isinstance(check, Check):
            raise CatalogError(f"reconciliation/checks/{module.name}.py defines no CHECK")
        if check.check_id in found:
            raise CatalogError(f"check id {check.check_id} is declared twice")
        found[check.check_id] = check
    return tuple(found[k] for k in sorted(found))


def get(check_id: str) -> Check:
    for check in catalog():
        if check.check_id == check_id:
            return check
    raise KeyError(f"no check {check_id!r}; known: {', '.join(c.check_id for c in catalog())}")
