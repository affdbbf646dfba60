"""The source system's clock: the as-of instant of an api-mode extraction.

Every vendor API answers with an HTTP ``Date`` header (RFC 7231 §7.1.1.2: the instant the
server produced the response, by its own clock). The as-of instant of an api extraction is
that clock, not ours: against the real vendors it is about now (whatever our host's clock
says), and against the sandbox fakes (``revops sandbox serve``), whose clock reads their
drop's ``exported_at``, it is the export instant, exactly what files mode takes from the
same drop's manifest.

Which Date counts: the **first** parseable ``Date`` the extraction of one system receives
(its first answered request). All of that system's pages are landed with that instant, so a
batch's ``extracted_at`` and the run's ``raw_meta.source_state`` row agree and a replay of
the landing area finds the same as-of. The first Date is also the conservative choice: every
record changed before it is in the extract. When no response carries a parseable ``Date``
(absent, empty or malformed), the local clock at the start of the extraction is used.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse_http_date(value: object) -> datetime | None:
    """An HTTP ``Date`` value as an aware UTC datetime; ``None`` when absent or unparseable.

    Accepts the IMF-fixdate form and the two obsolete forms RFC 7231 obliges a recipient to
    read (RFC 850 and asctime, both in GMT).

    >>> parse_http_date("Tue, 30 Jun 2026 23:59:59 GMT").isoformat()
    '2026-06-30T23:59:59+00:00'
    >>> parse_http_date("Tuesday, 30-Jun-26 23:59:59 GMT").isoformat()
    '2026-06-30T23:59:59+00:00'
    >>> parse_http_date("Tue Jun 30 23:59:59 2026").isoformat()
    '2026-06-30T23:59:59+00:00'
    >>> parse_http_date("yesterday") is None, parse_http_date("") is None
    (True, True)
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        stamp = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if stamp is None:
        return None
    if stamp.tzinfo is None:  # "-0000" or a zone-less obsolete form: HTTP dates are GMT
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC)


def header(headers: Any, name: str) -> str | None:
    """A header of ``headers`` (a mapping, any key case), or ``None``."""
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is not None:
        value = getter(name)  # requests' CaseInsensitiveDict, http.client.HTTPMessage
        if value is not None:
            return str(value)
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if str(key).lower() == name.lower():
                return str(value)
    return None


def stamp(instant: datetime) -> str:
    """``2026-06-30T23:59:59Z``: how ``extracted_at`` and ``exported_at`` are written."""
    return instant.astimezone(UTC).strftime(STAMP_FORMAT)


class SourceClock:
    """The ``Date`` headers one system's extraction received (thread-safe).

    Extractors call :meth:`observe` with the headers of every response they get from the
    vendor; the loader reads :meth:`instant`.
    """

    def __init__(self, local: datetime | None = None) -> None:
        self.local = local or datetime.now(UTC)  # the fallback: our clock at the start
        self._lock = threading.Lock()
        self._first: datetime | None = None
        self._latest: datetime | None = None
        self.responses = 0  # responses observed
        self.dated = 0  # of them, with a parseable Date

    def observe(self, headers: Any) -> None:
        """Note one response's headers (its ``Date``, if any)."""
        seen = parse_http_date(header(headers, "Date"))
        with self._lock:
            self.responses += 1
            if seen is None:
                return
            self.dated += 1
            if self._first is None:
                self._first = seen
            if self._latest is None or seen > self._latest:
                self._latest = seen

    @property
    def first(self) -> datetime | None:
        """The first parseable ``Date`` received, if any."""
        with self._lock:
            return self._first

    @property
    def latest(self) -> datetime | None:
        """The latest ``Date`` received, if any (for diagnostics)."""
        with self._lock:
            return self._latest

    def instant(self) -> datetime:
        """The as-of instant: the first ``Date`` received, else the local clock at the start."""
        return self.first or self.local

    @property
    def from_source(self) -> bool:
        """Whether :meth:`instant` is the source's clock (not the local fallback)."""
        return self.first is not None
