"""Export dialects: the same sandbox company written as other exporters write it.

Each dialect is applied to a real generated drop and compared, record by record, with the
drop before it: it changes what it says it changes and nothing else, the manifest keeps
counting the files' records, and truth/ stays byte-identical.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from drops import QuietCompany

from connectors.sandbox import generate
from connectors.sandbox.dialects import DIALECTS, NETSUITE_COLUMNS, apply_dialects
from connectors.sandbox.ids import salesforce_checksum

SIZE: QuietCompany = {"customers": 40, "months": 12, "seed": 42, "progress": False}
SYSTEMS = ("salesforce", "stripe", "netsuite")
CONDITIONAL = {"sf-single-currency", "ns-no-oneworld"}

Records = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default company: three entities, three currencies."""
    out = tmp_path_factory.mktemp("base")
    generate(out, **SIZE)
    return out


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The company with its US entity only."""
    out = tmp_path_factory.mktemp("single")
    generate(out, entities=["US"], **SIZE)
    return out


def copy_of(drop: Path, tmp_path: Path, name: str = "drop") -> Path:
    target = tmp_path / name
    shutil.copytree(drop, target)
    return target


def data_files(drop: Path) -> list[Path]:
    return sorted(p for s in SYSTEMS if (drop / s).is_dir() for p in (drop / s).iterdir())


def raw_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.name.endswith(".gz") else data).decode("utf-8")


def read(drop: Path) -> Records:
    """Every data file's records, keyed ``system/name.jsonl`` (``.gz`` dropped)."""
    out: Records = {}
    for path in data_files(drop):
        text = raw_text(path).removeprefix("\ufeff")
        key = f"{path.parent.name}/{path.name.removesuffix('.gz')}"
        out[key] = [json.loads(line) for line in text.splitlines() if line.strip()]
    return out


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def manifest(drop: Path) -> dict[str, Any]:
    return json.loads((drop / "manifest.json").read_text(encoding="utf-8"))


def walk(value: Any, fn: Callable[[dict], dict]) -> Any:
    if isinstance(value, dict):
        return fn({k: walk(v, fn) for k, v in value.items()})
    if isinstance(value, list):
        return [walk(v, fn) for v in value]
    return value


def has_null_member(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or has_null_member(v) for v in value.values())
    if isinstance(value, list):
        return any(has_null_member(v) for v in value)
    return False


def apply(base: Path, tmp_path: Path, *names: str, seed: int = 0) -> tuple[Path, dict]:
    drop = copy_of(base, tmp_path)
    config = apply_dialects(drop, list(names), seed=seed)
    return drop, config


def assert_consistent(drop: Path, baseline: Path, config: dict[str, str]) -> None:
    """Manifest counts equal the files' records; truth unchanged; config written."""
    listed = manifest(drop)["files"]
    on_disk = {str(p.relative_to(drop)) for p in data_files(drop)}
    assert set(listed) == on_disk
    for rel, count in listed.items():
        text = raw_text(drop / rel).removeprefix("\ufeff")
        assert sum(1 for line in text.splitlines() if line.strip()) == count, rel
    before = {k: v for k, v in digest(baseline / "truth").items() if k != "config.json"}
    after = digest(drop / "truth")
    assert {k: after[k] for k in before} == before
    assert json.loads((drop / "truth" / "config.json").read_text(encoding="utf-8")) == config


# --- names and contract ------------------------------------------------------------------


def test_dialect_names_are_the_contract() -> None:
    assert set(DIALECTS) == {
        "stripe-legacy",
        "omit-nulls",
        "shuffle-keys",
        "oldest-first",
        "sf-15",
        "sf-modstamp-z",
        "sf-single-currency",
        "ns-minimal",
        "ns-rate-no-id",
        "ns-no-oneworld",
        "crlf",
        "bom",
        "trailing-blank",
        "gzip",
        "link-fields",
        "unpriced-meter",
    }
    order = list(DIALECTS)
    # Content first, then the file encodings, gzip last.
    assert order[-5:] == ["oldest-first", "crlf", "bom", "trailing-blank", "gzip"]
    assert all(isinstance(d, str) and d for d in DIALECTS.values())


