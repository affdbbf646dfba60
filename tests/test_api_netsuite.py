"""api mode, NetSuite: SuiteQL over REST with TBA against the fake account on loopback.

Every extract must give back exactly the drop's lines (as multisets), also with each fault
armed; a small row ceiling on the fake makes the client page by key.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import canon
from requests_oauthlib import OAuth1

from connectors.api.netsuite_api import TABLES, SuiteQLClient, extract_netsuite
from connectors.api.retry import ApiError, RetryPolicy
from connectors.sandbox import generate
from connectors.sandbox.fake_netsuite import FakeNetSuite
from connectors.sandbox.faults import FAULTS, FaultPlan

pytestmark = pytest.mark.integration

PAGE_SIZE = 200
CEILING = 1000
SLOW_SECONDS = 2.5
TIMEOUT = 2.0  # generous: the machine may be busy; "slow" answers after 2.5 s
SINCE = "2026-04-01 00:00:00"


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ns") / "drop"
    generate(root, customers=150, months=12, progress=False)
    return root


@pytest.fixture(scope="module")
def expected(drop: Path) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for table in TABLES:
        lines = (drop / "netsuite" / f"{table}.jsonl").read_text(encoding="utf-8").splitlines()
        out[table] = [json.loads(line) for line in lines if line]
    return out


@pytest.fixture(scope="module")
def account(drop: Path) -> Iterator[FakeNetSuite]:
    with FakeNetSuite(drop, max_rows=CEILING) as fake:
        yield fake


@pytest.fixture
def fake(account: FakeNetSuite) -> FakeNetSuite:
    """The module's account with a fresh fault plan and request log."""
    account.faults = FaultPlan(slow_seconds=SLOW_SECONDS)
    account.requests.clear()
    return account


def extract(fake: FakeNetSuite, policy: RetryPolicy, **kwargs: Any) -> dict[str, list[Any]]:
    options: dict[str, Any] = {
        **fake.credentials,
        "page_size": PAGE_SIZE,
        "query_row_limit": CEILING,
        "timeout": TIMEOUT,
        "policy": policy,
        **kwargs,
    }
    out: dict[str, list[Any]] = {}
    for page in extract_netsuite(fake.url, cert=fake.cert, **options):
        out.setdefault(page.obj, []).append(page)
    return out


def records(pages: list[Any]) -> list[dict[str, Any]]:
    return [r for page in pages for r in page.records]


