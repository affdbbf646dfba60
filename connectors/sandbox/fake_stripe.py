"""A fake Stripe API: a real HTTP server serving a source drop's Stripe objects.

It speaks Stripe's wire protocol closely enough for the official ``stripe`` SDK and for
api-mode extraction (``connectors/api/stripe_api.py``):

- ``GET /v1/customers|products|prices|subscriptions|invoices|invoice_payments|credit_notes|
  charges|refunds|billing/meters`` with ``limit`` (1-100, default 10), ``starting_after``,
  ``ending_before`` and ``created`` / ``created[gte|gt|lte|lt]``; newest first (``created``
  then ``id`` descending); ``{"object":"list","data":[…],"has_more":…,"url":…}``.
  Subscriptions exclude ``canceled`` ones unless ``status=all`` (or ``status=canceled``).
- Embedded lists are truncated as the API does: ``invoice.lines``, ``credit_note.lines`` and
  ``subscription.items`` show their first 10 items (``has_more: true`` when there are more);
  the rest come from ``GET /v1/invoices/{id}/lines``, ``GET /v1/credit_notes/{id}/lines`` and
  ``GET /v1/subscription_items?subscription=…``.
- ``GET /v1/<resource>/{id}`` retrieves one object.
- Auth: ``Authorization: Bearer <key>`` (or HTTP Basic with the key as user name); errors in
  Stripe's body ``{"error":{"type","code","message","param","doc_url"}}`` with a
  ``Request-Id`` header.
- Faults from a :class:`~connectors.sandbox.faults.FaultPlan` (at most one per request):
  ``rate_limit`` (429, ``Stripe-Should-Retry: true``, ``Retry-After: 1``),
  ``rate_limit_no_retry`` (429 without them), ``server_error`` (500 ``api_error``),
  ``fail_mid_pagination`` (503 for the next request carrying ``starting_after``) and
  ``slow`` (answer only after ``slow_seconds``). ``expired_session`` is not a Stripe concept
  and is ignored. ``no_date`` leaves the ``Date`` header out of a response.
- Every response carries ``Date`` = the drop's ``exported_at`` (the fake's clock stands at
  the export instant: :mod:`connectors.sandbox.fake_clock`).

Usage::

    with start_fake_stripe(drop_dir, "sk_test_sandbox") as server:
        client = stripe.StripeClient("sk_test_sandbox", base_addresses={"api": server.url})
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
import socket
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connectors.sandbox.fake_clock import DatedHandler, FakeClock
from connectors.sandbox.fake_stripe_store import (
    EMBEDDED_LIMIT,
    LIST_RESOURCES,
    Collection,
    load_store,
    page_window,
)
from connectors.sandbox.faults import FaultPlan
from connectors.sandbox.stripe_wire import API_VERSION

_ROUTE = re.compile(
    r"^/v1/(?P<resource>billing/meters|[a-z_]+)(?:/(?P<id>[A-Za-z0-9_]+)(?P<lines>/lines)?)?/?$"
)
_CREATED_OPS = ("gte", "gt", "lte", "lt")
_LINES_PARENTS = frozenset({"invoices", "credit_notes"})
_PAGING_PARAMS = frozenset({"limit", "starting_after", "ending_before"})
_RATE_LIMIT_MESSAGE = (
    "Request rate limit exceeded. You can learn more about rate limits here "
    "https://stripe.com/docs/rate-limits."
)
_SERVER_ERROR_MESSAGE = (
    "Sorry, something went wrong. We've already been notified of the problem, but if you "
    "need any help, you can reach us at support.stripe.com/contact."
)
_NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
# Stripe object names of the drop's files, for "No such …" messages.
_OBJECT_NAMES = {
    "customers": "customer",
    "products": "product",
    "prices": "price",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "invoice_payments": "invoice_payment",
    "credit_notes": "credit_note",
    "charges": "charge",
    "refunds": "refund",
    "billing_meters": "billing.meter",
}


@dataclass(frozen=True)
class Response:
    """An HTTP response of the fake API."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class StripeHttpError(Exception):
    """An error answer in Stripe's format (raised inside the app, turned into a response)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.type = type_
        self.code = code
        self.param = param
        self.headers = headers or {}
        super().__init__(message)

    def response(self) -> Response:
        """The error as Stripe sends it."""
        doc_url = (
            f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
            if self.code
            else None
        )
        error = {
            "code": self.code,
            "doc_url": doc_url,
            "message": str(self),
            "param": self.param,
            "type": self.type,
        }
        return Response(self.status, json.dumps({"error": error}).encode(), dict(self.headers))


def _bad_param(message: str, param: str) -> StripeHttpError:
    return StripeHttpError(400, message, code="parameter_invalid_integer", param=param)


def _missing(resource: str, record_id: str, param: str | None = None) -> StripeHttpError:
    name = _OBJECT_NAMES.get(resource, resource)
    return StripeHttpError(
        404 if param is None else 400,
        f"No such {name}: '{record_id}'",
        code="resource_missing",
        param=param or "id",
    )


def mask_key(key: str) -> str:
    """A key as Stripe echoes it in errors: prefix and last four characters only."""
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def _query(raw: str) -> dict[str, str]:
    """Query parameters (the last value wins for a repeated name)."""
    return dict(parse_qsl(raw, keep_blank_values=True))


def _int_param(params: dict[str, str], name: str) -> int:
    value = params[name]
    try:
        return int(value)
    except ValueError:
        raise _bad_param(f"Invalid integer: {value}", name) from None


def _limit(params: dict[str, str]) -> int:
    if "limit" not in params:
        return 10
    limit = _int_param(params, "limit")
    if not 1 <= limit <= 100:
        raise StripeHttpError(
            400,
            f"This value must be greater than or equal to 1 and less than or equal to 100 "
            f"(it currently is {limit}).",
            code="parameter_invalid_integer",
            param="limit",
        )
    return limit


def _created_filters(params: dict[str, str]) -> dict[str, int]:
    filters: dict[str, int] = {}
    if "created" in params:
        filters["eq"] = _int_param(params, "created")
    for op in _CREATED_OPS:
        name = f"created[{op}]"
        if name in params:
            filters[op] = _int_param(params, name)
    return filters


def _check_params(params: dict[str, str], allowed: frozenset[str]) -> None:
    for name in params:
        if name not in allowed:
            raise StripeHttpError(
                400,
                f"Received unknown parameter: {name} (the fake Stripe API supports: "
                f"{', '.join(sorted(allowed))})",
                code="parameter_unknown",
                param=name,
            )
    if "starting_after" in params and "ending_before" in params:
        raise StripeHttpError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="starting_after",
        )


def _list_body(url: str, items: list[bytes], has_more: bool) -> bytes:
    """Stripe's list envelope around already serialised items."""
    more = b"true" if has_more else b"false"
    head = b'{"object":"list","data":['
    tail = b'],"has_more":' + more + b',"url":' + json.dumps(url).encode() + b"}"
    return head + b",".join(items) + tail