def test_unknown_names_are_refused_and_nothing_changes(base: Path, tmp_path: Path) -> None:
    drop = copy_of(base, tmp_path)
    before = digest(drop)
    with pytest.raises(ValueError, match="valid dialects are all, stripe-legacy") as err:
        apply_dialects(drop, ["gzip", "utf16"])
    assert "utf16" in str(err.value)
    assert digest(drop) == before


@pytest.mark.parametrize("name", sorted(CONDITIONAL))
def test_single_entity_dialects_refuse_a_three_entity_drop(
    base: Path, tmp_path: Path, name: str
) -> None:
    drop = copy_of(base, tmp_path)
    before = digest(drop)
    with pytest.raises(ValueError, match=name):
        apply_dialects(drop, [name, "gzip"])
    assert digest(drop) == before
    with pytest.raises(ValueError, match="one entity"):
        generate(tmp_path / "gen", dialects=[name], **SIZE)


# --- the generator --------------------------------------------------------------------


def test_default_generation_is_unchanged(base: Path, tmp_path: Path) -> None:
    generate(tmp_path / "all3", entities=["DE", "us", "UK"], **SIZE)
    generate(tmp_path / "again", **SIZE)
    assert digest(tmp_path / "all3") == digest(base) == digest(tmp_path / "again")
    m = manifest(base)
    assert "dialects" not in m and "entities" not in m
    assert len(m["files"]) == 26 and all(k.endswith(".jsonl") for k in m["files"])
    assert not (base / "truth" / "config.json").exists()


def test_single_entity_company(single: Path) -> None:
    r = read(single)
    assert manifest(single)["entities"] == ["US"]
    assert r["netsuite/subsidiary.jsonl"] == [
        {
            "links": [],
            "id": "1",
            "name": "Northbeam Software Inc.",
            "currency": "1",
            "country": "US",
        }
    ]
    assert [(c["symbol"], c["isbasecurrency"]) for c in r["netsuite/currency.jsonl"]] == [
        ("USD", "T")
    ]
    assert r["netsuite/currencyrate.jsonl"] == []
    assert {
        x["CurrencyIsoCode"] for f in ("Account", "Opportunity") for x in r[f"salesforce/{f}.jsonl"]
    } == {"USD"}
    assert {c["currency"] for c in r["stripe/customers.jsonl"]} == {"usd"}
    assert {t["currency"] for t in r["netsuite/transaction.jsonl"]} == {"1"}
    assert {x["subsidiary"] for x in r["netsuite/transactionline.jsonl"]} == {"1"}
    assert {x["subsidiary"] for x in r["netsuite/customer.jsonl"]} == {"1"}
    journals = [t for t in r["netsuite/transaction.jsonl"] if t["type"] == "Journal"]
    assert journals and len(journals) == len({t["trandate"] for t in journals})  # one a month
    with pytest.raises(ValueError, match="unknown entity FR"):
        generate(single.parent / "fr", entities=["FR"], **SIZE)


def test_generate_applies_dialects(tmp_path: Path) -> None:
    summary = generate(tmp_path / "d", entities=["UK"], dialects=["ns-no-oneworld", "gzip"], **SIZE)
    m = manifest(tmp_path / "d")
    assert m["entities"] == ["UK"] and m["dialects"] == ["ns-no-oneworld", "gzip"]
    assert summary["files"] == m["files"]
    assert (
        "netsuite/subsidiary.jsonl" not in m["files"] and "stripe/invoices.jsonl.gz" in m["files"]
    )
    assert summary["dialects"] == "ns-no-oneworld,gzip"
    assert "REVOPS_NETSUITE_ENTITY=UK" in summary["config"]


# --- each dialect ----------------------------------------------------------------------


