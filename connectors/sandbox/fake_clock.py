"""The clock of the fake vendor APIs: the ``Date`` header they answer with.

A fake serves a drop, and a drop is the source systems as seen at its manifest's
``exported_at``: the fake's clock stands still at that instant, so every response carries
``Date: <exported_at>`` (RFC 7231 IMF-fixdate), as the real vendor would have answered at
the export instant. An api-mode run takes its as-of instant from that header
(:mod:`connectors.api.clock`), so it judges the drop as of the export, like files mode.
A drop without a readable manifest is served with the live clock.

A :class:`~connectors.sandbox.faults.FaultPlan`'s ``no_date`` fault leaves the header out of
the next responses (a client must then fall back to its own clock).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from connectors.drop import read_manifest
from connectors.errors import SourceDropError
from connectors.sandbox.faults import FaultPlan


def drop_instant(drop_dir: Path) -> datetime | None:
    """The drop's ``exported_at`` (aware UTC), or ``None`` without a readable manifest."""
    try:
        return read_manifest(drop_dir).exported_at
    except (SourceDropError, OSError, ValueError):
        return None


def http_date(instant: datetime | None) -> str:
    """``instant`` (``None``: now) as an IMF-fixdate, ``Tue, 30 Jun 2026 23:59:59 GMT``."""
    seconds = time.time() if instant is None else instant.timestamp()
    return formatdate(seconds, usegmt=True)


class FakeClock:
    """What a fake's ``Date`` header says.

    Args:
        instant: The instant the clock stands at (``None``: the live clock).
        faults: The fake's fault plan (``no_date`` drops the header).
    """

    def __init__(self, instant: datetime | None, faults: FaultPlan) -> None:
        if instant is not None and instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        self.instant = instant
        self.faults = faults

    @classmethod
    def for_drop(
        cls, drop_dir: Path, faults: FaultPlan, instant: datetime | None = None
    ) -> FakeClock:
        """The clock of a fake serving ``drop_dir`` (``instant`` overrides its exported_at)."""
        return cls(instant if instant is not None else drop_instant(drop_dir), faults)

    def now(self) -> datetime:
        """The fake's current instant."""
        return self.instant if self.instant is not None else datetime.now(UTC)

    def header(self) -> str | None:
        """The ``Date`` value of the next response, or ``None`` to leave the header out."""
        if self.faults.take("no_date"):
            return None
        return http_date(self.instant)


class DatedHandler(BaseHTTPRequestHandler):
    """A request handler whose responses carry ``Date`` from :meth:`fake_clock`.

    ``BaseHTTPRequestHandler.send_response`` always writes the host's time; this one writes
    the fake's, or nothing when the clock says so.
    """

    def fake_clock(self) -> FakeClock | None:
        """The clock to date responses with (``None``: the host's clock)."""
        return None

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())
        clock = self.fake_clock()
        date = self.date_time_string() if clock is None else clock.header()
        if date is not None:
            self.send_header("Date", date)