class FakeStripeApp:
    """The fake API without HTTP: ``handle(method, target, authorization) -> Response``."""

    def __init__(
        self,
        store: dict[str, Collection],
        api_key: str,
        faults: FaultPlan,
        stop: threading.Event,
    ) -> None:
        self.store = store
        self.api_key = api_key
        self.faults = faults
        self._stop = stop

    def handle(self, method: str, target: str, authorization: str | None) -> Response:
        """Answer one request (``target`` is the path with its query string)."""
        try:
            self._authenticate(authorization)
            url = urlsplit(target)
            params = _query(url.query)
            self._inject_faults(params)
            if method != "GET":
                raise StripeHttpError(
                    400, f"The fake Stripe API is read-only (got {method} {url.path})."
                )
            return self._route(url.path, params)
        except StripeHttpError as err:
            return err.response()

    def _authenticate(self, authorization: str | None) -> None:
        presented = _presented_key(authorization)
        if not presented:
            raise StripeHttpError(401, _NO_KEY_MESSAGE)
        if not hmac.compare_digest(presented.encode(), self.api_key.encode()):
            raise StripeHttpError(401, f"Invalid API Key provided: {mask_key(presented)}")

    def _inject_faults(self, params: dict[str, str]) -> None:
        plan = self.faults
        if plan.take("rate_limit"):
            raise StripeHttpError(
                429,
                _RATE_LIMIT_MESSAGE,
                code="rate_limit",
                headers={"Stripe-Should-Retry": "true", "Retry-After": "1"},
            )
        if plan.take("rate_limit_no_retry"):
            raise StripeHttpError(429, _RATE_LIMIT_MESSAGE, code="rate_limit")
        if plan.take("server_error"):
            raise StripeHttpError(500, _SERVER_ERROR_MESSAGE, type_="api_error")
        if "starting_after" in params and plan.take("fail_mid_pagination"):
            raise StripeHttpError(503, _SERVER_ERROR_MESSAGE, type_="api_error")
        if plan.take("slow"):
            self._stop.wait(plan.slow_seconds)

    def _route(self, path: str, params: dict[str, str]) -> Response:
        match = _ROUTE.match(path)
        resource = match["resource"] if match else None
        if match is not None and resource == "subscription_items" and not match["id"]:
            return self._subscription_items(params)
        name = LIST_RESOURCES.get(resource or "")
        if match is None or name is None or (match["lines"] and name not in _LINES_PARENTS):
            raise StripeHttpError(
                404,
                f"Unrecognized request URL (GET: {path}). Please see https://stripe.com/docs "
                "or we can help at https://support.stripe.com/.",
            )
        collection = self.store[name]
        if match["lines"]:
            return self._embedded(
                collection, match["id"], f"/v1/{resource}/{match['id']}/lines", params
            )
        if match["id"]:
            return self._retrieve(collection, match["id"], params)
        return self._list(collection, f"/v1/{resource}", params)

    def _retrieve(self, collection: Collection, record_id: str, params: dict[str, str]) -> Response:
        _check_params(params, frozenset())
        pos = collection.position.get(record_id)
        if pos is None:
            raise _missing(collection.name, record_id)
        return Response(200, collection.body(pos))

    def _list(self, collection: Collection, url: str, params: dict[str, str]) -> Response:
        allowed = _PAGING_PARAMS | {"created"} | {f"created[{op}]" for op in _CREATED_OPS}
        if collection.name == "subscriptions":
            allowed |= {"status"}
        _check_params(params, allowed)
        limit = _limit(params)
        view = collection.view(params.get("status"))
        lo, hi = collection.created_bounds(view, _created_filters(params))
        after = before = None
        if "starting_after" in params:
            after = bisect_right(view, _cursor(collection, params, "starting_after"))
        elif "ending_before" in params:
            before = bisect_left(view, _cursor(collection, params, "ending_before"))
        window = page_window(lo, hi, limit, after=after, before=before)
        items = [collection.body(view[i]) for i in range(window.start, window.stop)]
        return Response(200, _list_body(url, items, window.has_more))

    def _embedded(
        self, collection: Collection, parent_id: str, url: str, params: dict[str, str]
    ) -> Response:
        _check_params(params, _PAGING_PARAMS)
        pos = collection.position.get(parent_id)
        if pos is None:
            raise _missing(collection.name, parent_id)
        return _embedded_page(collection.embedded_items(pos), url, params)

    def _subscription_items(self, params: dict[str, str]) -> Response:
        _check_params(params, _PAGING_PARAMS | {"subscription"})
        sub_id = params.get("subscription")
        if not sub_id:
            raise StripeHttpError(
                400,
                "Missing required param: subscription.",
                code="parameter_missing",
                param="subscription",
            )
        subscriptions = self.store["subscriptions"]
        pos = subscriptions.position.get(sub_id)
        if pos is None:
            raise _missing("subscriptions", sub_id, param="subscription")
        return _embedded_page(subscriptions.embedded_items(pos), "/v1/subscription_items", params)


