"""Extract NetSuite tables through SuiteQL over REST, page by page, paging by key.

A SuiteQL query returns at most 100,000 rows across its pages, so each table is read in
windows: ``WHERE <key> > <last key> ORDER BY <key>``, paged by ``offset`` while the window stays
under the ceiling, then a new window starts after the last key seen. Tables without a single
``id`` use a composite key (``transactionline``: transaction, id;
``transactionaccountingline``: transaction, transactionline, account;
``previoustransactionlinelink``: previousdoc, previousline, nextdoc, nextline). ``customer``
and ``transaction`` can be read incrementally on ``lastmodifieddate`` (``Page.cursor`` is the
page's largest value). Dates and timestamps are selected with ``TO_CHAR`` so they come back as
a drop carries them (``YYYY-MM-DD``, ``YYYY-MM-DD HH24:MI:SS``), not in the user's locale.

Authentication is OAuth 1.0a token-based auth (HMAC-SHA256, realm = account id) through
``requests-oauthlib``. Our :class:`~connectors.api.retry.RetryPolicy` retries 429, 5xx,
``CONCURRENCY_LIMIT_EXCEEDED``, connection errors and timeouts; a 401 is retried once with a
fresh nonce and timestamp. Secrets never appear in errors or in ``Page.request``. Every
response's headers go to a :class:`~connectors.api.clock.SourceClock`: its first ``Date`` is
the extraction's as-of instant.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from requests_oauthlib import OAuth1

from connectors.api.clock import SourceClock
from connectors.api.pages import Page
from connectors.api.retry import ApiError, RetryableError, RetryPolicy

SYSTEM = "netsuite"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"
MAX_PAGE_SIZE = 1000
QUERY_ROW_LIMIT = 100_000
AUTH_HINT = (
    "check NETSUITE_ACCOUNT_ID, NETSUITE_CONSUMER_KEY, NETSUITE_CONSUMER_SECRET, "
    "NETSUITE_TOKEN_ID and NETSUITE_TOKEN_SECRET (the token's role needs REST web services "
    "and SuiteAnalytics Workbook permissions)"
)
DATE_FORMAT = "YYYY-MM-DD"
TIMESTAMP_FORMAT = "YYYY-MM-DD HH24:MI:SS"
_INTEGER = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class Table:
    """What to select from one table and how to page it.

    Attributes:
        columns: Columns in output order.
        key: The unique key to order and page by.
        dates: Columns selected with ``TO_CHAR(col, 'YYYY-MM-DD')``.
        timestamps: Columns selected with ``TO_CHAR(col, 'YYYY-MM-DD HH24:MI:SS')``.
        incremental: The column ``since`` filters on, if any.
    """

    columns: tuple[str, ...]
    key: tuple[str, ...] = ("id",)
    dates: frozenset[str] = frozenset()
    timestamps: frozenset[str] = frozenset()
    incremental: str | None = None


TABLES: dict[str, Table] = {
    "subsidiary": Table(("id", "name", "currency", "country")),
    "currency": Table(("id", "symbol", "name", "isbasecurrency")),
    "currencyrate": Table(
        ("id", "basecurrency", "transactioncurrency", "exchangerate", "effectivedate"),
        dates=frozenset({"effectivedate"}),
    ),
    "accountingperiod": Table(
        (
            "id",
            "periodname",
            "startdate",
            "enddate",
            "closed",
            "isadjust",
            "isquarter",
            "isyear",
        ),
        dates=frozenset({"startdate", "enddate"}),
    ),
    "account": Table(("id", "acctnumber", "fullname", "accttype")),
    "customer": Table(
        (
            "id",
            "entityid",
            "companyname",
            "externalid",
            "email",
            "subsidiary",
            "currency",
            "datecreated",
            "lastmodifieddate",
        ),
        timestamps=frozenset({"datecreated", "lastmodifieddate"}),
        incremental="lastmodifieddate",
    ),
    "transaction": Table(
        (
            "id",
            "tranid",
            "type",
            "trandate",
            "postingperiod",
            "entity",
            "currency",
            "exchangerate",
            "foreigntotal",
            "status",
            "externalid",
            "memo",
            "posting",
            "voided",
            "createddate",
            "lastmodifieddate",
        ),
        dates=frozenset({"trandate"}),
        timestamps=frozenset({"createddate", "lastmodifieddate"}),
        incremental="lastmodifieddate",
    ),
    "transactionline": Table(
        (
            "id",
            "transaction",
            "mainline",
            "taxline",
            "item",
            "quantity",
            "rate",
            "netamount",
            "foreignamount",
            "subsidiary",
            "memo",
        ),
        key=("transaction", "id"),
    ),
    "transactionaccountingline": Table(
        ("transaction", "transactionline", "account", "amount", "debit", "credit", "posting"),
        key=("transaction", "transactionline", "account"),
    ),
    "previoustransactionlinelink": Table(
        ("previousdoc", "previousline", "nextdoc", "nextline", "linktype", "foreignamount"),
        key=("previousdoc", "previousline", "nextdoc", "nextline"),
    ),
}


def suiteql_timestamp(value: str) -> str:
    """A cursor value (``2026-01-01 00:00:00`` or ISO 8601) as ``YYYY-MM-DD HH:MM:SS`` UTC.

    >>> suiteql_timestamp("2026-01-01T02:00:00+02:00")
    '2026-01-01 00:00:00'
    """
    text = value.strip().replace("Z", "+00:00")
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"NetSuite since value {value!r} is not a timestamp such as 2026-01-01 00:00:00"
        ) from exc
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def _literal(value: str) -> str:
    return value if _INTEGER.match(value) else "'" + value.replace("'", "''") + "'"


def after_key(key: tuple[str, ...], last: tuple[str, ...]) -> str:
    """The SuiteQL condition for rows strictly after ``last`` in ``key`` order.

    >>> after_key(("transaction", "id"), ("10001", "2"))
    '(transaction > 10001 OR (transaction = 10001 AND id > 2))'
    """
    terms = []
    for i, column in enumerate(key):
        equal = [f"{key[j]} = {_literal(last[j])}" for j in range(i)]
        terms.append(" AND ".join([*equal, f"{column} > {_literal(last[i])}"]))
    if len(terms) == 1:
        return terms[0]
    return "(" + " OR ".join(f"({t})" if " AND " in t else t for t in terms) + ")"


def build_query(name: str, since: str | None = None, last: tuple[str, ...] | None = None) -> str:
    """The SuiteQL for one window of one table.

    >>> build_query("account", last=("4",))
    'SELECT id, acctnumber, fullname, accttype FROM account WHERE id > 4 ORDER BY id'
    """
    table = TABLES[name]
    select = []
    for column in table.columns:
        if column in table.dates:
            select.append(f"TO_CHAR({column}, '{DATE_FORMAT}') AS {column}")
        elif column in table.timestamps:
            select.append(f"TO_CHAR({column}, '{TIMESTAMP_FORMAT}') AS {column}")
        else:
            select.append(column)
    where = []
    if since is not None and table.incremental is not None:
        stamp = suiteql_timestamp(since)
        where.append(f"{table.incremental} > TO_TIMESTAMP('{stamp}', '{TIMESTAMP_FORMAT}')")
    if last is not None:
        where.append(after_key(table.key, last))
    query = f"SELECT {', '.join(select)} FROM {name}"
    if where:
        query += " WHERE " + " AND ".join(where)
    return query + " ORDER BY " + ", ".join(table.key)


class SuiteQLClient:
    """Posts SuiteQL queries with TBA signatures under our retry policy."""

    def __init__(
        self,
        base_url: str,
        auth: OAuth1,
        cert: str | bool,
        policy: RetryPolicy,
        timeout: float,
        clock: SourceClock | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.policy = policy
        self.timeout = timeout
        self.clock = clock
        self.http = requests.Session()
        self.http.trust_env = False  # REQUESTS_CA_BUNDLE would override ``verify``
        self.http.verify = cert

    def query(self, query: str, limit: int, offset: int) -> dict[str, Any]:
        """One page of ``query``: the parsed collection response."""
        path = f"{SUITEQL_PATH}?limit={limit}&offset={offset}"
        request = f"POST {path}"

        def attempt() -> dict[str, Any]:
            for auth_try in (1, 2):
                try:
                    response = self.http.post(
                        self.base_url + path,
                        json={"q": query},
                        headers={"Prefer": "transient"},
                        auth=self.auth,  # signs anew: fresh nonce and timestamp
                        timeout=self.timeout,
                    )
                except requests.exceptions.SSLError as exc:
                    raise ApiError(
                        SYSTEM,
                        request,
                        None,
                        1,
                        f"NetSuite {request}: TLS verification failed; check NETSUITE_BASE_URL "
                        "and the certificate the connector trusts",
                    ) from exc
                except (requests.ConnectionError, requests.Timeout) as exc:
                    detail = f"{type(exc).__name__} talking to NetSuite"
                    raise RetryableError(None, detail) from exc
                if self.clock is not None:
                    self.clock.observe(response.headers)
                if response.status_code == 401 and auth_try == 1:
                    continue
                return self._check(request, response)
            raise AssertionError("unreachable")

        return self.policy.call(SYSTEM, request, attempt)

    @staticmethod
    def _check(request: str, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        code, detail = _error_detail(response)
        if status == 401:
            raise ApiError(
                SYSTEM,
                request,
                401,
                1,
                f"NetSuite {request} was refused twice: {code or 'INVALID_LOGIN'} "
                f"(token-based authentication failed); {AUTH_HINT}",
            )
        if status == 429 or status >= 500 or code == "CONCURRENCY_LIMIT_EXCEEDED":
            raise RetryableError(status, f"{code}: {detail}", _retry_after(response))
        if status != 200:
            raise ApiError(
                SYSTEM,
                request,
                status,
                1,
                f"NetSuite {request} failed: {status} {code} ({detail}); the query does not fit "
                "this account (a missing feature, field or permission)",
            )
        try:
            payload = response.json()
        except ValueError as exc:
            raise RetryableError(status, "the response is not JSON") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
            raise ApiError(SYSTEM, request, status, 1, f"NetSuite {request} answered without items")
        return payload


def _error_detail(response: requests.Response) -> tuple[str, str]:
    try:
        payload = response.json()
    except ValueError:
        return "", response.reason or ""
    details = payload.get("o:errorDetails") if isinstance(payload, dict) else None
    if isinstance(details, list) and details and isinstance(details[0], dict):
        return str(details[0].get("o:errorCode", "")), str(details[0].get("detail", ""))
    return "", str(payload.get("title", "")) if isinstance(payload, dict) else ""


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def extract_netsuite(
    base_url: str,
    account_id: str,
    consumer_key: str,
    consumer_secret: str,
    token_id: str,
    token_secret: str,
    cert: str | bool,
    tables: list[str] | None = None,
    since: dict[str, str] | None = None,
    policy: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe default
    timeout: float = 30,
    page_size: int = MAX_PAGE_SIZE,
    *,
    query_row_limit: int = QUERY_ROW_LIMIT,
    clock: SourceClock | None = None,
) -> Iterator[Page]:
    """Yield every page of every table, in the order of ``tables``.

    Args:
        base_url: ``https://<account>.suitetalk.api.netsuite.com`` (or a fake's URL).
        account_id: The account id, sent as the OAuth ``realm`` (``1234567`` or
            ``1234567_SB1``).
        consumer_key, consumer_secret: The integration record's credentials.
        token_id, token_secret: The access token's credentials.
        cert: ``verify`` for TLS (a CA bundle path, or ``True`` for the system store).
        tables: Table names (default: every table in :data:`TABLES`).
        since: Per table, only rows with a larger ``lastmodifieddate`` (tables without
            one are extracted in full).
        policy: Retry policy for rate limits, 5xx and timeouts.
        timeout: Seconds per HTTP request.
        page_size: Rows per request (at most 1,000).
        query_row_limit: Rows one query may return (NetSuite: 100,000); a new key window
            starts before a page would cross it.
        clock: Observes every response's headers (the ``Date`` giving the as-of instant).

    Raises:
        ApiError: A request failed for good (its message says what to check).
        ValueError: An unknown table, a bad page size or a malformed ``since`` value.
    """
    names = list(tables) if tables is not None else list(TABLES)
    unknown = sorted(set(names) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown NetSuite tables {unknown}; known: {sorted(TABLES)}")
    if not 1 <= page_size <= min(MAX_PAGE_SIZE, query_row_limit):
        raise ValueError(
            f"page_size must be between 1 and {min(MAX_PAGE_SIZE, query_row_limit)} "
            f"(got {page_size})"
        )
    auth = OAuth1(
        consumer_key,
        client_secret=consumer_secret,
        resource_owner_key=token_id,
        resource_owner_secret=token_secret,
        signature_method="HMAC-SHA256",
        realm=account_id,
    )
    client = SuiteQLClient(base_url, auth, cert, policy, timeout, clock)
    for name in names:
        yield from _table_pages(client, name, (since or {}).get(name), page_size, query_row_limit)


def _table_pages(
    client: SuiteQLClient, name: str, since: str | None, page_size: int, row_limit: int
) -> Iterator[Page]:
    table = TABLES[name]
    last: tuple[str, ...] | None = None
    while True:  # one key window per query
        query = build_query(name, since, last)
        offset = 0
        while True:  # pages of this window
            result = client.query(query, page_size, offset)
            items: list[dict[str, Any]] = result["items"]
            request = f"POST {SUITEQL_PATH}?limit={page_size}&offset={offset} q={query}"
            if items:
                yield Page(SYSTEM, name, items, _cursor(table, items), request)
                last = tuple(str(items[-1].get(k, "")) for k in table.key)
            if not result.get("hasMore"):
                return
            if not items:
                raise ApiError(
                    SYSTEM,
                    request,
                    200,
                    1,
                    f"NetSuite said hasMore for {name} but sent no items; run the extract again",
                )
            offset += len(items)
            if offset + page_size > row_limit:
                break  # the next page would cross the query ceiling: start a new window


def _cursor(table: Table, items: list[dict[str, Any]]) -> str | None:
    if table.incremental is None:
        return None
    values = [i[table.incremental] for i in items if i.get(table.incremental)]
    return max(values) if values else None