def unchanged_except(before: Records, after: Records, *keys: str) -> None:
    assert set(before) - set(keys) <= set(after)
    for key in set(before) - set(keys):
        assert after[key] == before[key], key


def test_stripe_legacy(base: Path, tmp_path: Path) -> None:
    drop, config = apply(base, tmp_path, "stripe-legacy")
    before, after = read(base), read(drop)
    assert config == {}
    assert "stripe/invoice_payments.jsonl" not in after
    assert not (drop / "stripe" / "invoice_payments.jsonl").exists()
    changed = ("stripe/invoices.jsonl", "stripe/charges.jsonl", "stripe/subscriptions.jsonl")
    unchanged_except(before, after, *changed, "stripe/invoice_payments.jsonl")
    prices = {p["id"]: p for p in before["stripe/prices.jsonl"]}
    pays = before["stripe/invoice_payments.jsonl"]
    invoice_of = {p["payment"]["charge"]: p["invoice"] for p in pays}
    paid_by = {p["invoice"]: p["payment"]["charge"] for p in pays if p["status"] == "paid"}

    old_invoices = before["stripe/invoices.jsonl"]
    new_invoices = after["stripe/invoices.jsonl"]
    assert [i["id"] for i in new_invoices] == [i["id"] for i in old_invoices]
    kinds = set()
    for old, new in zip(old_invoices, new_invoices, strict=True):
        assert "parent" not in new and "total_taxes" not in new
        parent = old["parent"]
        assert new["subscription"] == (
            parent["subscription_details"]["subscription"] if parent else None
        )
        assert new["paid"] is (old["status"] == "paid")
        assert new["charge"] == paid_by.get(old["id"])
        assert new["total_tax_amounts"] == old["total_taxes"]
        rest = {k for k in old if k not in ("parent", "total_taxes", "subscription", "lines")}
        assert {k: new[k] for k in rest} == {k: old[k] for k in rest}
        for o, n in zip(old["lines"]["data"], new["lines"]["data"], strict=True):
            assert "pricing" not in n and "parent" not in n and "taxes" not in n
            assert n["price"] == prices[o["pricing"]["price_details"]["price"]]
            assert n["tax_amounts"] == o["taxes"]
            details = o["parent"]["subscription_item_details"]
            if o["parent"]["type"] == "subscription_item_details":
                # a proration was an invoice item naming its subscription item
                assert n["type"] == ("invoiceitem" if details["proration"] else "subscription")
                assert n["proration"] is details["proration"]
                assert n["subscription"] == details["subscription"]
                assert n["subscription_item"] == details["subscription_item"]
            else:
                assert n["type"] == "invoiceitem" and n["proration"] is False
                assert n["subscription"] is None and n["subscription_item"] is None
            kinds.add((n["type"], n["proration"]))
            same = set(o) - {"pricing", "parent", "taxes", "subscription"}
            assert {k: n[k] for k in same} == {k: o[k] for k in same}
    assert {("subscription", False), ("invoiceitem", True), ("invoiceitem", False)} <= kinds
    assert any(i["subscription"] for i in new_invoices) and any(i["charge"] for i in new_invoices)

    for old, new in zip(before["stripe/charges.jsonl"], after["stripe/charges.jsonl"], strict=True):
        assert new == old | {"invoice": invoice_of[old["id"]]}
    for old, new in zip(
        before["stripe/subscriptions.jsonl"], after["stripe/subscriptions.jsonl"], strict=True
    ):
        item = old["items"]["data"][0]
        assert new["current_period_start"] == item["current_period_start"]
        assert new["current_period_end"] == item["current_period_end"]
        for it in new["items"]["data"]:
            assert "current_period_start" not in it and "current_period_end" not in it
        others = {k: v for k, v in new.items() if not k.startswith("current_period")}
        assert others | {"items": old["items"]} == old
    assert_consistent(drop, base, config)


