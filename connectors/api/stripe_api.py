"""api mode for Stripe: list every billing object through the official ``stripe`` SDK.

``extract_stripe`` pages through ``GET /v1/<resource>`` with ``limit`` and
``starting_after`` (newest first, as Stripe lists), optionally from ``created[gte]`` on, and
yields one :class:`~connectors.api.pages.Page` per API page. Requests go through the SDK's
``StripeClient.raw_request`` (its auth, parameter encoding, API version and error classes)
and records are the response body's JSON, not SDK objects: building ``StripeObject`` trees
costs about eight times the whole request, and the SDK turns fields such as
``unit_amount_decimal`` into ``Decimal`` while landing wants exactly what a drop line holds.
Embedded lists the API truncates (``invoice.lines``, ``credit_note.lines``,
``subscription.items``: the first 10 items and ``has_more: true``) are completed from
``/v1/invoices/{id}/lines``, ``/v1/credit_notes/{id}/lines`` and
``/v1/subscription_items?subscription=…`` and then carry ``has_more: false``, so each record
equals the drop's line for the same object.

Every response's headers (errors included) go to a
:class:`~connectors.api.clock.SourceClock`, whose first ``Date`` is the extraction's as-of
instant (``StripeResponse.headers``, ``StripeError.headers``).

The SDK's own retries are off (``max_network_retries=0``); :class:`RetryPolicy` retries 429
(with or without ``Stripe-Should-Retry``, honouring ``Retry-After``), 5xx, connection errors
and timeouts. A 401 fails at once with an :class:`ApiError` that names ``STRIPE_API_KEY``. The
key itself never appears in a request description, an error or a log line.

Billing meter events (``meter_events`` in a drop) are not extracted: Stripe has no endpoint
that lists raw meter events (``/v1/billing/meter_events`` only creates them, and the
``event_summaries`` endpoint returns aggregates per customer and meter). The pipeline reads
usage from the product's usage export (the drop's ``stripe/meter_events.jsonl``) instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import stripe

from connectors.api.clock import SourceClock
from connectors.api.pages import Page
from connectors.api.retry import RETRY_STATUSES, ApiError, RetryableError, RetryPolicy

SYSTEM = "stripe"
DEFAULT_TIMEOUT = 30.0
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class _Embedded:
    """An embedded list the API truncates, and where the whole list is served.

    Attributes:
        field: The record's key holding the list (``lines``, ``items``).
        path: The list endpoint, formatted with the parent's ``id``.
        parent_param: The query parameter naming the parent, when the path does not.
    """

    field: str
    path: str
    parent_param: str | None = None


@dataclass(frozen=True)
class _Resource:
    """One listable Stripe resource, named by its drop file stem."""

    obj: str
    path: str
    fixed: dict[str, Any] = field(default_factory=dict)
    embedded: _Embedded | None = None


RESOURCES: dict[str, _Resource] = {
    r.obj: r
    for r in (
        _Resource("customers", "/v1/customers"),
        _Resource("products", "/v1/products"),
        _Resource("prices", "/v1/prices"),
        _Resource(
            "subscriptions",
            "/v1/subscriptions",
            fixed={"status": "all"},  # Stripe's default leaves canceled subscriptions out
            embedded=_Embedded("items", "/v1/subscription_items", "subscription"),
        ),
        _Resource(
            "invoices", "/v1/invoices", embedded=_Embedded("lines", "/v1/invoices/{id}/lines")
        ),
        _Resource("invoice_payments", "/v1/invoice_payments"),
        _Resource(
            "credit_notes",
            "/v1/credit_notes",
            embedded=_Embedded("lines", "/v1/credit_notes/{id}/lines"),
        ),
        _Resource("charges", "/v1/charges"),
        _Resource("refunds", "/v1/refunds"),
        _Resource("billing_meters", "/v1/billing/meters"),
    )
}

NOT_LISTABLE = {
    "meter_events": (
        "Stripe's API cannot list raw meter events; read them from the product's usage "
        "export (a drop's stripe/meter_events.jsonl)"
    ),
}


def describe_request(path: str, params: dict[str, Any]) -> str:
    """``GET <path>?<params>`` with nested params in bracket form, as the SDK encodes them.

    >>> describe_request("/v1/invoices", {"limit": 100, "created": {"gte": 5}})
    'GET /v1/invoices?limit=100&created[gte]=5'
    """
    parts: list[str] = []
    for key, value in params.items():
        if isinstance(value, dict):
            parts.extend(f"{key}[{sub}]={quote(str(v), safe='')}" for sub, v in value.items())
        else:
            parts.append(f"{key}={quote(str(value), safe='')}")
    return f"GET {path}" + (f"?{'&'.join(parts)}" if parts else "")


def select_resources(objects: Iterable[str] | None) -> list[_Resource]:
    """The resources to extract, in extraction order (all of them for ``None``).

    Raises:
        ValueError: An object is unknown or cannot be listed through the API.
    """
    if objects is None:
        return list(RESOURCES.values())
    wanted = list(objects)
    for obj in wanted:
        if obj in NOT_LISTABLE:
            raise ValueError(
                f"Stripe object {obj!r} cannot be extracted in api mode: {NOT_LISTABLE[obj]}"
            )
        if obj not in RESOURCES:
            raise ValueError(f"unknown Stripe object {obj!r}; known: {', '.join(RESOURCES)}")
    return [r for name, r in RESOURCES.items() if name in wanted]


def _header(headers: Any, name: str) -> str | None:
    """A response header, looked up case-insensitively."""
    for key, value in dict(headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _retry_after(exc: stripe.StripeError) -> float | None:
    value = _header(exc.headers, "Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class _Fetcher:
    """Runs SDK list calls under our retry policy and returns the raw JSON bodies."""

    def __init__(
        self,
        client: stripe.StripeClient,
        policy: RetryPolicy,
        api_key: str,
        clock: SourceClock | None = None,
    ) -> None:
        self.client = client
        self.policy = policy
        self._api_key = api_key
        self.clock = clock

    def fetch(self, path: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """``GET path?params`` as parsed JSON, with the request's description.

        Retried per policy; :class:`ApiError` when it fails for good.
        """
        request = describe_request(path, params)
        attempts = 0

        def attempt() -> dict[str, Any]:
            nonlocal attempts
            attempts += 1
            try:
                response = self.client.raw_request("get", path, **params)
            except stripe.StripeError as exc:
                self._observe(exc.headers)
                raise self._translate(request, exc, attempts) from exc
            self._observe(getattr(response, "headers", None))
            return self._body(request, response, attempts)

        return request, self.policy.call(SYSTEM, request, attempt)

    def _observe(self, headers: Any) -> None:
        if self.clock is not None and headers is not None:
            self.clock.observe(headers)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[STRIPE_API_KEY]") if self._api_key else text

    def _translate(
        self, request: str, exc: stripe.StripeError, attempts: int
    ) -> RetryableError | ApiError:
        """Our view of an SDK error: retry it, or fail with what to do about it."""
        status = exc.http_status
        message = self._redact(exc.user_message or type(exc).__name__)
        if isinstance(exc, stripe.AuthenticationError):
            return ApiError(
                SYSTEM,
                request,
                status,
                attempts,
                f"stripe API request {request} was refused ({status}): the STRIPE_API_KEY is "
                "invalid, revoked or for another account; set STRIPE_API_KEY to a valid "
                "secret or restricted key",
            )
        if isinstance(exc, stripe.APIConnectionError):
            cause = exc.__cause__
            detail = f"{type(cause).__name__}: {cause}" if cause else "connection error"
            return RetryableError(None, self._redact(detail))
        if (
            isinstance(exc, stripe.RateLimitError)
            or status in RETRY_STATUSES
            or (status is not None and status >= 500)
        ):
            return RetryableError(status, message, _retry_after(exc))
        hint = (
            "grant the restricted STRIPE_API_KEY read access to this resource"
            if isinstance(exc, stripe.PermissionError)
            else "check the Stripe account and API version"
        )
        return ApiError(
            SYSTEM,
            request,
            status,
            attempts,
            f"stripe API request {request} failed ({status}: {message}); {hint}",
        )

    def _body(self, request: str, response: Any, attempts: int) -> dict[str, Any]:
        """The list object in a response, as plain JSON (the SDK's ``OrderedDict`` aside)."""
        try:
            body: Any = json.loads(response.body)
        except (AttributeError, TypeError, ValueError):
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ApiError(
                SYSTEM,
                request,
                getattr(response, "code", None),
                attempts,
                f"stripe API request {request} did not return a list object; check that "
                "the Stripe base URL points at the Stripe API",
            )
        return body


def _complete_embedded(
    fetcher: _Fetcher, record: dict[str, Any], embedded: _Embedded, page_size: int
) -> int:
    """Fetch the rest of a truncated embedded list into ``record``; returns requests made."""
    listed = record.get(embedded.field)
    if not isinstance(listed, dict) or not listed.get("has_more"):
        return 0
    items: list[dict[str, Any]] = listed["data"]
    params: dict[str, Any] = {embedded.parent_param: record["id"]} if embedded.parent_param else {}
    params["limit"] = page_size
    path = embedded.path.format(id=record["id"])
    requests = 0
    more = True
    while more:
        if items:
            params["starting_after"] = items[-1]["id"]
        _, body = fetcher.fetch(path, dict(params))
        requests += 1
        items.extend(body["data"])
        more = bool(body.get("has_more")) and bool(body["data"])
    listed["has_more"] = False
    return requests


def _max_created(records: list[dict[str, Any]]) -> str | None:
    values = [r["created"] for r in records if isinstance(r.get("created"), int)]
    return str(max(values)) if values else None


def _pages(
    fetcher: _Fetcher, resource: _Resource, since: int | None, page_size: int
) -> Iterator[Page]:
    """Every page of one resource, embedded lists completed."""
    params: dict[str, Any] = {"limit": page_size, **resource.fixed}
    if since is not None:
        params["created"] = {"gte": int(since)}
    while True:
        request, body = fetcher.fetch(resource.path, dict(params))
        records: list[dict[str, Any]] = body["data"]
        embedded_requests = 0
        if resource.embedded is not None:
            for record in records:
                embedded_requests += _complete_embedded(
                    fetcher, record, resource.embedded, page_size
                )
        has_more = bool(body.get("has_more")) and bool(records)
        yield Page(
            system=SYSTEM,
            obj=resource.obj,
            records=records,
            cursor=_max_created(records),
            request=request,
            meta={"has_more": has_more, "embedded_requests": embedded_requests},
        )
        if not has_more:
            return
        params["starting_after"] = records[-1]["id"]


def _check_arguments(page_size: int, since: dict[str, int] | None, timeout: float) -> None:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE} (got {page_size})")
    if timeout <= 0:
        raise ValueError(f"timeout must be positive seconds (got {timeout})")
    unknown = sorted(set(since or {}) - set(RESOURCES))
    if unknown:
        raise ValueError(
            f"since names unknown Stripe objects {unknown}; known: {', '.join(RESOURCES)}"
        )


