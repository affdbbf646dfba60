"""api mode for Stripe end to end: the official SDK against the fake Stripe API on loopback.

A small sandbox drop is served by ``connectors.sandbox.fake_stripe`` (a real HTTP server)
and extracted by ``connectors.api.stripe_api`` (the real ``stripe`` SDK). Every extracted
record must equal its drop line, with and without injected faults.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.api.pages import Page
from connectors.api.retry import ApiError, RetryPolicy
from connectors.api.stripe_api import RESOURCES, extract_stripe
from connectors.sandbox import generate
from connectors.sandbox.fake_stripe import FakeServer, start_fake_stripe

pytestmark = pytest.mark.integration

API_KEY = "sk_test_51FakeSandboxKeyForApiModeTests0123456789"
OBJECTS = list(RESOURCES)
EMBEDDED_LIMIT = 2  # below the drop's longest invoices, so lines must be completed
MAX_ATTEMPTS = 4


class SleepLog:
    """The retry policy's sleep: records each wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_policy(sleep: SleepLog | None = None) -> RetryPolicy:
    """A fast policy whose cap still lets ``Retry-After: 1`` through unchanged."""
    return RetryPolicy(
        max_attempts=MAX_ATTEMPTS, base_delay=0.001, max_delay=2.0, sleep=sleep or SleepLog()
    )


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


