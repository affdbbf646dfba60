"""An api extraction is as of the source's clock: the responses' HTTP ``Date`` header.

The sandbox fakes answer with ``Date:`` = their drop's ``exported_at``, so api mode against
them judges the drop as of the export instant, like files mode on the same drop: the same
``raw_meta.source_state`` as-of, the same batches' ``extracted_at`` and, after a real
``dbt build`` and the real checks, the same open exceptions. A response without a (readable)
``Date`` leaves the local clock as the as-of.

The api-mode side is the session's ``revops run --source api`` against the fakes
(``api_company``, which ``test_cli`` runs as a user does): the load, ``dbt build`` and the
checks of a real run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from api_company import ApiRun
from dbt_build import dbt_build, load

from connectors.api.clock import SourceClock, parse_http_date, stamp
from connectors.api.retry import RetryPolicy
from connectors.api.stripe_api import extract_stripe
from connectors.drop import read_manifest
from connectors.load.api_mode import StripeSource, load_api_system
from connectors.load.warehouse import connect
from connectors.sandbox import generate
from connectors.sandbox.fake_clock import http_date
from connectors.sandbox.fake_stripe import start_fake_stripe
from reconciliation.run import latest_as_of, run_checks

FAST = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05)
KEY = "sk_test_asof_0123456789"
EXPORTED_AT = "2026-06-30T23:59:59Z"


# -- the clock ---------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tue, 30 Jun 2026 23:59:59 GMT", "2026-06-30T23:59:59Z"),  # IMF-fixdate
        ("Tuesday, 30-Jun-26 23:59:59 GMT", "2026-06-30T23:59:59Z"),  # RFC 850 (obsolete)
        ("Tue Jun 30 23:59:59 2026", "2026-06-30T23:59:59Z"),  # asctime (obsolete)
        ("Wed, 01 Jul 2026 01:59:59 +0200", "2026-06-30T23:59:59Z"),  # an offset, normalised
    ],
)
def test_http_dates_are_read_in_every_form_rfc_7231_names(value: str, expected: str) -> None:
    parsed = parse_http_date(value)
    assert parsed is not None and stamp(parsed) == expected


@pytest.mark.unit
@pytest.mark.parametrize("value", [None, "", "   ", "yesterday", "Tue, 99 Jun 2026 25:61 GMT", 17])
def test_an_absent_or_unreadable_date_is_none(value: object) -> None:
    assert parse_http_date(value) is None


@pytest.mark.unit
def test_a_response_without_date_leaves_the_local_clock() -> None:
    local = datetime(2026, 12, 3, 14, 0, 0, tzinfo=UTC)
    clock = SourceClock(local)
    clock.observe({"Content-Type": "application/json"})
    clock.observe({"date": "not a date"})
    clock.observe(None)
    assert clock.instant() == local and not clock.from_source
    assert (clock.responses, clock.dated) == (3, 0)


@pytest.mark.unit
def test_the_first_readable_date_is_the_as_of() -> None:
    clock = SourceClock(datetime(2026, 12, 3, tzinfo=UTC))
    clock.observe({"Content-Type": "application/json"})  # no Date: skipped
    clock.observe({"date": "Tue, 30 Jun 2026 23:59:59 GMT"})  # any header case
    clock.observe({"Date": "Wed, 01 Jul 2026 00:00:05 GMT"})  # later answers do not move it
    assert stamp(clock.instant()) == EXPORTED_AT and clock.from_source
    assert clock.latest is not None and stamp(clock.latest) == "2026-07-01T00:00:05Z"


@pytest.mark.unit
def test_default_clock_is_now() -> None:
    before = datetime.now(UTC)
    instant = SourceClock().instant()
    assert before <= instant <= datetime.now(UTC)


# -- a fake vendor's Date header ---------------------------------------------------------------


@pytest.fixture(scope="module")
def small_drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate(out, customers=15, months=3, seed=3, progress=False)
    return out


@pytest.mark.integration
def test_the_fake_answers_at_its_drops_export_instant(small_drop: Path) -> None:
    exported_at = read_manifest(small_drop).exported_at
    with start_fake_stripe(small_drop, KEY) as server:
        clock = SourceClock()
        pages = list(extract_stripe(KEY, server.url, ["customers"], policy=FAST, clock=clock))
    assert pages and clock.dated == clock.responses > 0
    assert clock.instant() == exported_at
    assert http_date(exported_at) == "Tue, 30 Jun 2026 23:59:59 GMT"


@pytest.mark.integration
def test_only_the_first_response_without_date_still_takes_the_sources_clock(
    small_drop: Path,
) -> None:
    with start_fake_stripe(small_drop, KEY) as server:
        server.faults.arm("no_date", 1)
        clock = SourceClock()
        list(extract_stripe(KEY, server.url, ["customers", "prices"], policy=FAST, clock=clock))
        assert server.faults.pending() == {}
    assert clock.dated == clock.responses - 1
    assert stamp(clock.instant()) == EXPORTED_AT


@pytest.mark.integration
def test_responses_without_date_fall_back_to_the_local_clock(
    small_drop: Path, tmp_path: Path
) -> None:
    """No response says what time it is: the run is as of our clock at its start."""
    with start_fake_stripe(small_drop, KEY) as server:
        server.faults.arm("no_date", 10_000)
        con = connect(tmp_path / "warehouse.duckdb")
        before = datetime.now(UTC).replace(microsecond=0)
        clock = SourceClock()
        load_api_system(con, tmp_path, "stripe", StripeSource(KEY, server.url), clock=clock)
        after = datetime.now(UTC)
        assert server.faults.pending() != {}  # every response went out without Date
    assert clock.responses > 0 and clock.dated == 0 and not clock.from_source
    recorded = con.sql("SELECT exported_at FROM raw_meta.source_state").fetchall()
    extracted = con.sql("SELECT DISTINCT extracted_at FROM raw_meta.batches").fetchall()
    con.close()
    assert len(recorded) == 1 and before <= recorded[0][0] <= after
    assert [stamp(_aware(t)) for (t,) in extracted] == [stamp(recorded[0][0])]


# -- files mode and api mode on the same drop publish the same exceptions ---------------------


def as_of_and_open(con: duckdb.DuckDBPyConnection) -> tuple[str, set[tuple[str, str]]]:
    """The as-of the checks ran at and the open (check, record) pairs, once dbt built and the
    checks ran."""
    as_of = latest_as_of(con)
    open_ = con.sql("SELECT check_id, record_id FROM recon.exceptions WHERE status = 'open'")
    dbt_as_of = con.sql("SELECT as_of_at FROM intermediate.int_as_of").fetchall()
    assert len(dbt_as_of) == 1 and stamp(dbt_as_of[0][0]) == as_of  # what dbt judged at
    return as_of, set(open_.fetchall())


def published(home: Path) -> tuple[str, set[tuple[str, str]]]:
    """dbt build, then the checks: the as-of they ran at and the open (check, record) pairs."""
    dbt_build(home)
    con = connect(home / "warehouse.duckdb")
    try:
        run_checks(con)
        return as_of_and_open(con)
    finally:
        con.close()


@pytest.mark.integration
def test_api_mode_on_the_served_fakes_publishes_what_files_mode_publishes(
    api_company: ApiRun, tmp_path: Path
) -> None:
    drop, files_home = api_company.drop, tmp_path / "files"
    assert api_company.returncode == 0, api_company.stderr[-3000:]
    load(drop, files_home)
    # The api run's warehouse: loaded from the fakes, built and checked by its Dagster run.
    con = duckdb.connect(str(api_company.home / "warehouse.duckdb"), read_only=True)
    try:
        extracted = con.sql("SELECT DISTINCT extracted_at FROM raw_meta.batches").fetchall()
        states = con.sql(
            "SELECT source, exported_at FROM raw_meta.source_state ORDER BY source"
        ).fetchall()
        api_as_of, api_open = as_of_and_open(con)
    finally:
        con.close()
    exported_at = read_manifest(drop).exported_at
    assert api_company.served_as_of == exported_at
    # Every system's as-of is the fakes' clock, i.e. the drop's exported_at, not today.
    assert [s for s, _ in states] == ["api:netsuite", "api:salesforce", "api:stripe"]
    assert {t for _, t in states} == {exported_at}
    assert {stamp(_aware(t)) for (t,) in extracted} == {stamp(exported_at)}

    files_as_of, files_open = published(files_home)
    assert files_as_of == api_as_of == stamp(exported_at)
    assert files_open, "the drop should have open exceptions to compare"
    assert sorted(files_open ^ api_open) == []


def _aware(value: object) -> datetime:
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)