def extract_stripe(
    api_key: str,
    base_url: str,
    objects: Iterable[str] | None = None,
    since: dict[str, int] | None = None,
    page_size: int = MAX_PAGE_SIZE,
    policy: RetryPolicy | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    clock: SourceClock | None = None,
) -> Iterator[Page]:
    """Extract Stripe objects page by page through the official SDK.

    Args:
        api_key: The secret or restricted key (``STRIPE_API_KEY``); never logged.
        base_url: The API's base address (``https://api.stripe.com`` or a fake's URL).
        objects: Drop file stems to extract (default: every listable object, in
            dependency order: customers, products, prices, subscriptions, invoices,
            invoice_payments, credit_notes, charges, refunds, billing_meters).
        since: Per object, a Unix time: only records with ``created >= since`` are listed.
        page_size: ``limit`` per request (1-100).
        policy: Retry policy for every request (default :class:`RetryPolicy`).
        timeout: Seconds per HTTP request before it counts as a (retryable) timeout.
        clock: Observes every response's headers (the ``Date`` giving the as-of instant).

    Yields:
        One :class:`Page` per API page (``cursor``: the page's largest ``created``).

    Raises:
        ApiError: A request failed for good (401 at once; 429/5xx/timeouts after the
            policy's bound).
        ValueError: Bad arguments (unknown objects, ``meter_events``, page size).
    """
    resources = select_resources(objects)
    _check_arguments(page_size, since, timeout)
    http_client = stripe.RequestsClient(timeout=timeout)
    client = stripe.StripeClient(
        api_key,
        base_addresses={"api": base_url.rstrip("/")},
        max_network_retries=0,
        http_client=http_client,
    )
    fetcher = _Fetcher(client, policy or RetryPolicy(), api_key, clock)
    try:
        for resource in resources:
            yield from _pages(fetcher, resource, (since or {}).get(resource.obj), page_size)
    finally:
        http_client.close()