def test_omit_nulls(base: Path, tmp_path: Path) -> None:
    drop, config = apply(base, tmp_path, "omit-nulls")
    before, after = read(base), read(drop)
    strip = lambda d: {k: v for k, v in d.items() if v is not None}  # noqa: E731
    for key, records in before.items():
        if key.startswith("netsuite/"):
            assert after[key] == records
        else:
            assert after[key] == [walk(r, strip) for r in records], key
            assert not any(has_null_member(r) for r in after[key])
    assert any(has_null_member(r) for r in before["stripe/invoices.jsonl"])
    assert_consistent(drop, base, config)


def test_shuffle_keys(base: Path, tmp_path: Path) -> None:
    drop, config = apply(base, tmp_path, "shuffle-keys", seed=1)
    before, after = read(base), read(drop)
    assert after == before  # the same objects (dicts compare without order) ...
    for key, records in before.items():  # ... with their keys in another order
        moved = sum(list(a) != list(b) for a, b in zip(after[key], records, strict=True))
        assert moved >= 0.9 * len(records), key
    nested = after["stripe/invoices.jsonl"][0]["lines"]["data"][0]
    original = before["stripe/invoices.jsonl"][0]["lines"]["data"][0]
    assert list(nested) != list(original)
    again, _ = apply(base, tmp_path / "again", "shuffle-keys", seed=1)
    other, _ = apply(base, tmp_path / "other", "shuffle-keys", seed=2)
    assert digest(again) == digest(drop) != digest(other)
    assert_consistent(drop, base, config)


def test_oldest_first(base: Path, tmp_path: Path) -> None:
    drop, config = apply(base, tmp_path, "oldest-first")
    before, after = read(base), read(drop)
    assert after == {k: v[::-1] for k, v in before.items()}
    assert after["stripe/invoices.jsonl"] != before["stripe/invoices.jsonl"]
    assert_consistent(drop, base, config)


def test_sf_15(base: Path, tmp_path: Path) -> None:
    drop, config = apply(base, tmp_path, "sf-15")
    before, after = read(base), read(drop)
    unchanged_except(before, after, "stripe/customers.jsonl", "stripe/subscriptions.jsonl")
    seen = 0
    for key, field in (
        ("stripe/customers.jsonl", "salesforce_account_id"),
        ("stripe/subscriptions.jsonl", "salesforce_opportunity_id"),
    ):
        for old, new in zip(before[key], after[key], strict=True):
            value = old["metadata"].get(field)
            if value:
                seen += 1
                assert new["metadata"][field] == value[:15]
                assert len(new["metadata"][field]) == 15
            assert {k: v for k, v in new.items() if k != "metadata"} == {
                k: v for k, v in old.items() if k != "metadata"
            }
    assert seen > 40
    accounts = {a["Id"] for a in before["salesforce/Account.jsonl"]}
    linked = [c["metadata"].get("salesforce_account_id") for c in after["stripe/customers.jsonl"]]
    assert sum(v[:15] + salesforce_checksum(v[:15]) in accounts for v in linked if v) > 30
    assert_consistent(drop, base, config)


def test_sf_modstamp_z(base: Path, tmp_path: Path) -> None:
    drop, config = apply(base, tmp_path, "sf-modstamp-z")
    before, after = read(base), read(drop)

    def back(d: dict) -> dict:
        return {
            k: v[:-1] + "+0000" if isinstance(v, str) and z.fullmatch(v) else v
            for k, v in d.items()
        }

    z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
    for key, records in before.items():
        if key.startswith("salesforce/"):
            text = json.dumps(after[key])
            assert "+0000" not in text
            assert [walk(r, back) for r in after[key]] == records
        else:
            assert after[key] == records
    assert after["salesforce/Account.jsonl"][0]["SystemModstamp"].endswith(".000Z")
    assert after["salesforce/Contract.jsonl"][0]["ActivatedDate"].endswith(".000Z")
    assert_consistent(drop, base, config)


