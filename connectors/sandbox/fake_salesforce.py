"""A fake Salesforce org serving a source drop over HTTPS: REST query, Bulk API 2.0, OAuth.

It speaks what simple-salesforce and our connector use, with Salesforce's own shapes:

- ``GET /services/data/vXX.X/query?q=<SOQL>`` and ``/queryAll`` → ``{"totalSize", "done",
  "nextRecordsUrl"?, "records"}``; ``GET /services/data/vXX.X/query/01g…-N`` continues.
- ``POST /services/data/vXX.X/jobs/query`` (Bulk API 2.0), ``GET …/jobs/query/{id}`` and
  ``GET …/jobs/query/{id}/results?locator=&maxRecords=`` → CSV with ``Sforce-Locator`` and
  ``Sforce-NumberOfRecords``.
- ``POST /services/oauth2/token`` (client-credentials flow) → a new session id.

Errors are JSON arrays of ``{"message", "errorCode"}``. SOQL is a small subset:
``SELECT f1, f2 FROM Obj [WHERE Field op <datetime>] [ORDER BY f [ASC|DESC]] [LIMIT n]``.
Faults come from a :class:`~connectors.sandbox.faults.FaultPlan`. Every response carries
``Date`` = the drop's ``exported_at`` (the org's clock stands at the export instant:
:mod:`connectors.sandbox.fake_clock`), and Bulk jobs are dated by that clock too.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.sandbox.fake_clock import DatedHandler, FakeClock
from connectors.sandbox.faults import FaultPlan
from connectors.sandbox.tls import HttpsServer, QuietHandler, TlsFiles

DEFAULT_PAGE_SIZE = 2000
_DATA_PATH = re.compile(r"^/services/data/v(?P<version>\d+\.\d)/(?P<rest>.*)$")
_NEXT_PATH = re.compile(r"^query/(?P<cursor>01g\w+)-(?P<offset>\d+)$")
_JOB_PATH = re.compile(r"^jobs/query/(?P<job>750\w+)(?P<results>/results)?$")
_SOQL = re.compile(
    r"""^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>\w+)
    (?:\s+WHERE\s+(?P<wfield>\w+)\s*(?P<op>>=|<=|!=|>|<|=)\s*(?P<wvalue>\S+))?
    (?:\s+ORDER\s+BY\s+(?P<ofield>\w+)(?:\s+(?P<dir>ASC|DESC))?)?
    (?:\s+LIMIT\s+(?P<limit>\d+))?\s*$""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
_SOQL_DATETIME = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,3})?(?:Z|[+-]\d\d:\d\d)$", re.IGNORECASE
)
_RECORD_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class SalesforceFault(Exception):
    """An error response: HTTP status plus Salesforce's ``errorCode`` and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        super().__init__(message)

    def body(self) -> list[dict[str, str]]:
        return [{"message": str(self), "errorCode": self.code}]


@dataclass(frozen=True)
class Soql:
    """A parsed query of the supported subset (field names in the object's own spelling)."""

    obj: str
    fields: tuple[str, ...]
    where: tuple[str, str, datetime] | None = None
    order: tuple[str, bool] | None = None  # (field, descending)
    limit: int | None = None


@dataclass
class _Job:
    """A Bulk API 2.0 query job: its result rows are fixed when the job is created."""

    info: dict[str, Any]
    fields: tuple[str, ...]
    rows: list[dict[str, Any]]
    polls: int = 0


def _sf_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(15))


def _record_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not _RECORD_DATETIME.match(value):
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


def _literal_datetime(text: str, soql: str) -> datetime:
    if not _SOQL_DATETIME.match(text):
        raise SalesforceFault(
            400,
            "MALFORMED_QUERY",
            f"\n{soql}\nvalue of filter criterion for field must be of type dateTime "
            f"and should not be enclosed in quotes: {text}",
        )
    return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))


