"""The exception queue as finance works it: filtered, sorted by amount at risk."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from reconciliation.catalog import OWNERS, CatalogError, catalog


class QueueError(ValueError):
    """A filter names an unknown owner, check or status."""


@dataclass(frozen=True)
class QueueFilter:
    owner: str | None = None
    status: str = "open"  # open | resolved | all
    check_id: str | None = None
    entity: str | None = None

    def validate(self) -> None:
        if self.owner is not None and self.owner not in OWNERS:
            raise QueueError(f"unknown owner {self.owner!r}; owners: {', '.join(OWNERS)}")
        if self.status not in ("open", "resolved", "all"):
            raise QueueError(f"unknown status {self.status!r}; use open, resolved or all")
        if self.check_id is None:
            return
        try:
            ids = [c.check_id for c in catalog()]
        except CatalogError as err:
            raise QueueError(f"cannot check the check id {self.check_id!r}: {err}") from err
        if self.check_id not in ids:
            raise QueueError(f"unknown check {self.check_id!r}; checks: {', '.join(ids)}")


COLUMNS = (
    "severity",
    "owner",
    "check_id",
    "record_id",
    "entity",
    "amount_at_risk_reporting",
    "status",
    "first_seen_at",
    "detail",
)


def exceptions(con: duckdb.DuckDBPyConnection, flt: QueueFilter) -> list[tuple]:
    """Rows of ``COLUMNS``, the largest amount at risk first."""
    flt.validate()
    where, params = [], []
    if flt.status != "all":
        where.append("status = ?")
        params.append(flt.status)
    for column, value in (("owner", flt.owner), ("check_id", flt.check_id), ("entity", flt.entity)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM recon.exceptions {clause} "
        "ORDER BY amount_at_risk_reporting DESC NULLS LAST, first_seen_at, check_id, record_id",
        params,
    ).fetchall()
