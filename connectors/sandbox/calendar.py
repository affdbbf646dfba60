"""Vectorised calendar arithmetic on Unix seconds (int64 numpy arrays).

Billing anchors are kept on days 1–28 so that "the same day next month" always exists and
adding months is exact (Stripe clamps anchors on the 29th–31st; the sandbox avoids them).
"""

from __future__ import annotations

import numpy as np

DAY = 86_400
HOUR = 3_600


def add_months(ts: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Shift instants by whole calendar months, keeping day-of-month and time of day.

    Only valid for instants on days 1–28 (which the generator guarantees).

    >>> import datetime as dt
    >>> t = int(dt.datetime(2026, 1, 15, 10, tzinfo=dt.UTC).timestamp())
    >>> dt.datetime.fromtimestamp(int(add_months(np.array([t]), 13)[0]), dt.UTC).isoformat()
    '2027-02-15T10:00:00+00:00'
    """
    d = np.asarray(ts, dtype="int64").astype("datetime64[s]")
    m = d.astype("datetime64[M]")
    offset = d - m.astype("datetime64[s]")
    return ((m + np.asarray(months, dtype="int64")).astype("datetime64[s]") + offset).astype(
        "int64"
    )


def month_index(ts: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each instant (UTC)."""
    return (
        np.asarray(ts, dtype="int64")
        .astype("datetime64[s]")
        .astype("datetime64[M]")
        .astype("int64")
    )


def month_start(month_idx: np.ndarray | int) -> np.ndarray:
    """Unix seconds of the first instant of each month index."""
    return (
        np.asarray(month_idx, dtype="int64").astype("datetime64[M]").astype("datetime64[s]")
    ).astype("int64")


def day_of_month(ts: np.ndarray) -> np.ndarray:
    """Day of month (1–31) of each instant (UTC)."""
    d = np.asarray(ts, dtype="int64").astype("datetime64[s]")
    return (d.astype("datetime64[D]") - d.astype("datetime64[M]").astype("datetime64[D]")).astype(
        "int64"
    ) + 1


def clamp_to_day_28(ts: np.ndarray) -> np.ndarray:
    """Move instants on days 29–31 to the same time on the 1st of the next month."""
    ts = np.asarray(ts, dtype="int64")
    dom = day_of_month(ts)
    late = dom > 28
    nxt = month_start(month_index(ts) + 1) + (ts % DAY)
    return np.where(late, nxt, ts)
