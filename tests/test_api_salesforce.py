"""api mode, Salesforce: simple-salesforce against the fake org over HTTPS on loopback.

Every extract must give back exactly the drop's records (as multisets), also with each fault
armed, through REST ``queryAll`` and through Bulk API 2.0.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import canon
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connectors.api.retry import ApiError, RetryPolicy
from connectors.api.salesforce_api import (
    OBJECTS,
    client_credentials_session,
    extract_salesforce,
)
from connectors.sandbox import generate
from connectors.sandbox.fake_salesforce import FakeSalesforce
from connectors.sandbox.faults import FAULTS, FaultPlan

pytestmark = pytest.mark.integration

PAGE_SIZE = 50
SLOW_SECONDS = 2.5
TIMEOUT = 2.0  # generous: the machine may be busy; "slow" answers after 2.5 s
SINCE = "2026-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sf") / "drop"
    generate(root, customers=150, months=12, progress=False)
    return root


@pytest.fixture(scope="module")
def expected(drop: Path) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for obj in OBJECTS:
        lines = (drop / "salesforce" / f"{obj}.jsonl").read_text(encoding="utf-8").splitlines()
        out[obj] = [json.loads(line) for line in lines if line]
    return out


@pytest.fixture(scope="module")
def org(drop: Path) -> Iterator[FakeSalesforce]:
    with FakeSalesforce(drop, page_size=PAGE_SIZE) as fake:
        yield fake


@pytest.fixture
def fake(org: FakeSalesforce) -> FakeSalesforce:
    """The module's org with a fresh fault plan and request log."""
    org.faults = FaultPlan(slow_seconds=SLOW_SECONDS)
    org.requests.clear()
    return org


def extract(fake: FakeSalesforce, policy: RetryPolicy, **kwargs: Any) -> dict[str, list[Any]]:
    provider = client_credentials_session(fake.url, fake.client_id, fake.client_secret, fake.cert)
    out: dict[str, list[Any]] = {}
    for page in extract_salesforce(
        fake.url, provider, fake.cert, policy=policy, timeout=TIMEOUT, **kwargs
    ):
        out.setdefault(page.obj, []).append(page)
    return out


def records(pages: list[Any]) -> list[dict[str, Any]]:
    return [r for page in pages for r in page.records]


