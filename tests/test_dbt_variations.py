"""The dbt models on exports that vary (docs/source-systems.md, "What real exports vary in").

A company is generated, loaded into a real DuckDB warehouse, built with the real ``dbt
build`` and reconciled; then the same company, written the way other exports write it, goes
through the same pipeline, and what the models make of it is compared with the baseline:

- Stripe objects of API versions before 2025-03-31 (``line.type``, the subscription's current
  period, ``charge.invoice`` and no invoice payments),
- a second billing meter with usage that no price bills,
- Salesforce ids pasted into Stripe metadata in their 15-character form, NetSuite rate rows
  without ids, and rate rows of the account's other base currencies left out,
- a single-entity company in a Salesforce org without multi-currency and a NetSuite account
  without OneWorld (its currency and entity from configuration),
- a currency without exchange rates for some months: the failing rows of
  ``fx_rate_available_for_mrr`` name the currency and those months.

Every row of ``metrics.mrr_monthly``, ``mrr_bridge``, ``saas_metrics``, every open exception
(check, record, amount, sentence) and every ``core`` table must equal the baseline's, apart
from the columns that say where a row came from (listed per variation, and checked).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_build import dbt, dbt_build, load
from drops import QuietCompany, sync_manifest

from connectors.load.warehouse import connect
from connectors.sandbox.dialects import apply_dialects
from connectors.sandbox.generate import generate
from reconciliation.run import run_checks

pytestmark = pytest.mark.integration

SIZE: QuietCompany = {
    "customers": 100,
    "months": 12,
    "seed": 13,
    "anomaly_rate": 0.05,
    "progress": False,
}
METRICS = ("metrics.mrr_monthly", "metrics.mrr_bridge", "metrics.saas_metrics")
EXCEPTIONS = (
    "SELECT check_id, record_id, customer_id, entity, amount_at_risk_reporting, detail "
    "FROM recon.exceptions WHERE status = 'open'"
)
# Each variation's core columns that record where a row came from, not what it says.
PROVENANCE: dict[str, dict[str, set[str]]] = {
    "stripe-legacy": {
        "invoice_payments": {"invoice_payment_id", "linked_by"},
        "payments": {"invoice_payment_id"},
    },
    "single-entity": {
        "entities": {"subsidiary_id", "defined_by"},
        "erp_transactions": {"subsidiary_id"},
    },
}


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


@dataclass(frozen=True)
class Built:
    """What one run made: every row of the metrics, the open exceptions and the core tables."""

    warehouse: Path
    metrics: dict[str, Counter]
    exceptions: Counter
    core: dict[str, tuple[list[str], list[tuple]]]

    def core_rows(self, table: str, without: Set[str] = frozenset()) -> Counter:
        columns, rows = self.core[table]
        keep = [i for i, c in enumerate(columns) if c not in without]
        return Counter(tuple(row[i] for i in keep) for row in rows)


@contextmanager
def configured(env: Mapping[str, str]) -> Iterator[None]:
    """The configuration a user of the export sets, for the load and for dbt."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield


def run(drop: Path, home: Path, env: Mapping[str, str] = {}) -> Built:
    """Load ``drop``, ``dbt build``, reconcile; read what the run made."""
    with configured(env):
        load(drop, home)
        dbt_build(home)
    con = connect(home / "warehouse.duckdb")
    try:
        run_checks(con, run_id="variations")
    finally:
        con.close()
    warehouse = home / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        metrics = {
            t: Counter(tuple(map(_plain, r)) for r in con.sql(f"SELECT * FROM {t}").fetchall())
            for t in METRICS
        }
        exceptions = Counter(tuple(map(_plain, r)) for r in con.sql(EXCEPTIONS).fetchall())
        core = {}
        for (table,) in con.sql(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'core' ORDER BY 1"
        ).fetchall():
            rel = con.sql(f"SELECT * FROM core.{table}")
            core[table] = (rel.columns, [tuple(map(_plain, r)) for r in rel.fetchall()])
    finally:
        con.close()
    return Built(warehouse, metrics, exceptions, core)


