"""Extract Salesforce objects with simple-salesforce, page by page.

REST ``queryAll`` (deleted records included) follows ``nextRecordsUrl``; with
``use_bulk=True`` a Bulk API 2.0 ``queryAll`` job is used instead and its CSV is turned back
into the REST JSON types, so both paths yield the same records. Objects with a
``SystemModstamp`` are filtered on it when ``since`` names them (``Page.cursor`` is the page's
largest ``SystemModstamp``); the others are always extracted in full.

Our :class:`~connectors.api.retry.RetryPolicy` retries ``403 REQUEST_LIMIT_EXCEEDED``, 5xx,
connection errors and timeouts; a ``401 INVALID_SESSION_ID`` asks the session provider for a
new session once. Session ids and client secrets never appear in errors or in ``Page.request``.
Every response of the data session (REST and Bulk, errors included) passes its headers to a
:class:`~connectors.api.clock.SourceClock` through a ``requests`` response hook: its first
``Date`` is the extraction's as-of instant.
"""

from __future__ import annotations

import csv
import io
import re
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
)

from connectors.api.clock import SourceClock
from connectors.api.pages import Page
from connectors.api.retry import ApiError, RetryableError, RetryPolicy

SYSTEM = "salesforce"
API_VERSION = "62.0"
BULK_PAGE_SIZE = 50_000
CURSOR_FIELD = "SystemModstamp"
AUTH_HINT = (
    "check SALESFORCE_INSTANCE_URL, SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET "
    "(or SALESFORCE_SESSION_ID when a session id is supplied directly)"
)

# Field → JSON type of every object we extract ("str" covers ids, text, dates and datetimes).
OBJECTS: dict[str, dict[str, str]] = {
    "Account": {
        "Id": "str",
        "Name": "str",
        "Website": "str",
        "Type": "str",
        "ParentId": "str",
        "BillingCountry": "str",
        "CurrencyIsoCode": "str",
        "IsDeleted": "bool",
        "CreatedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "Opportunity": {
        "Id": "str",
        "AccountId": "str",
        "Name": "str",
        "Type": "str",
        "StageName": "str",
        "IsClosed": "bool",
        "IsWon": "bool",
        "CloseDate": "str",
        "Amount": "float",
        "CurrencyIsoCode": "str",
        "CreatedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "OpportunityLineItem": {
        "Id": "str",
        "OpportunityId": "str",
        "Product2Id": "str",
        "Quantity": "float",
        "UnitPrice": "float",
        "TotalPrice": "float",
        "ServiceDate": "str",
        "SystemModstamp": "datetime",
    },
    "Product2": {
        "Id": "str",
        "Name": "str",
        "ProductCode": "str",
        "Family": "str",
        "IsActive": "bool",
    },
    "Contract": {
        "Id": "str",
        "AccountId": "str",
        "ContractNumber": "str",
        "Status": "str",
        "StartDate": "str",
        "EndDate": "str",
        "ContractTerm": "int",
        "ActivatedDate": "datetime",
    },
}

T = TypeVar("T")
SessionProvider = Callable[[], str]
_CSV_DATETIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z$")


class _TimeoutSession(requests.Session):
    """A ``requests.Session`` with a default timeout (simple-salesforce's Bulk 2.0 calls take
    no ``timeout`` argument)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


def http_session(cert: str | bool, timeout: float) -> requests.Session:
    """A session that verifies TLS with ``cert`` and ignores the environment's CA bundle."""
    session = _TimeoutSession(timeout)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override ``verify``
    session.verify = cert
    return session


def soql_datetime(value: str) -> str:
    """A cursor value (``2026-01-01T00:00:00.000+0000``, ``…Z``, ``…+00:00``) as an unquoted
    SOQL datetime literal in UTC, whole seconds (``>`` on it may return a record of that very
    second again: at least once, never missed).

    >>> soql_datetime("2026-04-01T12:34:56.789+0200")
    '2026-04-01T10:34:56Z'
    """
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"Salesforce since value {value!r} is not a datetime such as 2026-01-01T00:00:00Z"
        ) from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_soql(obj: str, since: str | None = None) -> str:
    """The SOQL for one object: every field, filtered and ordered by ``SystemModstamp`` when
    the object has it.

    >>> build_soql("Product2")
    'SELECT Id, Name, ProductCode, Family, IsActive FROM Product2 ORDER BY Id ASC'
    """
    fields = OBJECTS[obj]
    soql = f"SELECT {', '.join(fields)} FROM {obj}"
    if CURSOR_FIELD in fields:
        if since is not None:
            soql += f" WHERE {CURSOR_FIELD} > {soql_datetime(since)}"
        return soql + f" ORDER BY {CURSOR_FIELD} ASC"
    return soql + " ORDER BY Id ASC"