def test_rest_query_all_returns_the_drop(
    fake: FakeSalesforce, policy: RetryPolicy, expected: dict[str, list[dict[str, Any]]]
) -> None:
    pages = extract(fake, policy)
    assert list(pages) == list(OBJECTS)
    for obj, want in expected.items():
        assert canon(records(pages[obj])) == canon(want), obj
        assert all(0 < len(p.records) <= PAGE_SIZE for p in pages[obj])
        assert len(pages[obj]) == -(-len(want) // PAGE_SIZE)
    account = pages["Account"]
    assert account[0].request.startswith("GET /services/data/v62.0/queryAll?q=SELECT")
    assert account[1].request.startswith("GET /services/data/v62.0/query/01g")
    assert account[0].cursor == max(r["SystemModstamp"] for r in account[0].records)
    assert pages["Contract"][0].cursor is None
    assert sum(1 for r in fake.requests if r.endswith("/query/")) == 0  # always queryAll


@pytest.mark.parametrize("fault", FAULTS)
def test_every_fault_is_survived_with_identical_records(
    fault: str,
    fake: FakeSalesforce,
    policy: RetryPolicy,
    sleeps: list[float],
    expected: dict[str, list[dict[str, Any]]],
) -> None:
    fake.faults.arm(fault, 2 if fault != "expired_session" else 1)
    pages = extract(fake, policy)
    for obj, want in expected.items():
        assert canon(records(pages[obj])) == canon(want), obj
    assert fake.faults.pending() == {}
    if fault == "expired_session":
        assert fake.requests.count("POST /services/oauth2/token") == 2
        assert sleeps == []  # a new session, not a retry
    else:
        assert len(sleeps) >= 2


def test_bulk2_query_returns_rest_typed_records(
    fake: FakeSalesforce, policy: RetryPolicy, expected: dict[str, list[dict[str, Any]]]
) -> None:
    pages = extract(fake, policy, use_bulk=True, bulk_page_size=70)
    for obj, want in expected.items():
        assert canon(records(pages[obj])) == canon(want), obj
    assert len(pages["OpportunityLineItem"]) == -(-len(expected["OpportunityLineItem"]) // 70)
    assert any(r.endswith("/results") for r in fake.requests)
    assert not any("/queryAll" in r for r in fake.requests)


def test_bulk2_restarts_a_job_that_fails_mid_pagination_without_repeating_records(
    fake: FakeSalesforce, policy: RetryPolicy, expected: dict[str, list[dict[str, Any]]]
) -> None:
    fake.faults.arm("fail_mid_pagination")
    pages = extract(fake, policy, objects=["Account"], use_bulk=True, bulk_page_size=70)
    assert canon(records(pages["Account"])) == canon(expected["Account"])
    assert fake.faults.pending() == {}
    assert sum(1 for r in fake.requests if r.endswith("/jobs/query")) == 2


def test_since_returns_exactly_the_newer_records(
    fake: FakeSalesforce, policy: RetryPolicy, expected: dict[str, list[dict[str, Any]]]
) -> None:
    since = dict.fromkeys(OBJECTS, SINCE)
    pages = extract(fake, policy, since=since)
    cutoff = datetime.fromisoformat(SINCE.replace("Z", "+00:00"))
    for obj, want in expected.items():
        if "SystemModstamp" in OBJECTS[obj]:
            want = [
                r
                for r in want
                if datetime.strptime(r["SystemModstamp"], "%Y-%m-%dT%H:%M:%S.%f%z") > cutoff
            ]
            assert 0 < len(want) < len(expected[obj])
        assert canon(records(pages.get(obj, []))) == canon(want), obj
    # The largest cursor of a run, fed back, finds nothing newer.
    cursor = max(p.cursor for p in pages["Opportunity"] if p.cursor)
    again = extract(fake, policy, objects=["Opportunity"], since={"Opportunity": cursor})
    assert records(again.get("Opportunity", [])) == []


def test_bulk2_since_matches_rest(fake: FakeSalesforce, policy: RetryPolicy) -> None:
    since = {"Opportunity": SINCE}
    rest = extract(fake, policy, objects=["Opportunity"], since=since)
    bulk = extract(fake, policy, objects=["Opportunity"], since=since, use_bulk=True)
    assert canon(records(bulk["Opportunity"])) == canon(records(rest["Opportunity"]))


def test_bad_client_secret_names_the_settings_and_hides_the_secret(
    fake: FakeSalesforce, policy: RetryPolicy
) -> None:
    secret = "wrong-" + fake.client_secret[:20]
    provider = client_credentials_session(fake.url, fake.client_id, secret, fake.cert)
    with pytest.raises(ApiError) as info:
        list(extract_salesforce(fake.url, provider, fake.cert, policy=policy))
    message = str(info.value)
    assert "SALESFORCE_CLIENT_ID" in message and "SALESFORCE_CLIENT_SECRET" in message
    assert "invalid_client" in message
    assert secret not in message and fake.client_secret not in message
    assert info.value.status == 400


def test_an_invalid_session_is_renewed_once_then_reported(
    fake: FakeSalesforce, policy: RetryPolicy, sleeps: list[float]
) -> None:
    calls: list[str] = []

    def bogus() -> str:
        calls.append("x")
        return "00Dbogus!" + "s" * 40

    with pytest.raises(ApiError) as info:
        list(extract_salesforce(fake.url, bogus, fake.cert, objects=["Account"], policy=policy))
    message = str(info.value)
    assert info.value.status == 401
    assert "INVALID_SESSION_ID" in message and "SALESFORCE_CLIENT_SECRET" in message
    assert "00Dbogus" not in message
    assert len(calls) == 2 and sleeps == []


def test_a_static_session_is_used_until_it_expires(
    fake: FakeSalesforce, policy: RetryPolicy, expected: dict[str, list[dict[str, Any]]]
) -> None:
    session = fake.issue_session()
    pages = list(
        extract_salesforce(fake.url, lambda: session, fake.cert, objects=["Account"], policy=policy)
    )
    assert canon(records(pages)) == canon(expected["Account"])
    assert "POST /services/oauth2/token" not in fake.requests


def test_untrusted_certificate_is_not_retried(fake: FakeSalesforce, sleeps: list[float]) -> None:
    provider = client_credentials_session(fake.url, fake.client_id, fake.client_secret, True)
    policy = RetryPolicy(max_attempts=4, sleep=sleeps.append)
    with pytest.raises(ApiError, match="TLS verification failed"):
        list(extract_salesforce(fake.url, provider, True, objects=["Product2"], policy=policy))
    assert sleeps == []


def test_fake_rejects_a_filter_on_a_field_the_object_lacks(fake: FakeSalesforce) -> None:
    session = requests.Session()
    session.trust_env = False
    session.verify = fake.cert
    sf = Salesforce(
        instance_url=fake.url, session_id=fake.issue_session(), session=session, version="62.0"
    )
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query_all(f"SELECT Id FROM Product2 WHERE SystemModstamp > {SINCE}")
    errors: object = info.value.content  # the parsed JSON body (simple-salesforce says bytes)
    assert isinstance(errors, list)
    assert errors[0]["errorCode"] == "INVALID_FIELD"
    result = sf.query("SELECT Id, Name FROM Product2")
    assert result["totalSize"] == 5 and result["done"] is True
    assert set(result["records"][0]) == {"attributes", "Id", "Name"}


def test_secrets_stay_out_of_debug_logs(
    fake: FakeSalesforce, policy: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    issued: list[str] = []
    provider = client_credentials_session(fake.url, fake.client_id, fake.client_secret, fake.cert)

    def remembering() -> str:
        issued.append(provider())
        return issued[-1]

    fake.faults.arm("expired_session")
    list(extract_salesforce(fake.url, remembering, fake.cert, objects=["Account"], policy=policy))
    assert caplog.text and len(issued) == 2
    for secret in (fake.client_secret, *issued):
        assert secret not in caplog.text
