"""Realistic, deterministic identifiers for the three systems, generated in bulk.

Stripe ids are a prefix plus random base-62 characters; Salesforce ids are 15 case-sensitive
characters plus the 3-character checksum Salesforce appends; NetSuite ids are integers.
"""

from __future__ import annotations

import numpy as np

_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def random_ids(rng: np.random.Generator, prefix: str, n: int, length: int) -> list[str]:
    """``n`` distinct ids ``prefix + length`` random base-62 characters.

    >>> ids = random_ids(np.random.default_rng(1), "cus_", 3, 14)
    >>> [len(i) for i in ids], ids[0][:4]
    ([18, 18, 18], 'cus_')
    """
    if n == 0:
        return []
    codes = _BASE62[rng.integers(0, 62, size=(n, length))]
    body = codes.view(f"S{length}").ravel().astype(str)
    ids = np.char.add(prefix, body).tolist()
    if len(set(ids)) != n:  # 62**14 makes this astronomically unlikely; never silently dup
        raise RuntimeError(f"id collision generating {prefix!r} ids; use a longer length")
    return ids


def salesforce_checksum(id15: str) -> str:
    """The 3-character suffix that turns a 15-character Salesforce id into its 18-character form.

    >>> salesforce_checksum("001000000000001")
    'AAA'
    >>> salesforce_checksum("0015e00000AbCdE")
    'AAV'
    """
    out = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_CHECKSUM_ALPHABET[bits])
    return "".join(out)


def is_valid_salesforce_id(value: str) -> bool:
    """True when ``value`` is an 18-character id whose checksum matches its first 15 characters."""
    return len(value) == 18 and value.isalnum() and salesforce_checksum(value[:15]) == value[15:]


def salesforce_ids(rng: np.random.Generator, key_prefix: str, n: int) -> list[str]:
    """``n`` distinct 18-character Salesforce ids for the object with ``key_prefix`` (``001``…).

    The 15-character part is the key prefix, a 2-character pod/instance marker and 10 random
    base-62 characters; the checksum is computed as Salesforce does.
    """
    bodies = random_ids(rng, "", n, 10)
    return [f"{key_prefix}8d{b}" + salesforce_checksum(f"{key_prefix}8d{b}") for b in bodies]