def test_sf_single_currency(single: Path, tmp_path: Path) -> None:
    drop, config = apply(single, tmp_path, "sf-single-currency")
    before, after = read(single), read(drop)
    assert config == {"REVOPS_SALESFORCE_ORG_CURRENCY": "USD"}
    strip = lambda d: {k: v for k, v in d.items() if k != "CurrencyIsoCode"}  # noqa: E731
    for key, records in before.items():
        expected = [strip(r) for r in records] if key.startswith("salesforce/") else records
        assert after[key] == expected
    assert "CurrencyIsoCode" not in json.dumps(after)
    assert_consistent(drop, single, config)


def test_ns_minimal(base: Path, tmp_path: Path) -> None:
    drop, config = apply(base, tmp_path, "ns-minimal")
    before, after = read(base), read(drop)
    for key, records in before.items():
        if not key.startswith("netsuite/"):
            assert after[key] == records
            continue
        allowed = NETSUITE_COLUMNS[key.split("/")[1].removesuffix(".jsonl")]
        assert after[key] == [{k: v for k, v in r.items() if k in allowed} for r in records]
        assert all("links" not in r for r in after[key])
    assert all("id" not in r for r in after["netsuite/currencyrate.jsonl"])
    assert all("id" in r for r in after["netsuite/transaction.jsonl"])
    assert set(after["netsuite/previoustransactionlinelink.jsonl"][0]) == {
        "previousdoc",
        "previousline",
        "nextdoc",
        "nextline",
        "linktype",
        "foreignamount",
    }
    assert_consistent(drop, base, config)


def test_ns_rate_no_id(base: Path, tmp_path: Path) -> None:
    drop, config = apply(base, tmp_path, "ns-rate-no-id")
    before, after = read(base), read(drop)
    unchanged_except(before, after, "netsuite/currencyrate.jsonl")
    rates = before["netsuite/currencyrate.jsonl"]
    assert after["netsuite/currencyrate.jsonl"] == [
        {k: v for k, v in r.items() if k != "id"} for r in rates
    ]
    assert_consistent(drop, base, config)


def test_ns_no_oneworld(single: Path, tmp_path: Path) -> None:
    drop, config = apply(single, tmp_path, "ns-no-oneworld")
    before, after = read(single), read(drop)
    assert config == {
        "REVOPS_NETSUITE_ENTITY": "US",
        "REVOPS_NETSUITE_ENTITY_NAME": "Northbeam Software Inc.",
        "REVOPS_NETSUITE_ENTITY_COUNTRY": "US",
    }
    assert "netsuite/subsidiary.jsonl" not in after
    assert "netsuite/subsidiary.jsonl" not in manifest(drop)["files"]
    for key, records in before.items():
        if key == "netsuite/subsidiary.jsonl":
            continue
        strip = key.startswith("netsuite/")
        assert after[key] == [
            {k: v for k, v in r.items() if not (strip and k == "subsidiary")} for r in records
        ]
    assert all("subsidiary" not in r for k, v in after.items() if "netsuite" in k for r in v)
    assert_consistent(drop, single, config)


def test_link_fields(base: Path, tmp_path: Path) -> None:
    drop, config = apply(base, tmp_path, "link-fields")
    before, after = read(base), read(drop)
    assert config == {
        "REVOPS_STRIPE_ACCOUNT_LINK_KEY": "sfdc_account_id",
        "REVOPS_STRIPE_OPPORTUNITY_LINK_KEY": "sfdc_opportunity_id",
        "REVOPS_NETSUITE_CUSTOMER_LINK_FIELD": "custentity_stripe_customer_id",
        "REVOPS_NETSUITE_TRANSACTION_LINK_FIELD": "custbody_stripe_id",
    }
    renames = {
        "stripe/customers.jsonl": ("salesforce_account_id", "sfdc_account_id"),
        "stripe/subscriptions.jsonl": ("salesforce_opportunity_id", "sfdc_opportunity_id"),
        "netsuite/customer.jsonl": ("externalid", "custentity_stripe_customer_id"),
        "netsuite/transaction.jsonl": ("externalid", "custbody_stripe_id"),
    }
    unchanged_except(before, after, *renames)

    def renamed(d: dict, old: str, new: str) -> dict:
        return {new if k == old else k: v for k, v in d.items()}

    for key, (old, new) in renames.items():
        for o, n in zip(before[key], after[key], strict=True):
            if key.startswith("stripe/"):
                assert n == o | {"metadata": renamed(o["metadata"], old, new)}
            else:
                assert n == renamed(o, old, new) and "externalid" not in n
                assert n.get("memo") == o.get("memo")
    assert sum("sfdc_account_id" in c["metadata"] for c in after["stripe/customers.jsonl"]) > 30
    assert_consistent(drop, base, config)


