"""The unit api-mode extraction hands to landing: one page of records as received."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Page:
    """One page of one object from one system.

    Attributes:
        system: ``salesforce``, ``stripe`` or ``netsuite``.
        obj: The object's source-drop file stem (``invoices``, ``Opportunity``,
            ``transaction``…), so a page lands where the same file of a drop would.
        records: The records as the API returned them (parsed JSON objects, key order kept).
        cursor: The largest incremental cursor value in this page (``created`` for Stripe,
            ``SystemModstamp`` for Salesforce, ``lastmodifieddate`` or ``id`` for NetSuite),
            as a string; ``None`` when the object has no cursor.
        request: What was asked for, for the batch manifest (``GET /v1/invoices?...``);
            never holds credentials.
    """

    system: str
    obj: str
    records: list[dict[str, Any]]
    cursor: str | None = None
    request: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