def records_from_csv(obj: str, text: str, api_version: str = API_VERSION) -> list[dict[str, Any]]:
    """Bulk API 2.0 CSV rows as the REST API returns them: typed values, nulls, ``attributes``.

    >>> text = '"Id","Family","IsActive"\\n"01t000000000001AAA","","true"\\n'
    >>> record = records_from_csv("Product2", text)[0]
    >>> record["attributes"]["type"], record["Family"], record["IsActive"]
    ('Product2', None, True)
    """
    types = OBJECTS[obj]
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        record: dict[str, Any] = {
            "attributes": {
                "type": obj,
                "url": f"/services/data/v{api_version}/sobjects/{obj}/{row['Id']}",
            }
        }
        for name, value in row.items():
            record[name] = _typed(types.get(name, "str"), value)
        out.append(record)
    return out


def _typed(kind: str, value: str) -> Any:
    if value == "":
        return None
    if kind == "bool":
        return value.lower() == "true"
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(float(value))
    if kind == "datetime":
        match = _CSV_DATETIME.match(value)
        return f"{match[1]}+0000" if match else value
    return value


def client_credentials_session(
    instance_url: str, client_id: str, client_secret: str, cert: str | bool, timeout: float = 30
) -> SessionProvider:
    """A session provider using the OAuth 2.0 client-credentials flow of a My Domain.

    Each call posts to ``{instance_url}/services/oauth2/token`` and returns a new access token.

    Raises (when called):
        ApiError: The credentials were refused (names the environment variables to check).
        RetryableError: The token endpoint is unavailable (5xx or no response).
    """
    http = http_session(cert, timeout)
    token_url = instance_url.rstrip("/") + "/services/oauth2/token"

    def provide() -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        try:
            response = http.post(token_url, data=form)
        except requests.exceptions.SSLError as exc:
            raise _tls_error("POST /services/oauth2/token", exc) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableError(None, f"token request failed: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise RetryableError(response.status_code, "token endpoint unavailable")
        if response.status_code != 200:
            error = _json_or_empty(response)
            raise ApiError(
                SYSTEM,
                "POST /services/oauth2/token",
                response.status_code,
                1,
                f"Salesforce refused the client-credentials login ({response.status_code} "
                f"{error.get('error', '')}: {error.get('error_description', '')}); "
                f"{AUTH_HINT}",
            )
        token = _json_or_empty(response).get("access_token")
        if not isinstance(token, str) or not token:
            raise ApiError(
                SYSTEM,
                "POST /services/oauth2/token",
                response.status_code,
                1,
                f"Salesforce's token response holds no access_token; {AUTH_HINT}",
            )
        return token

    return provide


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _tls_error(request: str, exc: Exception) -> ApiError:
    return ApiError(
        SYSTEM,
        request,
        None,
        1,
        f"Salesforce {request}: TLS verification failed ({type(exc).__name__}); check "
        "SALESFORCE_INSTANCE_URL and the certificate (SALESFORCE_CA_BUNDLE) the connector trusts",
    )


def _error_code(exc: SalesforceError) -> tuple[str, str]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    return "", ""


class SalesforceClient:
    """One simple-salesforce connection, re-created when the session has to be renewed."""

    def __init__(
        self,
        instance_url: str,
        session_provider: SessionProvider,
        cert: str | bool,
        policy: RetryPolicy,
        timeout: float,
        api_version: str = API_VERSION,
        clock: SourceClock | None = None,
    ) -> None:
        self.instance_url = instance_url.rstrip("/")
        self.session_provider = session_provider
        self.policy = policy
        self.api_version = api_version
        self.http = http_session(cert, timeout)
        if clock is not None:
            # simple-salesforce hands back parsed bodies; the session's hook sees each response.
            self.http.hooks["response"].append(_observer(clock))
        self._sf: Salesforce | None = None

    def connect(self) -> Salesforce:
        """A connection with a new session from the provider."""
        self._sf = Salesforce(
            instance_url=self.instance_url,
            session_id=self.session_provider(),
            session=self.http,
            version=self.api_version,
            object_pairs_hook=dict,
        )
        return self._sf

    def call(self, request: str, fn: Callable[[Salesforce], T]) -> T:
        """Run ``fn(sf)`` under the retry policy, renewing the session once on a 401."""

        def attempt() -> T:
            renewed = False
            while True:
                sf = self._sf or self.connect()
                try:
                    return fn(sf)
                except SalesforceExpiredSession as exc:
                    if renewed:
                        code, message = _error_code(exc)
                        raise ApiError(
                            SYSTEM,
                            request,
                            401,
                            1,
                            f"Salesforce {request} was refused: {code or 'INVALID_SESSION_ID'} "
                            f"({message or 'session expired or invalid'}) even with a new "
                            f"session; {AUTH_HINT}",
                        ) from exc
                    self.connect()
                    renewed = True
                except SalesforceRefusedRequest as exc:
                    code, message = _error_code(exc)
                    if code == "REQUEST_LIMIT_EXCEEDED":
                        raise RetryableError(403, f"{code}: {message}") from exc
                    raise ApiError(
                        SYSTEM,
                        request,
                        403,
                        1,
                        f"Salesforce {request} was refused: {code} ({message}); the "
                        "integration user needs API access and read access to this object",
                    ) from exc
                except SalesforceError as exc:
                    code, message = _error_code(exc)
                    if exc.status >= 500:
                        raise RetryableError(exc.status, f"{code}: {message}") from exc
                    raise ApiError(
                        SYSTEM,
                        request,
                        exc.status,
                        1,
                        f"Salesforce {request} failed: {exc.status} {code} ({message}); "
                        "the query does not fit this org's schema",
                    ) from exc
                except requests.exceptions.SSLError as exc:
                    raise _tls_error(request, exc) from exc
                except (requests.ConnectionError, requests.Timeout) as exc:
                    detail = f"{type(exc).__name__} talking to Salesforce"
                    raise RetryableError(None, detail) from exc

        return self.policy.call(SYSTEM, request, attempt)


def _observer(clock: SourceClock) -> Callable[..., None]:
    def observe(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        clock.observe(response.headers)

    return observe


def extract_salesforce(
    instance_url: str,
    session_provider: SessionProvider,
    cert: str | bool,
    objects: list[str] | None = None,
    since: dict[str, str] | None = None,
    policy: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe default
    timeout: float = 30,
    *,
    use_bulk: bool = False,
    bulk_page_size: int = BULK_PAGE_SIZE,
    api_version: str = API_VERSION,
    clock: SourceClock | None = None,
) -> Iterator[Page]:
    """Yield every page of every object, in the order of ``objects``.

    Args:
        instance_url: ``https://<my-domain>.my.salesforce.com`` (or a fake's URL).
        session_provider: Returns a valid session id; called at the start and once more
            whenever Salesforce answers ``INVALID_SESSION_ID``.
        cert: ``verify`` for TLS (a CA bundle path, or ``True`` for the system store).
        objects: Object names (default: every object in :data:`OBJECTS`).
        since: Per object, only records with a larger ``SystemModstamp`` (objects without
            one are extracted in full).
        policy: Retry policy for rate limits, 5xx and timeouts.
        timeout: Seconds per HTTP request.
        use_bulk: Use a Bulk API 2.0 ``queryAll`` job instead of REST ``queryAll``.
        bulk_page_size: ``maxRecords`` per Bulk API 2.0 result set.
        api_version: REST API version.
        clock: Observes every data response's headers (the ``Date`` giving the as-of).

    Raises:
        ApiError: A request failed for good (its message says what to check).
        ValueError: An unknown object or a malformed ``since`` value.
    """
    names = list(objects) if objects is not None else list(OBJECTS)
    unknown = sorted(set(names) - set(OBJECTS))
    if unknown:
        raise ValueError(f"unknown Salesforce objects {unknown}; known: {sorted(OBJECTS)}")
    client = SalesforceClient(
        instance_url, session_provider, cert, policy, timeout, api_version=api_version, clock=clock
    )
    for obj in names:
        soql = build_soql(obj, (since or {}).get(obj))
        if use_bulk:
            yield from _bulk_pages(client, obj, soql, bulk_page_size)
        else:
            yield from _rest_pages(client, obj, soql)


def _page(obj: str, records: list[dict[str, Any]], request: str) -> Page:
    cursor = None
    if CURSOR_FIELD in OBJECTS[obj]:
        stamps = [r[CURSOR_FIELD] for r in records if r.get(CURSOR_FIELD)]
        cursor = max(stamps) if stamps else None
    return Page(SYSTEM, obj, records, cursor, request)


def _rest_pages(client: SalesforceClient, obj: str, soql: str) -> Iterator[Page]:
    base = f"/services/data/v{client.api_version}"
    request = f"GET {base}/queryAll?q={urllib.parse.quote(soql)}"
    result = client.call(request, lambda sf: sf.query(soql, include_deleted=True))
    while True:
        yield _page(obj, list(result["records"]), request)
        next_url = result.get("nextRecordsUrl")
        if result.get("done", True) or not next_url:
            return
        request = f"GET {next_url}"

        def query_more(sf: Salesforce, url: str = next_url) -> Any:
            return sf.query_more(url, identifier_is_url=True)

        result = client.call(request, query_more)


def _bulk_pages(client: SalesforceClient, obj: str, soql: str, page_size: int) -> Iterator[Page]:
    """Pages of a Bulk API 2.0 job. A failure restarts the job (the SDK's generator cannot
    resume); records already yielded are left out by ``Id`` so none is repeated."""
    request = f"POST /services/data/v{client.api_version}/jobs/query queryAll {soql}"
    chunks: list[Iterator[Any] | None] = [None]
    done = object()

    def step(sf: Salesforce) -> Any:
        chunk_iter = chunks[0]
        if chunk_iter is None:
            bulk = getattr(sf.bulk2, obj)
            chunk_iter = chunks[0] = iter(bulk.query_all(soql, max_records=page_size, wait=0))
        try:
            return next(chunk_iter, done)
        except BaseException:
            chunks[0] = None  # a dead generator: the next attempt starts a new job
            raise

    seen: set[str] = set()
    while True:
        chunk = client.call(request, step)
        if chunk is done:
            return
        records = [
            r for r in records_from_csv(obj, chunk, client.api_version) if r["Id"] not in seen
        ]
        seen.update(r["Id"] for r in records)
        if records:
            yield _page(obj, records, request)