def test_unpriced_meter(base: Path, tmp_path: Path) -> None:
    drop, config = apply(base, tmp_path, "unpriced-meter")
    before, after = read(base), read(drop)
    unchanged_except(before, after, "stripe/billing_meters.jsonl", "stripe/meter_events.jsonl")
    old_meters, meters = before["stripe/billing_meters.jsonl"], after["stripe/billing_meters.jsonl"]
    assert meters[:-1] == old_meters and len(meters) == 2
    meter = meters[-1]
    assert list(meter) == list(old_meters[0])
    assert re.fullmatch(r"mtr_[0-9A-Za-z]{24}", meter["id"]) and meter["id"] != old_meters[0]["id"]
    assert meter["event_name"] == "storage_gb"
    assert meter["default_aggregation"] == {"formula": "sum"}
    assert all(
        (p.get("recurring") or {}).get("meter") != meter["id"] for p in after["stripe/prices.jsonl"]
    )

    old_events, events = before["stripe/meter_events.jsonl"], after["stripe/meter_events.jsonl"]
    assert events[: len(old_events)] == old_events
    added = events[len(old_events) :]
    assert added and all(e["event_name"] == "storage_gb" for e in added)
    assert all(list(e) == list(old_events[0]) for e in added)
    assert all(list(e["payload"]) == list(old_events[0]["payload"]) for e in added)
    assert len({e["identifier"] for e in events}) == len(events)
    exported = int(datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC).timestamp())
    start = int(datetime(2025, 7, 1, tzinfo=UTC).timestamp())  # 12 months to June 2026
    assert all(
        start <= e["timestamp"] <= exported and e["created"] == e["timestamp"] for e in added
    )
    metered = {
        s["customer"]
        for s in before["stripe/subscriptions.jsonl"]
        if s["items"]["data"][0]["price"]["recurring"]["usage_type"] == "metered"
    }
    customers = {e["payload"]["stripe_customer_id"] for e in added}
    assert customers <= metered and 1 <= len(customers) <= max(1, round(len(metered) / 3))
    assert_consistent(drop, base, config)


# --- file encodings ----------------------------------------------------------------------


def test_crlf_bom_trailing_blank(base: Path, tmp_path: Path) -> None:
    for name, check in (
        ("crlf", lambda t: t.count("\n") == t.count("\r\n") > 0),
        ("bom", lambda t: t.startswith("\ufeff{") and t.count("\ufeff") == 1),
        ("trailing-blank", lambda t: t.endswith("}\n\n")),
    ):
        drop, config = apply(base, tmp_path / name, name)
        assert read(drop) == read(base)
        for path in data_files(drop):
            text = raw_text(path)
            if path.stat().st_size > 4:
                assert check(text), (name, path)
        assert manifest(drop)["dialects"] == [name]
        assert_consistent(drop, base, config)
    text = raw_text(tmp_path / "trailing-blank" / "drop" / "stripe" / "invoices.jsonl")
    assert text.splitlines()[-1] == "" and text.splitlines()[-2].startswith("{")


