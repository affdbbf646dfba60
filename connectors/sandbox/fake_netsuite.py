"""A fake NetSuite account serving a source drop through SuiteQL over REST (HTTPS).

``POST /services/rest/query/v1/suiteql?limit=<=1000&offset=N`` with ``Prefer: transient`` and
``{"q": "SELECT …"}`` → ``{"links", "count", "hasMore", "items", "offset", "totalResults"}``.
Items look like a drop's lines: ``"links": []`` first, every value a string, NULL columns
left out. Requests must carry OAuth 1.0a token-based authentication (HMAC-SHA256, realm =
account id), checked with oauthlib's ``verify_hmac_sha256``; a query returns at most
``max_rows`` rows (NetSuite: 100,000), so big tables have to be paged by key.

SuiteQL is run on DuckDB: each table is loaded with typed columns (ids as BIGINT, dates,
timestamps, numbers) next to its row number; DuckDB evaluates ``WHERE`` and ``ORDER BY``
and picks row numbers, and the items are built from the drop's own strings, so values come
back exactly as exported. ``TO_CHAR(col, 'fmt')``, ``TO_DATE`` and ``TO_TIMESTAMP`` take
Oracle formats; a date column selected without ``TO_CHAR`` comes back as ``M/D/YYYY`` (the
default user preference), as NetSuite does.

Every response carries ``Date`` = the drop's ``exported_at`` (the account's clock stands at
the export instant: :mod:`connectors.sandbox.fake_clock`); OAuth timestamps are still checked
against the host's clock, which is what the client signs with.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyarrow as pa
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature

from connectors.sandbox.fake_clock import DatedHandler, FakeClock
from connectors.sandbox.faults import FaultPlan
from connectors.sandbox.tls import HttpsServer, QuietHandler, TlsFiles

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
MAX_LIMIT = 1000
MAX_ROWS = 100_000
TIMESTAMP_SKEW_SECONDS = 300

ID_COLUMNS = frozenset(
    {
        "id",
        "currency",
        "subsidiary",
        "basecurrency",
        "transactioncurrency",
        "entity",
        "postingperiod",
        "transaction",
        "transactionline",
        "account",
        "previousdoc",
        "previousline",
        "nextdoc",
        "nextline",
        "item",
    }
)
DATE_COLUMNS = frozenset({"trandate", "startdate", "enddate", "effectivedate"})
TIMESTAMP_COLUMNS = frozenset({"datecreated", "lastmodifieddate", "createddate"})
NUMBER_COLUMNS = frozenset(
    {
        "exchangerate",
        "foreigntotal",
        "amount",
        "debit",
        "credit",
        "netamount",
        "foreignamount",
        "quantity",
        "rate",
    }
)
_STORED_FORMAT = {"DATE": "%Y-%m-%d", "TIMESTAMP": "%Y-%m-%d %H:%M:%S"}
_ORACLE_FORMAT = (
    ("YYYY", "%Y"),
    ("HH24", "%H"),
    ("MM", "%m"),
    ("DD", "%d"),
    ("MI", "%M"),
    ("SS", "%S"),
)
_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<select>.+?)\s+FROM\s+(?P<table>\w+)(?P<rest>(?:\s.*)?)$",
    re.IGNORECASE | re.DOTALL,
)
_SELECT_ITEM = re.compile(
    r"^(?:TO_CHAR\(\s*(?P<fcol>\w+)\s*,\s*'(?P<fmt>[^']*)'\s*\)|(?P<col>\w+))"
    r"(?:\s+(?:AS\s+)?(?P<alias>\w+))?$",
    re.IGNORECASE,
)
_TO_DATETIME = re.compile(
    r"\bTO_(?P<kind>DATE|TIMESTAMP)\(\s*'(?P<value>[^']*)'\s*,\s*'(?P<fmt>[^']*)'\s*\)",
    re.IGNORECASE,
)


class NetSuiteFault(Exception):
    """An error response: HTTP status plus NetSuite's ``o:errorCode`` and detail."""

    TITLES: ClassVar[dict[int, str]] = {
        400: "Bad Request",
        401: "Unauthorized",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }

    def __init__(self, status: int, code: str, detail: str) -> None:
        self.status = status
        self.code = code
        super().__init__(detail)

    def body(self) -> dict[str, Any]:
        section = {400: "15.5.1", 401: "15.5.2", 429: "6.6"}.get(self.status, "15.6.1")
        return {
            "type": f"https://www.rfc-editor.org/rfc/rfc9110.html#section-{section}",
            "title": self.TITLES.get(self.status, "Error"),
            "status": self.status,
            "o:errorDetails": [{"detail": str(self), "o:errorCode": self.code}],
        }


