"""Switchable faults for the fake vendor APIs (thread-safe counters).

A fault is armed with a count: the next ``count`` matching requests fail that way, then the
server behaves again. ``FaultPlan.from_spec("rate_limit=2,server_error=1")`` parses the
form used by ``revops sandbox serve --faults``. :data:`FAULTS` are failed requests a client
has to retry or re-authenticate through; :data:`QUIRKS` are answers that succeed but lack
something a client may rely on (``no_date``: no ``Date`` header, so the as-of instant of an
extraction falls back to the client's clock).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

FAULTS = (
    "rate_limit",  # 429 that tells the client it may retry (Stripe-Should-Retry: true, Retry-After)
    "rate_limit_no_retry",  # 429 without Stripe-Should-Retry (the SDK alone would not retry)
    "server_error",  # 500/503 with the vendor's error body
    "slow",  # respond only after the client's timeout has passed
    "fail_mid_pagination",  # the first request for a page after the first page fails (503)
    "expired_session",  # 401 INVALID_SESSION_ID / INVALID_LOGIN until the client re-authenticates
)
QUIRKS = (
    "no_date",  # a response without a Date header (RFC 7231 lets a server without a clock omit it)
)
KNOWN = FAULTS + QUIRKS


@dataclass
class FaultPlan:
    """Remaining injections per fault; ``slow_seconds`` is how long a slow response takes."""

    counts: dict[str, int] = field(default_factory=dict)
    slow_seconds: float = 3.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_spec(cls, spec: str | None) -> FaultPlan:
        plan = cls()
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            name, _, count = part.partition("=")
            if name not in KNOWN:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(KNOWN)}")
            plan.arm(name, int(count or 1))
        return plan

    def arm(self, name: str, count: int = 1) -> None:
        if name not in KNOWN:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(KNOWN)}")
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + count

    def take(self, name: str) -> bool:
        """True (and one fewer left) when fault ``name`` should fire on this request."""
        with self._lock:
            left = self.counts.get(name, 0)
            if left <= 0:
                return False
            self.counts[name] = left - 1
            return True

    def pending(self) -> dict[str, int]:
        with self._lock:
            return {k: v for k, v in self.counts.items() if v > 0}