def _presented_key(authorization: str | None) -> str:
    """The API key in an ``Authorization`` header (Bearer, or Basic with the key as user)."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip()).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return ""
    return ""


def _cursor(collection: Collection, params: dict[str, str], param: str) -> int:
    """List position of the object a ``starting_after`` / ``ending_before`` names."""
    pos = collection.position.get(params[param])
    if pos is None:
        raise _missing(collection.name, params[param], param=param)
    return pos


def _embedded_page(items: list[dict[str, Any]], url: str, params: dict[str, str]) -> Response:
    """One page of an embedded list, in the order the parent holds it."""
    limit = _limit(params)
    index = {item.get("id"): i for i, item in enumerate(items)}
    after = before = None
    for param in ("starting_after", "ending_before"):
        if param in params and params[param] not in index:
            raise StripeHttpError(
                400, f"No such item: '{params[param]}'", code="resource_missing", param=param
            )
    if "starting_after" in params:
        after = index[params["starting_after"]] + 1
    elif "ending_before" in params:
        before = index[params["ending_before"]]
    window = page_window(0, len(items), limit, after=after, before=before)
    page = [
        json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        for item in items[window.start : window.stop]
    ]
    return Response(200, _list_body(url, page, window.has_more))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: FakeStripeApp
    counter: _Counter
    clock: FakeClock

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (a timed-out request) are routine, not worth a traceback."""


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def increment(self) -> None:
        with self._lock:
            self.value += 1