def oracle_to_strftime(fmt: str) -> str:
    """``'YYYY-MM-DD HH24:MI:SS'`` → ``'%Y-%m-%d %H:%M:%S'`` (the elements SuiteQL exports use).

    >>> oracle_to_strftime("YYYY-MM-DD HH24:MI:SS")
    '%Y-%m-%d %H:%M:%S'
    """
    out = fmt.upper()
    for oracle, python in _ORACLE_FORMAT:
        out = out.replace(oracle, python)
    return out


def _column_type(name: str) -> str:
    if name in ID_COLUMNS:
        return "BIGINT"
    if name in DATE_COLUMNS:
        return "DATE"
    if name in TIMESTAMP_COLUMNS:
        return "TIMESTAMP"
    if name in NUMBER_COLUMNS:
        return "DOUBLE"
    return "VARCHAR"


@dataclass
class _Table:
    """One table: the drop's records (strings) and each column's SQL type."""

    records: list[dict[str, Any]]
    types: dict[str, str]


@dataclass(frozen=True)
class _Column:
    """One select-list item: output name, source column and an optional TO_CHAR format."""

    name: str
    source: str
    fmt: str | None = None


@dataclass
class _Reply:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeNetSuite:
    """The NetSuite part of a source drop, served like SuiteQL over REST.

    Args:
        drop_dir: A source drop (its ``netsuite/*.jsonl`` are the account's tables).
        account_id: The account id (the OAuth ``realm``), e.g. ``TSTDRV1234567``.
        consumer_key, consumer_secret, token_id, token_secret: TBA credentials the fake
            accepts (random when ``None``).
        faults: Faults to inject; a new empty plan when ``None``.
        max_rows: Rows one query may return across its pages (NetSuite: 100,000).
        tls: Certificate files; a new self-signed certificate when ``None``.
        date: The instant the account's clock shows in every ``Date`` header (default: the
            drop's ``exported_at``; the live clock for a drop without a readable manifest).
    """

    def __init__(
        self,
        drop_dir: Path,
        *,
        account_id: str = "TSTDRV1234567",
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        token_id: str | None = None,
        token_secret: str | None = None,
        faults: FaultPlan | None = None,
        max_rows: int = MAX_ROWS,
        tls: TlsFiles | None = None,
        date: datetime | None = None,
    ) -> None:
        self.account_id = account_id
        self.consumer_key = consumer_key or secrets.token_hex(32)
        self.consumer_secret = consumer_secret or secrets.token_hex(32)
        self.token_id = token_id or secrets.token_hex(32)
        self.token_secret = token_secret or secrets.token_hex(32)
        self.faults = faults if faults is not None else FaultPlan()
        self.clock = FakeClock.for_drop(Path(drop_dir), self.faults, date)
        self.max_rows = max_rows
        self.requests: list[str] = []  # "POST path?query" of every request, for tests
        self._lock = threading.Lock()
        self._nonces: set[tuple[str, str]] = set()
        self._errors = 0
        self._db = duckdb.connect(":memory:")
        self.tables: dict[str, _Table] = {}
        for path in sorted(Path(drop_dir, "netsuite").glob("*.jsonl")):
            self._load(path)
        self._http = HttpsServer(_handler_for(self), tls)

    def _load(self, path: Path) -> None:
        with path.open(encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines if line.strip()]
        columns: dict[str, None] = {}
        for record in records:
            columns.update(dict.fromkeys(k for k in record if k != "links"))
        types = {name: _column_type(name) for name in columns}
        data: dict[str, Any] = {"__row": pa.array(range(len(records)), pa.int64())}
        for name in columns:
            data[name] = pa.array([r.get(name) for r in records], pa.string())
        self._db.register("incoming", pa.table(data))
        casts = ", ".join(f'TRY_CAST("{n}" AS {t}) AS "{n}"' for n, t in types.items())
        table = path.stem
        self._db.execute(
            f'CREATE TABLE "{table}" AS SELECT __row{", " if casts else ""}{casts} FROM incoming'
        )
        self._db.unregister("incoming")
        self.tables[table] = _Table(records=records, types=types)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, ``https://127.0.0.1:PORT`` (stands for ``https://<account>.suitetalk…``)."""
        return self._http.url

    @property
    def cert(self) -> str:
        """Path of the certificate a client must trust."""
        return self._http.cert

    @property
    def credentials(self) -> dict[str, str]:
        """The keyword arguments ``extract_netsuite`` needs to log in."""
        return {
            "account_id": self.account_id,
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "token_id": self.token_id,
            "token_secret": self.token_secret,
        }

    def start(self) -> FakeNetSuite:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()
        self._db.close()

    def __enter__(self) -> FakeNetSuite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling -------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> _Reply:
        """Answer one request (the HTTP handler's only entry point)."""
        url = urllib.parse.urlsplit(target)
        with self._lock:
            self.requests.append(f"{method} {target}")
        try:
            if url.path.rstrip("/") != SUITEQL_PATH or method != "POST":
                raise NetSuiteFault(404, "NONEXISTENT_ID", f"Resource {url.path} was not found.")
            host = headers.get("Host") or f"127.0.0.1:{self._http.port}"
            uri = f"https://{host}{target}"
            if not self._authentic(uri, headers.get("Authorization") or ""):
                raise NetSuiteFault(401, "INVALID_LOGIN", _INVALID_LOGIN)
            if self.faults.take("expired_session"):
                raise NetSuiteFault(401, "INVALID_LOGIN", _INVALID_LOGIN)
            params = dict(urllib.parse.parse_qsl(url.query))
            limit, offset = self._paging(params)
            self._inject(offset)
            if (headers.get("Prefer") or "").strip().lower() != "transient":
                raise NetSuiteFault(
                    400, "INVALID_HEADER", "SuiteQL requests need the header Prefer: transient."
                )
            query = _query_text(body)
            total, items = self.run(query, limit=limit, offset=offset)
            return _Reply(200, self._collection(f"https://{host}", total, items, limit, offset))
        except NetSuiteFault as fault:
            return _Reply(fault.status, fault.body())

    def _authentic(self, uri: str, authorization: str) -> bool:
        """Whether a SuiteQL POST to ``uri`` carries a valid token-based-auth signature."""
        try:
            header_params = signature.collect_parameters(
                headers={"Authorization": authorization},
                exclude_oauth_signature=False,
                with_realm=True,
            )
        except ValueError:
            return False
        oauth = dict(header_params)
        if not (
            oauth.get("realm") == self.account_id
            and oauth.get("oauth_signature_method") == "HMAC-SHA256"
            and secrets.compare_digest(oauth.get("oauth_consumer_key", ""), self.consumer_key)
            and secrets.compare_digest(oauth.get("oauth_token", ""), self.token_id)
            and oauth.get("oauth_nonce")
            and oauth.get("oauth_timestamp", "").isdigit()
        ):
            return False
        if abs(time.time() - int(oauth["oauth_timestamp"])) > TIMESTAMP_SKEW_SECONDS:
            return False
        query_params = signature.collect_parameters(
            uri_query=urllib.parse.urlsplit(uri).query, exclude_oauth_signature=False
        )
        request = OAuthRequest(uri, "POST", "", {"Authorization": authorization})
        # oauthlib's own endpoints set these two before verifying; types-oauthlib's Request
        # declares neither.
        request.signature = oauth.get("oauth_signature")  # type: ignore[attr-defined]
        request.params = [  # type: ignore[attr-defined]
            (k, v) for k, v in header_params + query_params if k not in ("oauth_signature", "realm")
        ]
        if not signature.verify_hmac_sha256(request, self.consumer_secret, self.token_secret):
            return False
        nonce = (oauth["oauth_nonce"], oauth["oauth_timestamp"])
        with self._lock:
            if nonce in self._nonces:
                return False  # a replayed request
            self._nonces.add(nonce)
        return True

    def _paging(self, params: dict[str, str]) -> tuple[int, int]:
        try:
            limit = int(params.get("limit", MAX_LIMIT))
            offset = int(params.get("offset", 0))
        except ValueError as exc:
            raise NetSuiteFault(
                400, "INVALID_PARAMETER", f"Invalid paging parameter: {exc}"
            ) from exc
        if not 1 <= limit <= MAX_LIMIT:
            raise NetSuiteFault(
                400,
                "INVALID_PARAMETER",
                f"Invalid 'limit' parameter value {limit}. It must be between 1 and {MAX_LIMIT}.",
            )
        if offset < 0 or offset + limit > self.max_rows:
            raise NetSuiteFault(
                400,
                "INVALID_PARAMETER",
                f"Invalid 'offset' parameter value {offset}. A query returns at most "
                f"{self.max_rows} results: narrow it (page by key) instead of paging further.",
            )
        return limit, offset

    def _inject(self, offset: int) -> None:
        if self.faults.take("rate_limit"):
            raise NetSuiteFault(
                429, "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded."
            )
        if self.faults.take("rate_limit_no_retry"):
            raise NetSuiteFault(
                400,
                "CONCURRENCY_LIMIT_EXCEEDED",
                "Concurrent request limit exceeded. Request blocked.",
            )
        if self.faults.take("server_error"):
            with self._lock:
                self._errors += 1
                odd = self._errors % 2 == 1
            if odd:
                raise NetSuiteFault(
                    500, "UNEXPECTED_ERROR", "An unexpected error occurred. Error ID: fake"
                )
            raise NetSuiteFault(503, "SERVICE_UNAVAILABLE", "The service is unavailable.")
        if self.faults.take("slow"):
            time.sleep(self.faults.slow_seconds)
        if offset > 0 and self.faults.take("fail_mid_pagination"):
            raise NetSuiteFault(503, "SERVICE_UNAVAILABLE", "The service is unavailable.")

    # -- SuiteQL ----------------------------------------------------------------------------

    def run(self, query: str, *, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """Total rows of ``query`` and the items of rows ``offset … offset + limit``.

        Raises:
            NetSuiteFault: 400 INVALID_PARAMETER for a query the fake cannot run.
        """
        match = _QUERY.match(query)
        if match is None or ";" in query:
            raise _search_error(f"could not parse the query {query!r}")
        table_name = match["table"].lower()
        table = self.tables.get(table_name)
        if table is None:
            raise _search_error(f"Record '{match['table']}' was not found.")
        columns = self._select(match["select"], table_name, table)
        rest = _TO_DATETIME.sub(_duckdb_datetime, match["rest"])
        try:
            with self._lock:
                total = self._db.execute(
                    f'SELECT count(*) FROM (SELECT 1 FROM "{table_name}" {rest})'
                ).fetchone()
                rows = self._db.execute(
                    f'SELECT __row FROM "{table_name}" {rest} LIMIT {limit} OFFSET {offset}'
                ).fetchall()
        except duckdb.Error as exc:
            raise _search_error(str(exc).splitlines()[0]) from exc
        items = [self._item(table, table.records[row], columns) for (row,) in rows]
        return int(total[0]) if total else 0, items

    @staticmethod
    def _select(text: str, table_name: str, table: _Table) -> list[_Column]:
        if text.strip() == "*":
            return [_Column(name, name) for name in table.types]
        columns = []
        for part in _split_top_level(text):
            match = _SELECT_ITEM.match(part.strip())
            if match is None:
                raise _search_error(f"Unsupported select item {part.strip()!r}.")
            source = (match["fcol"] or match["col"]).lower()
            if source not in table.types:
                raise _search_error(f"Field '{source}' for record '{table_name}' was not found.")
            name = (match["alias"] or source).lower()
            columns.append(_Column(name, source, match["fmt"]))
        return columns

    @staticmethod
    def _item(table: _Table, record: dict[str, Any], columns: list[_Column]) -> dict[str, Any]:
        item: dict[str, Any] = {"links": []}
        for column in columns:
            value = record.get(column.source)
            if value is None:
                continue
            kind = table.types[column.source]
            if kind in _STORED_FORMAT:
                stored = datetime.strptime(value, _STORED_FORMAT[kind])
                if column.fmt is None:
                    value = f"{stored.month}/{stored.day}/{stored.year}"
                elif oracle_to_strftime(column.fmt) != _STORED_FORMAT[kind]:
                    value = stored.strftime(oracle_to_strftime(column.fmt))
            item[column.name] = value
        return item

    def _collection(
        self, base: str, total: int, items: list[dict[str, Any]], limit: int, offset: int
    ) -> dict[str, Any]:
        def link(rel: str, at: int) -> dict[str, str]:
            return {"rel": rel, "href": f"{base}{SUITEQL_PATH}?limit={limit}&offset={at}"}

        has_more = offset + len(items) < total
        last = max(0, (total - 1) // limit * limit)
        links = [link("first", 0)]
        if offset > 0:
            links.append(link("previous", max(0, offset - limit)))
        if has_more:
            links.append(link("next", offset + limit))
        links += [link("last", last), link("self", offset)]
        return {
            "links": links,
            "count": len(items),
            "hasMore": has_more,
            "items": items,
            "offset": offset,
            "totalResults": total,
        }


_INVALID_LOGIN = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI "
    "at Setup > Users/Roles > User Management > View Login Audit Trail."
)


def _search_error(detail: str) -> NetSuiteFault:
    return NetSuiteFault(
        400,
        "INVALID_PARAMETER",
        "Invalid search query. Detailed unprocessed description follows. "
        f"Search error occurred: {detail}",
    )


def _query_text(body: bytes) -> str:
    try:
        payload = json.loads(body or b"{}")
    except json.JSONDecodeError as exc:
        raise NetSuiteFault(400, "INVALID_CONTENT", f"Invalid JSON in the body: {exc}") from exc
    query = payload.get("q") if isinstance(payload, dict) else None
    if not isinstance(query, str) or not query.strip():
        raise NetSuiteFault(400, "INVALID_CONTENT", "The body needs a SuiteQL query in 'q'.")
    return query


def _duckdb_datetime(match: re.Match[str]) -> str:
    value = match["value"].replace("'", "''")
    fmt = oracle_to_strftime(match["fmt"])
    parsed = f"strptime('{value}', '{fmt}')"
    return f"CAST({parsed} AS DATE)" if match["kind"].upper() == "DATE" else parsed


def _split_top_level(text: str) -> list[str]:
    """Split a select list on commas outside parentheses and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _handler_for(fake: FakeNetSuite) -> type[QuietHandler]:
    class Handler(DatedHandler, QuietHandler):
        def fake_clock(self) -> FakeClock:
            return fake.clock

        def _serve(self) -> None:
            body = self.read_body()
            reply = fake.handle(self.command, self.path, self.headers, body)
            headers = dict(reply.headers)
            self.send_json(reply.status, reply.payload, headers)

        do_GET = _serve
        do_POST = _serve

    return Handler