def variant(base: Path, where: Path, dialects: list[str]) -> tuple[Path, dict[str, str]]:
    """A copy of the baseline drop written in ``dialects``, and the configuration it needs."""
    drop = where / "drop"
    shutil.copytree(base, drop)
    return drop, apply_dialects(drop, dialects, seed=3)


def sample(expected: Counter, actual: Counter, limit: int = 3) -> dict[str, list]:
    return {
        "missing": list((expected - actual).elements())[:limit],
        "unexpected": list((actual - expected).elements())[:limit],
    }


def assert_same(
    expected: Built,
    actual: Built,
    provenance: Mapping[str, set[str]] = {},
    skip: Iterable[str] = (),
) -> None:
    """Metrics, open exceptions and core tables equal, the provenance columns aside."""
    problems = {
        t: sample(expected.metrics[t], actual.metrics[t])
        for t in METRICS
        if expected.metrics[t] != actual.metrics[t]
    }
    if expected.exceptions != actual.exceptions:
        problems["recon.exceptions"] = sample(expected.exceptions, actual.exceptions)
    assert set(expected.core) == set(actual.core)
    for table in sorted(set(expected.core) - set(skip)):
        without = provenance.get(table, set())
        assert expected.core[table][0] == actual.core[table][0], table  # same columns
        if expected.core_rows(table, without) != actual.core_rows(table, without):
            problems[f"core.{table}"] = sample(
                expected.core_rows(table, without), actual.core_rows(table, without)
            )
    assert not problems, json.dumps(problems, indent=1, default=str)[:6000]
    assert sum(expected.metrics["metrics.mrr_monthly"].values()) > 0
    assert sum(expected.exceptions.values()) > 0


def column(built: Built, table: str, name: str) -> list[Any]:
    columns, rows = built.core[table]
    i = columns.index(name)
    return [r[i] for r in rows]