def test_gzip(base: Path, tmp_path: Path) -> None:
    drop, config = apply(base, tmp_path, "gzip")
    assert read(drop) == read(base)
    files = data_files(drop)
    assert files and all(p.name.endswith(".jsonl.gz") for p in files)
    assert set(manifest(drop)["files"]) == {k + ".gz" for k in manifest(base)["files"]}
    for path in files:
        header = path.read_bytes()[:10]
        assert header[:2] == b"\x1f\x8b" and header[4:8] == b"\0\0\0\0"  # mtime 0
    plain = {p.name: p.read_bytes() for p in data_files(base)}
    assert all(gzip.decompress(p.read_bytes()) == plain[p.stem] for p in files)
    assert_consistent(drop, base, config)


def test_dialects_combine_across_calls(base: Path, tmp_path: Path) -> None:
    drop = copy_of(base, tmp_path)
    apply_dialects(drop, ["gzip"])
    apply_dialects(drop, ["crlf", "gzip", "link-fields"])
    assert manifest(drop)["dialects"] == ["link-fields", "crlf", "gzip"]
    text = raw_text(drop / "netsuite" / "transaction.jsonl.gz")
    assert text.endswith("\r\n") and "custbody_stripe_id" in text
    assert_consistent(drop, base, json.loads((drop / "truth" / "config.json").read_text()))


# --- all -------------------------------------------------------------------------------


def test_all_on_a_three_entity_drop(base: Path, tmp_path: Path) -> None:
    drop, config = apply(base, tmp_path, "all", seed=3)
    assert manifest(drop)["dialects"] == [n for n in DIALECTS if n not in CONDITIONAL]
    after = read(drop)
    assert "stripe/invoice_payments.jsonl" not in after
    for path in data_files(drop):
        raw = gzip.decompress(path.read_bytes()).decode("utf-8")
        assert (raw.startswith("\ufeff") and raw.endswith("\r\n\r\n")) or raw == "\ufeff\r\n"
    for key, records in after.items():
        if not key.startswith("netsuite/"):
            assert not any(has_null_member(r) for r in records)
        else:
            assert all("links" not in r for r in records)
    invoices = after["stripe/invoices.jsonl"]
    assert all("parent" not in i and "paid" in i for i in invoices)
    assert any(m["event_name"] == "storage_gb" for m in after["stripe/billing_meters.jsonl"])
    linked = [
        c["metadata"]["sfdc_account_id"]
        for c in after["stripe/customers.jsonl"]
        if "sfdc_account_id" in c["metadata"]
    ]
    assert linked and all(len(v) == 15 for v in linked)
    assert all(
        "custbody_stripe_id" in t
        for t in after["netsuite/transaction.jsonl"]
        if t["type"] != "Journal"
    )
    assert set(config) == {
        "REVOPS_STRIPE_ACCOUNT_LINK_KEY",
        "REVOPS_STRIPE_OPPORTUNITY_LINK_KEY",
        "REVOPS_NETSUITE_CUSTOMER_LINK_FIELD",
        "REVOPS_NETSUITE_TRANSACTION_LINK_FIELD",
    }
    # The records are the oldest-first order of the content dialects' result.
    newest_first = read(base)["stripe/invoices.jsonl"]
    assert [i["id"] for i in invoices] == [i["id"] for i in newest_first][::-1]
    assert_consistent(drop, base, config)


def test_all_on_a_single_entity_drop(single: Path, tmp_path: Path) -> None:
    drop, config = apply(single, tmp_path, "all", seed=3)
    assert manifest(drop)["dialects"] == list(DIALECTS)
    after = read(drop)
    assert "netsuite/subsidiary.jsonl" not in after
    assert config["REVOPS_SALESFORCE_ORG_CURRENCY"] == "USD"
    assert config["REVOPS_NETSUITE_ENTITY"] == "US"
    assert "CurrencyIsoCode" not in json.dumps(after["salesforce/Opportunity.jsonl"])
    assert_consistent(drop, single, config)
