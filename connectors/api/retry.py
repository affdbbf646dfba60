"""Our retry policy for every vendor API (the SDKs' own retries are switched off).

Retry 429, 5xx, connection errors and timeouts with exponential backoff and full jitter,
honour ``Retry-After`` (seconds) when the server sends it, and give up after a bound with an
:class:`ApiError` that says which request failed, how often it was tried and what to do.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from connectors.errors import ConnectorError

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ApiError(ConnectorError):
    """A vendor API request failed for good.

    Attributes:
        system: ``stripe``, ``salesforce`` or ``netsuite``.
        request: What was asked (method and path, never credentials).
        status: The last HTTP status, or ``None`` for a connection error or timeout.
        attempts: How many times it was tried.
    """

    def __init__(
        self, system: str, request: str, status: int | None, attempts: int, message: str
    ) -> None:
        self.system = system
        self.request = request
        self.status = status
        self.attempts = attempts
        super().__init__(message)


class RetryableError(Exception):
    """Raised by a request function to ask the policy for another attempt.

    Attributes:
        status: HTTP status (``None`` for connection errors and timeouts).
        retry_after: Seconds the server asked us to wait, if it said so.
    """

    def __init__(self, status: int | None, detail: str, retry_after: float | None = None):
        self.status = status
        self.retry_after = retry_after
        super().__init__(detail)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in a single wait."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = random.Random(0)  # noqa: RUF009 - deterministic jitter is fine

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempts count from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return self.rng.uniform(0, cap)

    def call(self, system: str, request: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` until it succeeds, retrying on :class:`RetryableError`."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return fn()
            except RetryableError as exc:
                if attempt == self.max_attempts:
                    raise ApiError(
                        system,
                        request,
                        exc.status,
                        attempt,
                        f"{system} API request {request} failed after {attempt} attempts "
                        f"(last: {exc.status or 'no response'}: {exc}); the vendor is "
                        "unavailable or rate limiting: try the run again later",
                    ) from exc
                self.sleep(self.delay(attempt, exc.retry_after))
        raise AssertionError("unreachable")
