"""api mode: extract from the vendors' APIs, land every page, load it; same path as files mode.

Incremental: each object's cursor (``raw_meta.cursors``) is passed to its extractor as
``since``, and advanced to the largest cursor loaded only after every page of that object
is safely in the warehouse. Metered usage is not listable in Stripe's API: it comes from
the product's own usage export (a ``meter_events.jsonl`` file), loaded like a drop file.

As-of instant: an extraction is as of the source system's own clock, read from the HTTP
``Date`` header of its responses (:mod:`connectors.api.clock`: the first parseable one; the
local clock at the start when none has one). Every page and the usage export of the system
are landed with that ``extracted_at``, and it is recorded in ``raw_meta.source_state`` where
files mode records a drop's ``exported_at``: against the real vendors it is about now; against
the sandbox fakes, whose clock stands at their drop's ``exported_at``, it is the export
instant, so api mode and files mode on the same drop judge it as of the same instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from connectors.api.clock import SourceClock, stamp
from connectors.api.netsuite_api import extract_netsuite
from connectors.api.pages import Page
from connectors.api.retry import RetryPolicy
from connectors.api.salesforce_api import client_credentials_session, extract_salesforce
from connectors.api.stripe_api import extract_stripe
from connectors.landing import land_file, land_page
from connectors.load.files_mode import record_source_state
from connectors.load.loader import BatchResult, load_batch
from connectors.load.warehouse import ensure_system_tables
from connectors.schemas import spec_for


@dataclass(frozen=True)
class StripeSource:
    api_key: str
    base_url: str = "https://api.stripe.com"
    usage_export: Path | None = None  # meter_events.jsonl from the product's usage export
    timeout: float = 30.0


@dataclass(frozen=True)
class SalesforceSource:
    instance_url: str
    client_id: str
    client_secret: str
    ca_bundle: str | bool = True
    timeout: float = 30.0


@dataclass(frozen=True)
class NetSuiteSource:
    base_url: str
    account_id: str
    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str
    ca_bundle: str | bool = True
    timeout: float = 30.0


Source = StripeSource | SalesforceSource | NetSuiteSource


def cursors(con: duckdb.DuckDBPyConnection, system: str) -> dict[str, str]:
    """The stored cursor of each of ``system``'s objects."""
    rows = con.execute("SELECT object, cursor FROM raw_meta.cursors WHERE system = ?", [system])
    return dict(rows.fetchall())


def _pages(
    system: str, source: Source, since: dict[str, str], policy: RetryPolicy, clock: SourceClock
) -> Iterator[Page]:
    if isinstance(source, StripeSource):
        return extract_stripe(
            source.api_key,
            source.base_url,
            since={k: int(v) for k, v in since.items() if k != "meter_events"},  # usage: export
            policy=policy,
            timeout=source.timeout,
            clock=clock,
        )
    if isinstance(source, SalesforceSource):
        session = client_credentials_session(
            source.instance_url,
            source.client_id,
            source.client_secret,
            source.ca_bundle,
            source.timeout,
        )
        return extract_salesforce(
            source.instance_url,
            session,
            source.ca_bundle,
            since=since,
            policy=policy,
            timeout=source.timeout,
            clock=clock,
        )
    return extract_netsuite(
        source.base_url,
        source.account_id,
        source.consumer_key,
        source.consumer_secret,
        source.token_id,
        source.token_secret,
        source.ca_bundle,
        since=since,
        policy=policy,
        timeout=source.timeout,
        clock=clock,
    )


def _later(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    if a.isdigit() and b.isdigit():
        return a if int(a) >= int(b) else b
    return max(a, b)


def load_api_system(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    system: str,
    source: Source,
    *,
    policy: RetryPolicy | None = None,
    extracted_at: str | None = None,
    clock: SourceClock | None = None,
) -> list[BatchResult]:
    """Extract ``system`` incrementally, landing and loading page by page.

    Args:
        extracted_at: The as-of instant to record (``2026-06-30T23:59:59Z``); default: the
            source's clock (``clock``), fixed when the first page lands.
        clock: Collects the responses' ``Date`` headers (a new one when ``None``; pass one to
            read what the source's clock said afterwards).
    """
    clock = clock or SourceClock()
    ensure_system_tables(con, system)
    results: list[BatchResult] = []
    newest: dict[str, str | None] = {}
    for page in _pages(system, source, cursors(con, system), policy or RetryPolicy(), clock):
        # The page's response has been received: the first Date, if any, is known.
        extracted_at = extracted_at or stamp(clock.instant())
        batch = land_page(home, page, extracted_at=extracted_at)
        result = load_batch(con, batch, spec_for(system, page.obj), advance_cursor=False)
        results.append(result)
        newest[page.obj] = _later(newest.get(page.obj), result.cursor_max)
    extracted_at = extracted_at or stamp(clock.instant())  # a system without pages
    usage = source.usage_export if isinstance(source, StripeSource) else None
    if usage is not None and usage.exists():
        batch = land_file(home, system, "meter_events", usage, extracted_at=extracted_at)
        results.append(load_batch(con, batch, spec_for(system, "meter_events")))
    for obj, cursor in newest.items():
        if cursor is not None:
            con.execute(
                "INSERT OR REPLACE INTO raw_meta.cursors VALUES (?, ?, ?, now())",
                [system, obj, cursor],
            )
    record_source_state(con, f"api:{system}", extracted_at)
    return results