def rewrite(path: Path, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    """Rewrite a JSONL file record by record (``change`` returns None to drop one)."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    kept = [r for r in map(change, records) if r is not None]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    sync_manifest(path.parents[1])  # the exporter's manifest counts what it wrote


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Built]:
    root = tmp_path_factory.mktemp("baseline")
    generate(root / "drop", **SIZE)
    return root / "drop", run(root / "drop", root / "home")


@pytest.fixture(scope="module")
def single_entity(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Built]:
    root = tmp_path_factory.mktemp("single")
    generate(root / "drop", entities=["US"], **SIZE)
    return root / "drop", run(root / "drop", root / "home")


# --- variations ------------------------------------------------------------------------------


def test_legacy_stripe_api_builds_the_same_company(
    baseline: tuple[Path, Built], tmp_path: Path
) -> None:
    """line.type, the subscription's current period and charge.invoice (no invoice payments
    at all) give the same MRR, bridge, exceptions and core rows; each invoice payment is
    synthesised from its charge."""
    base, expected = baseline
    drop, env = variant(base, tmp_path, ["stripe-legacy"])
    assert not (drop / "stripe" / "invoice_payments.jsonl").exists()
    actual = run(drop, tmp_path / "home", env)

    assert_same(expected, actual, PROVENANCE["stripe-legacy"])
    assert set(column(actual, "invoice_payments", "linked_by")) == {"charge_invoice"}
    assert set(column(expected, "invoice_payments", "linked_by")) == {"invoice_payment"}
    assert all(
        i.startswith("charge:ch_") for i in column(actual, "invoice_payments", "invoice_payment_id")
    )


def test_usage_on_a_meter_no_price_uses_is_kept_apart(
    baseline: tuple[Path, Built], tmp_path: Path
) -> None:
    """A second meter (storage_gb) with events for metered customers: its usage is in
    core.usage, not billable, and raises no usage_not_billed (it did, once per customer and
    month, when all of a customer's usage was compared with its metered lines)."""
    base, expected = baseline
    drop, env = variant(base, tmp_path, ["unpriced-meter"])
    actual = run(drop, tmp_path / "home", env)

    assert_same(expected, actual, skip=("usage",))
    columns, rows = actual.core["usage"]
    billable = columns.index("is_billable")
    event_name = columns.index("event_name")
    assert all(column(expected, "usage", "is_billable"))
    assert Counter(r for r in rows if r[billable]) == expected.core_rows("usage")
    apart = [r for r in rows if not r[billable]]
    assert apart and {r[event_name] for r in apart} == {"storage_gb"}
    # Comparing all of a customer's usage with its metered lines raises false alarms here.
    con = duckdb.connect(str(actual.warehouse), read_only=True)
    try:
        all_usage_differs = con.sql(
            """
            WITH used AS (
                SELECT billing_customer_id, usage_month, sum(quantity) AS used
                FROM core.usage GROUP BY ALL
            ),
            billed AS (
                SELECT l.billing_customer_id,
                       CAST(date_trunc('month', l.period_start_at) AS DATE) AS usage_month,
                       sum(l.quantity) AS billed
                FROM core.invoice_lines l JOIN core.invoices i USING (invoice_id)
                WHERE l.line_type = 'metered' AND i.status <> 'void' GROUP BY ALL
            )
            SELECT u.billing_customer_id || ':' || strftime(u.usage_month, '%Y-%m')
            FROM used u JOIN billed b USING (billing_customer_id, usage_month)
            WHERE u.usage_month + INTERVAL 1 MONTH
                  <= (SELECT max(exported_at) FROM raw_meta.source_state) - INTERVAL 2 DAY
              AND abs(u.used - b.billed) > 0.005 * greatest(u.used, b.billed)
            """
        ).fetchall()
        flagged = con.sql(
            "SELECT record_id FROM recon.exceptions "
            "WHERE check_id = 'usage_not_billed' AND status = 'open'"
        ).fetchall()
    finally:
        con.close()
    assert {r for (r,) in all_usage_differs} - {r for (r,) in flagged}


def test_15_character_ids_and_rates_without_ids_build_the_same_company(
    baseline: tuple[Path, Built], tmp_path: Path
) -> None:
    """Salesforce ids pasted in 15 characters resolve to the same Accounts and Opportunities;
    currencyrate rows without id, and without the rows of the account's other base
    currencies (GBP and EUR bases), give the same rates into USD."""
    base, expected = baseline
    drop, env = variant(base, tmp_path, ["sf-15", "ns-rate-no-id"])
    pasted = [
        json.loads(line)["metadata"].get("salesforce_account_id")
        for line in (drop / "stripe" / "customers.jsonl").read_text().splitlines()
    ]
    assert any(v and len(v) == 15 for v in pasted)
    usd = next(
        r["id"]
        for r in map(json.loads, (drop / "netsuite" / "currency.jsonl").read_text().splitlines())
        if r["symbol"] == "USD"
    )
    rewrite(
        drop / "netsuite" / "currencyrate.jsonl", lambda r: r if r["basecurrency"] == usd else None
    )
    actual = run(drop, tmp_path / "home", env)

    # core.fx_rates lists every (base, currency) pair the export holds: only USD's remain
    assert_same(expected, actual, skip=("fx_rates",))
    assert {b for b in column(actual, "fx_rates", "base_currency")} == {"USD"}
    usd_rows = Counter(r for r in expected.core_rows("fx_rates") if r[1] == "USD")
    assert actual.core_rows("fx_rates") == usd_rows


def test_single_entity_without_multi_currency_or_oneworld_builds_the_same_company(
    single_entity: tuple[Path, Built], tmp_path: Path
) -> None:
    """A US company whose Salesforce org has no CurrencyIsoCode and whose NetSuite account
    has no subsidiaries: the currency and the entity come from configuration."""
    base, expected = single_entity
    drop, env = variant(base, tmp_path, ["sf-single-currency", "ns-no-oneworld"])
    assert not (drop / "netsuite" / "subsidiary.jsonl").exists()
    assert env["REVOPS_SALESFORCE_ORG_CURRENCY"] == "USD"
    assert env["REVOPS_NETSUITE_ENTITY"] == "US"
    actual = run(drop, tmp_path / "home", env)

    assert_same(expected, actual, PROVENANCE["single-entity"])
    assert column(actual, "entities", "defined_by") == ["configuration"]
    assert column(actual, "entities", "subsidiary_id") == [None]
    assert set(column(actual, "customers", "entity")) == {"US"}
    assert set(column(actual, "contracts", "currency")) == {"USD"}


def test_the_org_currency_defaults_to_the_reporting_currency(
    single_entity: tuple[Path, Built], tmp_path: Path
) -> None:
    """Without REVOPS_SALESFORCE_ORG_CURRENCY the org currency is the reporting currency;
    the configured one wins (here: a deliberately different one shows in the contracts)."""
    base, _ = single_entity
    drop, _ = variant(base, tmp_path, ["sf-single-currency"])
    home = tmp_path / "home"
    with configured({"REVOPS_SALESFORCE_ORG_CURRENCY": "EUR"}):
        load(drop, home)
        proc = dbt(home, "run", "--select", "+contracts")
    assert proc.returncode == 0, proc.stdout[-3000:]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        assert con.sql("SELECT DISTINCT currency FROM core.contracts").fetchall() == [("EUR",)]
    finally:
        con.close()
    proc = dbt(home, "run", "--select", "+contracts")
    assert proc.returncode == 0, proc.stdout[-3000:]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        assert con.sql("SELECT DISTINCT currency FROM core.contracts").fetchall() == [("USD",)]
    finally:
        con.close()


def test_a_missing_fx_rate_fails_with_the_currency_and_months(
    baseline: tuple[Path, Built], tmp_path: Path
) -> None:
    """EUR rates into USD start late: fx_rate_available_for_mrr fails, and its failing rows
    (as --store-failures keeps them) name EUR and exactly the months valued without a rate."""
    base, _ = baseline
    drop = tmp_path / "drop"
    shutil.copytree(base, drop)
    ids = {
        r["symbol"]: r["id"]
        for r in map(json.loads, (drop / "netsuite" / "currency.jsonl").read_text().splitlines())
    }
    cutoff = "2025-12-15"
    rewrite(
        drop / "netsuite" / "currencyrate.jsonl",
        lambda r: (
            None
            if (r["basecurrency"], r["transactioncurrency"]) == (ids["USD"], ids["EUR"])
            and r["effectivedate"] < cutoff
            else r
        ),
    )
    home = tmp_path / "home"
    load(drop, home)
    proc = dbt(home, "build")
    assert proc.returncode != 0
    results = json.loads((home / "dbt-target" / "run_results.json").read_text())["results"]
    failed = {r["unique_id"].split(".")[2] for r in results if r["status"] in ("fail", "error")}
    assert "fx_rate_available_for_mrr" in failed

    proc = dbt(home, "test", "--select", "fx_rate_available_for_mrr", "--store-failures")
    assert proc.returncode != 0
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        rel = con.sql("SELECT * FROM dbt_test__audit.fx_rate_available_for_mrr ORDER BY month")
        columns, rows = rel.columns, rel.fetchall()
        needing = con.sql(
            """
            SELECT DISTINCT month FROM intermediate.int_mrr_customer_currency_months
            WHERE currency = 'EUR' AND fx_rate_date < DATE '2025-12-15' ORDER BY month
            """
        ).fetchall()
    finally:
        con.close()
    assert columns == [
        "currency",
        "reporting_currency",
        "month",
        "rate_date",
        "first_rate_date",
        "customers",
        "mrr",
    ]
    assert rows and {(r[0], r[1]) for r in rows} == {("EUR", "USD")}
    assert [(r[2],) for r in rows] == needing
    assert all(str(r[4]) >= cutoff and r[3] < r[4] and r[5] > 0 for r in rows)