def test_every_table_equals_the_drop_paged_by_key(
    fake: FakeNetSuite, policy: RetryPolicy, expected: dict[str, list[dict[str, Any]]]
) -> None:
    pages = extract(fake, policy)
    assert list(pages) == list(TABLES)
    for table, want in expected.items():
        assert canon(records(pages[table])) == canon(want), table
        assert all(0 < len(p.records) <= PAGE_SIZE for p in pages[table])
    # Past the ceiling, a new key window starts instead of a larger offset.
    offsets = [int(m[1]) for r in fake.requests if (m := re.search(r"offset=(\d+)", r))]
    assert max(offsets) + PAGE_SIZE <= CEILING
    tal = pages["transactionaccountingline"]
    windows = [p.request for p in tal if "offset=0 " in p.request]
    assert len(windows) == -(-len(expected["transactionaccountingline"]) // CEILING)
    assert "WHERE (transaction > " in windows[1]
    assert "ORDER BY transaction, transactionline, account" in windows[1]
    assert pages["transaction"][0].cursor == max(
        r["lastmodifieddate"] for r in pages["transaction"][0].records
    )
    assert pages["currencyrate"][0].cursor is None


@pytest.mark.parametrize("fault", FAULTS)
def test_every_fault_is_survived_with_identical_records(
    fault: str,
    fake: FakeNetSuite,
    policy: RetryPolicy,
    sleeps: list[float],
    expected: dict[str, list[dict[str, Any]]],
) -> None:
    fake.faults.arm(fault, 1 if fault == "expired_session" else 2)
    pages = extract(fake, policy)
    for table, want in expected.items():
        assert canon(records(pages[table])) == canon(want), table
    assert fake.faults.pending() == {}
    if fault == "expired_session":
        assert sleeps == []  # signed again with a fresh nonce, not a backoff
    else:
        assert len(sleeps) >= 2


def test_since_returns_exactly_the_newer_rows(
    fake: FakeNetSuite, policy: RetryPolicy, expected: dict[str, list[dict[str, Any]]]
) -> None:
    since = {"transaction": SINCE, "customer": SINCE}
    pages = extract(fake, policy, tables=["transaction", "customer", "account"], since=since)
    for table in ("transaction", "customer"):
        want = [r for r in expected[table] if r["lastmodifieddate"] > SINCE]
        assert 0 < len(want) < len(expected[table])
        assert canon(records(pages[table])) == canon(want), table
    assert canon(records(pages["account"])) == canon(expected["account"])
    cursor = max(p.cursor for p in pages["transaction"])
    again = extract(fake, policy, tables=["transaction"], since={"transaction": cursor})
    assert records(again.get("transaction", [])) == []


def test_bad_token_secret_names_the_settings_and_hides_secrets(
    fake: FakeNetSuite, policy: RetryPolicy, sleeps: list[float]
) -> None:
    wrong = "0" * 64
    options: dict[str, Any] = {**fake.credentials, "token_secret": wrong}
    with pytest.raises(ApiError) as info:
        list(
            extract_netsuite(fake.url, cert=fake.cert, policy=policy, tables=["account"], **options)
        )
    message = str(info.value)
    assert info.value.status == 401 and "INVALID_LOGIN" in message
    assert "NETSUITE_TOKEN_SECRET" in message and "NETSUITE_CONSUMER_KEY" in message
    for secret in (wrong, fake.consumer_secret, fake.token_secret, fake.token_id):
        assert secret not in message
    assert len(fake.requests) == 2 and sleeps == []  # one fresh signature, then stop


def test_wrong_account_realm_is_refused(fake: FakeNetSuite, policy: RetryPolicy) -> None:
    options: dict[str, Any] = {**fake.credentials, "account_id": "9999999_SB1"}
    with pytest.raises(ApiError, match="NETSUITE_ACCOUNT_ID"):
        list(
            extract_netsuite(fake.url, cert=fake.cert, policy=policy, tables=["account"], **options)
        )


def test_requests_in_pages_hold_no_secret(fake: FakeNetSuite, policy: RetryPolicy) -> None:
    pages = extract(fake, policy, tables=["customer", "subsidiary"])
    text = " ".join(p.request for table in pages.values() for p in table)
    assert text.startswith("POST /services/rest/query/v1/suiteql?limit=200&offset=0 q=SELECT")
    for name, value in fake.credentials.items():
        if name != "account_id":
            assert value not in text


def test_the_fake_enforces_its_row_ceiling(fake: FakeNetSuite, policy: RetryPolicy) -> None:
    with pytest.raises(ApiError) as info:
        extract(fake, policy, tables=["transactionaccountingline"], query_row_limit=100_000)
    assert info.value.status == 400 and "INVALID_PARAMETER" in str(info.value)


def test_fake_renders_dates_like_netsuite(fake: FakeNetSuite, policy: RetryPolicy) -> None:
    creds = fake.credentials
    auth = OAuth1(
        creds["consumer_key"],
        client_secret=creds["consumer_secret"],
        resource_owner_key=creds["token_id"],
        resource_owner_secret=creds["token_secret"],
        signature_method="HMAC-SHA256",
        realm=creds["account_id"],
    )
    client = SuiteQLClient(fake.url, auth, fake.cert, policy, TIMEOUT)
    result = client.query(
        "SELECT id, trandate, TO_CHAR(trandate, 'YYYY-MM-DD') AS day, entity FROM transaction "
        "WHERE id > 10000 AND trandate >= TO_DATE('2026-01-01', 'YYYY-MM-DD') ORDER BY id",
        5,
        0,
    )
    assert result["count"] == 5 and result["hasMore"] is True and result["offset"] == 0
    assert [link["rel"] for link in result["links"]] == ["first", "next", "last", "self"]
    item = result["items"][0]
    assert next(iter(item)) == "links" and item["links"] == []
    year, month, day = item["day"].split("-")
    assert item["trandate"] == f"{int(month)}/{int(day)}/{year}"
    assert year == "2026"
    with pytest.raises(ApiError, match="INVALID_PARAMETER"):
        client.query("SELECT nosuchcolumn FROM transaction", 5, 0)


def test_secrets_stay_out_of_debug_logs(
    fake: FakeNetSuite, policy: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.faults.arm("expired_session")
    extract(fake, policy, tables=["account"])
    assert caplog.text  # the SDKs did log
    assert fake.consumer_secret not in caplog.text
    assert fake.token_secret not in caplog.text