class _Handler(DatedHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "fake-stripe"
    sys_version = ""
    timeout = 60

    def setup(self) -> None:
        """Send each write at once: Nagle plus delayed ACKs costs 40 ms per small response."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def fake_clock(self) -> FakeClock:
        return self.server.clock

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        self.server.counter.increment()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        response = self.server.app.handle(method, self.path, self.headers.get("Authorization"))
        try:
            self.send_response(response.status)
            headers = {
                "Content-Type": "application/json",
                "Content-Length": str(len(response.body)),
                "Request-Id": "req_" + secrets.token_hex(7),
                "Stripe-Version": API_VERSION,
                **response.headers,
            }
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except OSError:
            self.close_connection = True

    def version_string(self) -> str:
        """``Server: fake-stripe`` (no Python version)."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log."""


class FakeServer:
    """A running fake Stripe API (stop it with :meth:`stop` or use it as a context manager).

    Attributes:
        url: ``http://127.0.0.1:<port>``, the SDK's ``base_addresses["api"]``.
        faults: The live fault plan (arm more faults while it runs).
        clock: What the ``Date`` header says (the drop's ``exported_at``).
    """

    def __init__(self, server: _Server, faults: FaultPlan, stop: threading.Event) -> None:
        self._server = server
        self._stop = stop
        self.faults = faults
        self.clock = server.clock
        host, port = server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server: its host is the address it bound
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"fake-stripe-{port}",
        )
        self._thread.start()

    @property
    def requests(self) -> int:
        """How many HTTP requests the server has received (faulted ones included)."""
        return self._server.counter.value

    def stop(self) -> None:
        """Stop serving, wake slow responses and close the listening socket."""
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_fake_stripe(
    drop_dir: Path,
    api_key: str,
    faults: FaultPlan | None = None,
    port: int = 0,
    *,
    embedded_limit: int = EMBEDDED_LIMIT,
    date: datetime | None = None,
) -> FakeServer:
    """Load a drop's Stripe files and serve them on ``127.0.0.1:port`` in a background thread.

    Args:
        drop_dir: A source drop (its ``stripe/`` directory is served).
        api_key: The only secret key the server accepts.
        faults: Faults to inject (armed counts are consumed as requests arrive).
        port: TCP port; 0 picks a free one.
        embedded_limit: Items an embedded list shows before ``has_more`` (Stripe: 10).
        date: The instant every ``Date`` header shows (default: the drop's ``exported_at``;
            the live clock for a drop without a readable manifest).

    Raises:
        SourceDropError: The drop has no readable Stripe files.
    """
    if embedded_limit < 1:
        raise ValueError(f"embedded_limit must be at least 1 (got {embedded_limit})")
    store = load_store(Path(drop_dir), embedded_limit)
    plan = faults if faults is not None else FaultPlan()
    stop = threading.Event()
    server = _Server(("127.0.0.1", port), _Handler)
    server.app = FakeStripeApp(store, api_key, plan, stop)
    server.counter = _Counter()
    server.clock = FakeClock.for_drop(Path(drop_dir), plan, date)
    return FakeServer(server, plan, stop)