def drop_records(drop: Path, obj: str) -> list[dict[str, Any]]:
    with (drop / "stripe" / f"{obj}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def by_object(pages: Iterable[Page]) -> dict[str, list[dict[str, Any]]]:
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for page in pages:
        records[page.obj].extend(page.records)
    return records


def assert_same_records(obj: str, got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    """Multiset equality, reporting the first differing record by id."""
    got_count, want_count = Counter(map(canonical, got)), Counter(map(canonical, want))
    if got_count == want_count:
        return
    extra = sorted(json.loads(r).get("id", r) for r in got_count - want_count)
    missing = sorted(json.loads(r).get("id", r) for r in want_count - got_count)
    pytest.fail(
        f"{obj}: {len(got)} extracted vs {len(want)} in the drop; "
        f"unexpected {extra[:3]}, missing {missing[:3]}"
    )


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stripe_api") / "drop"
    generate(root, customers=120, months=12, progress=False)
    return root


@pytest.fixture(scope="module")
def server(drop: Path) -> Iterator[FakeServer]:
    with start_fake_stripe(drop, API_KEY, embedded_limit=EMBEDDED_LIMIT) as fake:
        yield fake


@pytest.fixture(scope="module")
def baseline_requests(server: FakeServer) -> int:
    """Requests one clean extraction of every object takes."""
    before = server.requests
    for _ in extract_stripe(API_KEY, server.url, policy=make_policy()):
        pass
    return server.requests - before


def get(server: FakeServer, path: str, key: str | None = API_KEY) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.get(server.url + path, headers=headers, timeout=10)


def test_every_object_equals_the_drop(drop: Path, server: FakeServer) -> None:
    pages = list(extract_stripe(API_KEY, server.url, policy=make_policy()))
    records = by_object(pages)
    assert sorted(records) == sorted(OBJECTS)
    for obj in OBJECTS:
        assert_same_records(obj, records[obj], drop_records(drop, obj))
    long_invoices = [r for r in records["invoices"] if len(r["lines"]["data"]) > EMBEDDED_LIMIT]
    assert long_invoices, "the drop needs invoices longer than the embedded limit"
    assert sum(p.meta["embedded_requests"] for p in pages) >= len(long_invoices)
    for page in pages:
        assert API_KEY not in page.request
        assert page.request.startswith(f"GET {RESOURCES[page.obj].path}?limit=100")
        assert page.cursor == str(max(r["created"] for r in page.records))
    assert "status=all" in next(p.request for p in pages if p.obj == "subscriptions")
    assert "starting_after=" in [p.request for p in pages if p.obj == "invoices"][1]


@pytest.mark.parametrize(
    ("fault", "count"),
    [
        ("rate_limit", 2),
        ("rate_limit_no_retry", 2),
        ("server_error", 2),
        ("slow", 1),
        ("fail_mid_pagination", 1),
    ],
)
def test_faults_are_retried_and_records_still_equal(
    drop: Path, server: FakeServer, baseline_requests: int, fault: str, count: int
) -> None:
    server.faults.slow_seconds = 3.0
    server.faults.arm(fault, count)
    sleeps = SleepLog()
    before = server.requests
    pages = extract_stripe(API_KEY, server.url, policy=make_policy(sleeps), timeout=1.0)
    records = by_object(pages)
    assert server.faults.pending() == {}
    assert server.requests - before == baseline_requests + count
    for obj in OBJECTS:
        assert_same_records(obj, records[obj], drop_records(drop, obj))
    assert len(sleeps.waits) == count
    if fault == "rate_limit":
        assert sleeps.waits == [1.0] * count  # Retry-After honoured
    else:
        assert all(wait <= 0.01 for wait in sleeps.waits)


def test_faults_beyond_the_bound_raise_api_error(server: FakeServer) -> None:
    server.faults.arm("server_error", MAX_ATTEMPTS)
    before = server.requests
    with pytest.raises(ApiError) as caught:
        list(extract_stripe(API_KEY, server.url, policy=make_policy()))
    error = caught.value
    assert server.faults.pending() == {}
    assert server.requests - before == MAX_ATTEMPTS
    assert (error.system, error.status, error.attempts) == ("stripe", 500, MAX_ATTEMPTS)
    assert error.request == "GET /v1/customers?limit=100"
    assert "GET /v1/customers?limit=100" in str(error)
    chain: BaseException | None = error
    while chain is not None:
        assert API_KEY not in str(chain)
        chain = chain.__cause__


def test_rate_limit_mid_pagination_beyond_the_bound_names_the_page(server: FakeServer) -> None:
    pages = extract_stripe(API_KEY, server.url, objects=["invoices"], policy=make_policy())
    first = next(pages)
    server.faults.arm("rate_limit_no_retry", MAX_ATTEMPTS)
    with pytest.raises(ApiError) as caught:
        next(pages)
    assert caught.value.status == 429
    assert caught.value.request == (
        f"GET /v1/invoices?limit=100&starting_after={first.records[-1]['id']}"
    )
    assert server.faults.pending() == {}


def test_wrong_key_fails_at_once_naming_stripe_api_key(server: FakeServer) -> None:
    wrong = "sk_test_51ThisKeyIsWrongAndMustNeverBeEchoed9876"
    before = server.requests
    with pytest.raises(ApiError) as caught:
        list(extract_stripe(wrong, server.url, policy=make_policy()))
    assert server.requests - before == 1
    assert (caught.value.status, caught.value.attempts) == (401, 1)
    assert "STRIPE_API_KEY" in str(caught.value)
    assert wrong not in str(caught.value) and API_KEY not in str(caught.value)


def test_incremental_since_lists_created_gte(drop: Path, server: FakeServer) -> None:
    invoices = drop_records(drop, "invoices")
    since = sorted(r["created"] for r in invoices)[len(invoices) // 2]
    pages = list(
        extract_stripe(
            API_KEY,
            server.url,
            objects=["invoices"],
            since={"invoices": since},
            policy=make_policy(),
        )
    )
    want = [r for r in invoices if r["created"] >= since]
    assert_same_records("invoices", by_object(pages)["invoices"], want)
    assert all(f"created[gte]={since}" in p.request for p in pages)


def test_small_pages_and_multi_page_embedded_lists(drop: Path) -> None:
    invoices = drop_records(drop, "invoices")
    since = sorted(r["created"] for r in invoices)[-40]
    with start_fake_stripe(drop, API_KEY, embedded_limit=1) as fake:
        pages = list(
            extract_stripe(
                API_KEY,
                fake.url,
                objects=["invoices", "credit_notes"],
                since={"invoices": since},
                page_size=1,
                policy=make_policy(),
            )
        )
    records = by_object(pages)
    assert_same_records(
        "invoices", records["invoices"], [r for r in invoices if r["created"] >= since]
    )
    assert_same_records("credit_notes", records["credit_notes"], drop_records(drop, "credit_notes"))
    assert all(len(p.records) == 1 for p in pages)
    assert all(p.meta["embedded_requests"] == len(p.records[0]["lines"]["data"]) - 1 for p in pages)


def test_subscription_items_beyond_the_embedded_limit(drop: Path, tmp_path: Path) -> None:
    subscription = drop_records(drop, "subscriptions")[0]
    item = subscription["items"]["data"][0]
    subscription["items"]["data"] = [{**item, "id": f"si_Extra{i:09d}"} for i in range(3)]
    (tmp_path / "stripe").mkdir()
    (tmp_path / "stripe" / "subscriptions.jsonl").write_text(json.dumps(subscription) + "\n")
    with start_fake_stripe(tmp_path, API_KEY, embedded_limit=1) as fake:
        served = get(fake, f"/v1/subscriptions/{subscription['id']}").json()
        pages = list(
            extract_stripe(
                API_KEY, fake.url, objects=["subscriptions"], page_size=2, policy=make_policy()
            )
        )
    assert served["items"]["has_more"] is True and len(served["items"]["data"]) == 1
    assert pages[0].meta["embedded_requests"] == 1
    assert by_object(pages)["subscriptions"] == [subscription]


def test_meter_events_and_unknown_objects_are_refused() -> None:
    with pytest.raises(ValueError, match="usage export"):
        list(extract_stripe(API_KEY, "http://127.0.0.1:9", objects=["meter_events"]))
    with pytest.raises(ValueError, match="unknown Stripe object"):
        list(extract_stripe(API_KEY, "http://127.0.0.1:9", objects=["coupons"]))


def test_fake_lists_newest_first_with_stripe_paging(drop: Path, server: FakeServer) -> None:
    charges = sorted(
        drop_records(drop, "charges"), key=lambda r: (r["created"], r["id"]), reverse=True
    )
    first = get(server, "/v1/charges").json()
    assert (first["object"], first["url"], first["has_more"]) == ("list", "/v1/charges", True)
    assert [r["id"] for r in first["data"]] == [r["id"] for r in charges[:10]]
    after = get(server, f"/v1/charges?limit=5&starting_after={charges[9]['id']}").json()
    assert [r["id"] for r in after["data"]] == [r["id"] for r in charges[10:15]]
    before = get(server, f"/v1/charges?limit=3&ending_before={charges[9]['id']}").json()
    assert [r["id"] for r in before["data"]] == [r["id"] for r in charges[6:9]]
    assert before["has_more"] is True
    pivot = charges[len(charges) // 2]["created"]
    newer = get(server, f"/v1/charges?limit=100&created[gt]={pivot}").json()["data"]
    older = get(server, f"/v1/charges?limit=100&created[lte]={pivot}").json()["data"]
    assert newer and all(r["created"] > pivot for r in newer)
    assert older and all(r["created"] <= pivot for r in older)


def list_all(server: FakeServer, path: str) -> list[dict[str, Any]]:
    """Every object of a list endpoint, paging with ``starting_after``."""
    records: list[dict[str, Any]] = []
    separator = "&" if "?" in path else "?"
    while True:
        cursor = f"&starting_after={records[-1]['id']}" if records else ""
        page = get(server, f"{path}{separator}limit=100{cursor}").json()
        records.extend(page["data"])
        if not page["has_more"]:
            return records


def test_fake_subscriptions_hide_canceled_by_default(drop: Path, server: FakeServer) -> None:
    subscriptions = drop_records(drop, "subscriptions")
    canceled = {r["id"] for r in subscriptions if r["status"] == "canceled"}
    assert canceled
    default = {r["id"] for r in list_all(server, "/v1/subscriptions")}
    assert default == {r["id"] for r in subscriptions} - canceled
    assert {r["id"] for r in list_all(server, "/v1/subscriptions?status=canceled")} == canceled
    every = list_all(server, "/v1/subscriptions?status=all")
    assert {r["id"] for r in every} == {r["id"] for r in subscriptions}


def test_fake_truncates_embedded_lines_like_stripe(drop: Path, server: FakeServer) -> None:
    invoice = max(drop_records(drop, "invoices"), key=lambda r: len(r["lines"]["data"]))
    served = get(server, f"/v1/invoices/{invoice['id']}").json()
    assert served["lines"]["has_more"] is True
    assert served["lines"]["data"] == invoice["lines"]["data"][:EMBEDDED_LIMIT]
    rest = get(server, f"/v1/invoices/{invoice['id']}/lines?limit=100").json()
    assert rest["url"] == f"/v1/invoices/{invoice['id']}/lines"
    assert rest["data"] == invoice["lines"]["data"] and rest["has_more"] is False
    with start_fake_stripe(drop, API_KEY) as stripe_like:
        served = get(stripe_like, f"/v1/invoices/{invoice['id']}").json()
    assert served == invoice  # Stripe embeds up to 10 lines


def test_fake_errors_use_stripe_bodies_and_headers(server: FakeServer) -> None:
    missing = get(server, "/v1/customers", key=None)
    assert missing.status_code == 401 and "did not provide an API key" in missing.text
    wrong = get(server, "/v1/customers", key="sk_test_51NotTheRightKeyAtAll00001234")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"].startswith("Invalid API Key provided: sk_test_")
    assert "NotTheRightKey" not in wrong.text
    bad = get(server, "/v1/customers?limit=101")
    assert bad.status_code == 400
    assert set(bad.json()["error"]) == {"type", "code", "message", "param", "doc_url"}
    assert bad.json()["error"]["param"] == "limit"
    assert get(server, "/v1/customers?colour=red").json()["error"]["param"] == "colour"
    assert get(server, "/v1/coupons").status_code == 404
    assert get(server, "/v1/customers/cus_doesnotexist").json()["error"]["code"] == (
        "resource_missing"
    )
    assert bad.headers["Request-Id"].startswith("req_")


def test_fake_rate_limits_with_and_without_should_retry(server: FakeServer) -> None:
    server.faults.arm("rate_limit")
    limited = get(server, "/v1/products")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limit"
    assert limited.json()["error"]["type"] == "invalid_request_error"
    assert limited.headers["Stripe-Should-Retry"] == "true"
    assert limited.headers["Retry-After"] == "1"
    server.faults.arm("rate_limit_no_retry")
    bare = get(server, "/v1/products")
    assert bare.status_code == 429
    assert "Stripe-Should-Retry" not in bare.headers and "Retry-After" not in bare.headers
    server.faults.arm("server_error")
    failed = get(server, "/v1/products")
    assert failed.status_code == 500 and failed.json()["error"]["type"] == "api_error"
    server.faults.arm("fail_mid_pagination")
    assert get(server, "/v1/products").status_code == 200  # no starting_after: not this one
    assert get(server, "/v1/products?starting_after=prod_x").status_code == 503
    assert server.faults.pending() == {}