def csv_value(value: Any) -> str:
    """One value as Bulk API 2.0 writes it in CSV (null → empty, datetimes in ``Z``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str) and _RECORD_DATETIME.match(value):
        return value[:-5] + "Z"
    return str(value)


class FakeSalesforce:
    """The Salesforce part of a source drop, served like a real org.

    Args:
        drop_dir: A source drop (its ``salesforce/*.jsonl`` are the org's records).
        page_size: Records per REST query page (Salesforce: up to 2,000).
        faults: Faults to inject; a new empty plan when ``None``.
        client_id: Connected-app consumer key for the client-credentials flow.
        client_secret: Its secret (random when ``None``).
        tls: Certificate files; a new self-signed certificate when ``None``.
        date: The instant the org's clock shows in every ``Date`` header (default: the
            drop's ``exported_at``; the live clock for a drop without a readable manifest).
    """

    def __init__(
        self,
        drop_dir: Path,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        faults: FaultPlan | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        tls: TlsFiles | None = None,
        date: datetime | None = None,
    ) -> None:
        if not 1 <= page_size <= DEFAULT_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and 2000 (got {page_size})")
        self.page_size = page_size
        self.faults = faults if faults is not None else FaultPlan()
        self.clock = FakeClock.for_drop(Path(drop_dir), self.faults, date)
        self.client_id = client_id or "3MVG9" + secrets.token_urlsafe(24)
        self.client_secret = client_secret or secrets.token_hex(32)
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.fields: dict[str, dict[str, str]] = {}  # object → lower-case name → name
        for path in sorted(Path(drop_dir, "salesforce").glob("*.jsonl")):
            with path.open(encoding="utf-8") as lines:
                rows = [json.loads(line) for line in lines if line.strip()]
            self.records[path.stem] = rows
            names: dict[str, str] = {}
            for row in rows:
                for key in row:
                    if key != "attributes":
                        names.setdefault(key.lower(), key)
            self.fields[path.stem] = names
        self.requests: list[str] = []  # "METHOD path" of every request, for tests
        self._lock = threading.Lock()
        self._sessions: set[str] = set()
        self._cursors: dict[str, list[dict[str, Any]]] = {}
        self._jobs: dict[str, _Job] = {}
        self._errors = 0
        self._http = HttpsServer(_handler_for(self), tls)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The instance URL, ``https://127.0.0.1:PORT``."""
        return self._http.url

    @property
    def cert(self) -> str:
        """Path of the certificate a client must trust."""
        return self._http.cert

    def start(self) -> FakeSalesforce:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> FakeSalesforce:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def issue_session(self) -> str:
        """A new valid session id (what a login would hand out)."""
        session = "00D" + _sf_id("")[:12] + "!" + secrets.token_urlsafe(40)
        with self._lock:
            self._sessions.add(session)
        return session

    # -- request handling -------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> _Reply:
        """Answer one request (the HTTP handler's only entry point)."""
        url = urllib.parse.urlsplit(target)
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        with self._lock:
            self.requests.append(f"{method} {url.path}")
        try:
            if url.path == "/services/oauth2/token" and method == "POST":
                return self._token(body)
            match = _DATA_PATH.match(url.path)
            if match is None:
                raise SalesforceFault(404, "NOT_FOUND", "The requested resource does not exist")
            rest = match["rest"].rstrip("/")
            self._authorize(headers)
            continuation = bool(_NEXT_PATH.match(rest)) or (
                bool(_JOB_PATH.match(rest)) and bool(params.get("locator"))
            )
            self._inject(continuation)
            return self._route(method, rest, params, body, match["version"])
        except SalesforceFault as fault:
            return _Reply.json(fault.status, fault.body())

    def _route(
        self, method: str, rest: str, params: dict[str, str], body: bytes, version: str
    ) -> _Reply:
        if method == "GET" and rest in ("query", "queryAll"):
            if "q" not in params:
                raise SalesforceFault(400, "MALFORMED_QUERY", "A query string is required")
            return self._query(params["q"], include_deleted=rest == "queryAll", version=version)
        if method == "GET" and (next_match := _NEXT_PATH.match(rest)):
            return self._query_more(next_match["cursor"], int(next_match["offset"]), version)
        if method == "POST" and rest == "jobs/query":
            return self._create_job(body, version)
        if method == "GET" and (job_match := _JOB_PATH.match(rest)):
            if job_match["results"]:
                return self._job_results(job_match["job"], params)
            return self._job_info(job_match["job"])
        raise SalesforceFault(404, "NOT_FOUND", "The requested resource does not exist")

    def _authorize(self, headers: Any) -> None:
        auth = headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        with self._lock:
            valid = scheme.lower() in ("bearer", "oauth") and token in self._sessions
        if not valid:
            raise SalesforceFault(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.faults.take("expired_session"):
            with self._lock:
                self._sessions.discard(token)
            raise SalesforceFault(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def _inject(self, continuation: bool) -> None:
        if self.faults.take("rate_limit") or self.faults.take("rate_limit_no_retry"):
            raise SalesforceFault(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if self.faults.take("server_error"):
            with self._lock:
                self._errors += 1
                odd = self._errors % 2 == 1
            if odd:
                raise SalesforceFault(
                    500,
                    "UNKNOWN_EXCEPTION",
                    "An unexpected error occurred. Please include this ErrorId if you "
                    "contact support: 1234567890-12345 (-1234567890)",
                )
            raise SalesforceFault(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable.")
        if self.faults.take("slow"):
            time.sleep(self.faults.slow_seconds)
        if continuation and self.faults.take("fail_mid_pagination"):
            raise SalesforceFault(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable.")

    def _token(self, body: bytes) -> _Reply:
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return _Reply.json(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        if not (
            secrets.compare_digest(form.get("client_id", ""), self.client_id)
            and secrets.compare_digest(form.get("client_secret", ""), self.client_secret)
        ):
            return _Reply.json(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        session = self.issue_session()
        issued = str(int(time.time() * 1000))
        return _Reply.json(
            200,
            {
                "access_token": session,
                "instance_url": self.url,
                "id": f"{self.url}/id/00D000000000001EAA/005000000000001AAA",
                "token_type": "Bearer",
                "issued_at": issued,
                "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
            },
        )

    # -- SOQL -------------------------------------------------------------------------------

    def parse(self, soql: str) -> Soql:
        """Parse ``soql`` against the org's objects and fields.

        Raises:
            SalesforceFault: 400 MALFORMED_QUERY, INVALID_TYPE or INVALID_FIELD.
        """
        match = _SOQL.match(soql)
        if match is None:
            raise SalesforceFault(400, "MALFORMED_QUERY", f"\n{soql}\nunexpected token")
        obj = next((o for o in self.records if o.lower() == match["obj"].lower()), None)
        if obj is None:
            raise SalesforceFault(
                400,
                "INVALID_TYPE",
                f"\n{soql}\nsObject type '{match['obj']}' is not supported. If you are attempting "
                "to use a custom object, be sure to append the '__c' after the entity name.",
            )
        names = [name.strip() for name in match["fields"].split(",")]
        fields = tuple(self._field(obj, name, soql) for name in names)
        where = None
        if match["wfield"]:
            wfield = self._field(obj, match["wfield"], soql)
            where = (wfield, match["op"], _literal_datetime(match["wvalue"], soql))
        order = None
        if match["ofield"]:
            order = (
                self._field(obj, match["ofield"], soql),
                (match["dir"] or "").upper() == "DESC",
            )
        limit = int(match["limit"]) if match["limit"] else None
        return Soql(obj=obj, fields=fields, where=where, order=order, limit=limit)

    def _field(self, obj: str, name: str, soql: str) -> str:
        known = self.fields[obj].get(name.lower())
        if known is None or not re.fullmatch(r"\w+", name):
            raise SalesforceFault(
                400,
                "INVALID_FIELD",
                f"\n{soql}\nNo such column '{name}' on entity '{obj}'. If you are attempting to "
                "use a custom field, be sure to append the '__c' after the custom field name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        return known

    def run(self, soql: str, *, include_deleted: bool) -> tuple[Soql, list[dict[str, Any]]]:
        """The records a query returns, each holding ``attributes`` and the selected fields."""
        query = self.parse(soql)
        rows = self.records[query.obj]
        if not include_deleted:
            rows = [r for r in rows if not r.get("IsDeleted")]
        if query.where is not None:
            rows = self._filter(rows, query.where, soql)
        if query.order is not None:
            name, descending = query.order
            present = [r for r in rows if r.get(name) is not None]
            missing = [r for r in rows if r.get(name) is None]
            present.sort(key=lambda r: r[name], reverse=descending)
            rows = present + missing if descending else missing + present
        if query.limit is not None:
            rows = rows[: query.limit]
        out = [{"attributes": r["attributes"], **{f: r.get(f) for f in query.fields}} for r in rows]
        return query, out

    @staticmethod
    def _filter(
        rows: list[dict[str, Any]], where: tuple[str, str, datetime], soql: str
    ) -> list[dict[str, Any]]:
        name, op, value = where
        kept = []
        for row in rows:
            stamp = _record_datetime(row.get(name))
            if stamp is None and row.get(name) is not None:
                raise SalesforceFault(
                    400,
                    "INVALID_FIELD",
                    f"\n{soql}\nvalue of filter criterion for field '{name}' must be of type "
                    f"{type(row[name]).__name__} and should not be a dateTime",
                )
            if stamp is not None and _compare(stamp, op, value):
                kept.append(row)
        return kept

    def _query(self, soql: str, *, include_deleted: bool, version: str) -> _Reply:
        _, rows = self.run(soql, include_deleted=include_deleted)
        cursor = _sf_id("01g")
        with self._lock:
            self._cursors[cursor] = rows
        return self._page(cursor, 0, version)

    def _query_more(self, cursor: str, offset: int, version: str) -> _Reply:
        with self._lock:
            known = cursor in self._cursors
        if not known:
            raise SalesforceFault(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, offset, version)

    def _page(self, cursor: str, offset: int, version: str) -> _Reply:
        with self._lock:
            rows = self._cursors[cursor]
        end = offset + self.page_size
        payload: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows)}
        if end < len(rows):
            payload["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor}-{end}"
        payload["records"] = rows[offset:end]
        return _Reply.json(200, payload)

    # -- Bulk API 2.0 -----------------------------------------------------------------------

    def _create_job(self, body: bytes, version: str) -> _Reply:
        try:
            spec = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            raise SalesforceFault(400, "JSON_PARSER_ERROR", f"Invalid JSON: {exc}") from exc
        operation = spec.get("operation")
        if operation not in ("query", "queryAll") or not spec.get("query"):
            raise SalesforceFault(
                400, "INVALIDJOB", "A query job needs operation query or queryAll and a query"
            )
        query, rows = self.run(spec["query"], include_deleted=operation == "queryAll")
        now = self.clock.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        info = {
            "id": _sf_id("750"),
            "operation": operation,
            "object": query.obj,
            "createdById": "005000000000001AAA",
            "createdDate": now,
            "systemModstamp": now,
            "state": "UploadComplete",
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(version),
            "lineEnding": spec.get("lineEnding", "LF"),
            "columnDelimiter": spec.get("columnDelimiter", "COMMA"),
        }
        with self._lock:
            self._jobs[info["id"]] = _Job(info=info, fields=query.fields, rows=rows)
        return _Reply.json(200, info)

    def _job(self, job_id: str) -> _Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise SalesforceFault(404, "NOT_FOUND", f"Job {job_id} does not exist")
        return job

    def _job_info(self, job_id: str) -> _Reply:
        job = self._job(job_id)
        with self._lock:
            job.polls += 1
            state = "InProgress" if job.polls == 1 else "JobComplete"
            info = {**job.info, "state": state}
            if state == "JobComplete":
                info["numberRecordsProcessed"] = len(job.rows)
        return _Reply.json(200, info)

    def _job_results(self, job_id: str, params: dict[str, str]) -> _Reply:
        job = self._job(job_id)
        if job.polls < 2:
            raise SalesforceFault(400, "INVALIDJOB", f"Job {job_id} is not complete yet")
        offset = _decode_locator(params.get("locator") or "")
        limit = int(params.get("maxRecords") or len(job.rows) or 1)
        chunk = job.rows[offset : offset + limit]
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(job.fields)
        for row in chunk:
            writer.writerow([csv_value(row.get(f)) for f in job.fields])
        end = offset + len(chunk)
        locator = _encode_locator(end) if end < len(job.rows) else "null"
        return _Reply(
            200,
            out.getvalue().encode("utf-8"),
            "text/csv",
            {"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(len(chunk))},
        )


def _compare(left: datetime, op: str, right: datetime) -> bool:
    return {
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
        "=": left == right,
        "!=": left != right,
    }[op]


def _encode_locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(locator: str) -> int:
    if not locator:
        return 0
    try:
        return int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except ValueError as exc:
        raise SalesforceFault(400, "INVALID_LOCATOR", f"invalid locator {locator!r}") from exc


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any) -> _Reply:
        return cls(
            status,
            json.dumps(payload, separators=(",", ":")).encode(),
            "application/json;charset=UTF-8",
        )


def _handler_for(fake: FakeSalesforce) -> type[QuietHandler]:
    class Handler(DatedHandler, QuietHandler):
        def fake_clock(self) -> FakeClock:
            return fake.clock

        def _serve(self) -> None:
            body = self.read_body()
            reply = fake.handle(self.command, self.path, self.headers, body)
            self.send_body(reply.status, reply.body, reply.content_type, reply.headers)

        do_GET = _serve
        do_POST = _serve

    return Handler
