"""The same company written in other export dialects (docs/source-systems.md, "What real
exports vary in").

``apply_dialects(drop_dir, names)`` rewrites a generated drop in place so that it is the same
company as another exporter would have written it: Stripe objects under an API version before
2025-03-31, null fields omitted, keys in any order, Salesforce ids in their 15-character form,
an org without multi-currency, a NetSuite account without OneWorld, CRLF line endings, a
byte-order mark, gzipped files, link fields under other names... Dialects combine; they are
applied in ``DIALECTS`` order (content first, then the file encodings, ``gzip`` last).

``truth/`` is never changed: whatever the dialect, the pipeline must produce the same truth.
What a user of such an export would configure (environment variable -> value) is returned,
written to ``truth/config.json`` and the dialects are listed in ``manifest.json``
(``"dialects"``), whose ``"files"`` counts follow the rewritten files.

>>> list(DIALECTS)[:3]
['stripe-legacy', 'unpriced-meter', 'sf-15']
"""

from __future__ import annotations

import calendar
import copy
import gzip
import json
import random
import re
import string
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.sandbox.catalog import ENTITIES

__all__ = ["DIALECTS", "ENCODING_DIALECTS", "apply_dialects", "check_dialect_names"]

DIALECTS: dict[str, str] = {
    "stripe-legacy": "Stripe objects under API version 2024-06-20: invoice.subscription, "
    "invoice.charge, line.price, line.proration, charge.invoice; no invoice_payments",
    "unpriced-meter": "a second Stripe billing meter (storage_gb) with meter events that no "
    "price bills",
    "sf-15": "Salesforce ids in Stripe metadata pasted in their 15-character form",
    "sf-modstamp-z": "Salesforce datetimes written with Z instead of +0000",
    "sf-single-currency": "a Salesforce org without multi-currency: no CurrencyIsoCode",
    "ns-minimal": "NetSuite rows with only the documented columns (no links)",
    "ns-rate-no-id": "NetSuite currencyrate rows without id",
    "ns-no-oneworld": "a NetSuite account without OneWorld: no subsidiary table or column",
    "link-fields": "the cross-system link fields under other names (sfdc_* metadata, "
    "custentity_/custbody_ fields)",
    "omit-nulls": "null fields omitted from Stripe and Salesforce objects",
    "shuffle-keys": "object keys in a random order at every level",
    "oldest-first": "every file's records in reverse order",
    "crlf": "lines ending in CRLF",
    "bom": "files starting with a UTF-8 byte-order mark",
    "trailing-blank": "files ending with an extra empty line",
    "gzip": "files gzipped as <name>.jsonl.gz",
}

# Dialects that change how files are written, not what they hold (applied on writing).
ENCODING_DIALECTS = ("crlf", "bom", "trailing-blank", "gzip")

SYSTEMS = ("salesforce", "stripe", "netsuite")
ALL = "all"

# NetSuite columns docs/source-systems.md lists per table (what the pipeline may rely on).
NETSUITE_COLUMNS: dict[str, tuple[str, ...]] = {
    "subsidiary": ("id", "name", "currency", "country"),
    "currency": ("id", "symbol", "name", "isbasecurrency"),
    "currencyrate": ("basecurrency", "transactioncurrency", "exchangerate", "effectivedate"),
    "accountingperiod": (
        "id",
        "periodname",
        "startdate",
        "enddate",
        "closed",
        "isadjust",
        "isquarter",
        "isyear",
    ),
    "account": ("id", "acctnumber", "fullname", "accttype"),
    "customer": (
        "id",
        "entityid",
        "companyname",
        "externalid",
        "email",
        "subsidiary",
        "currency",
        "datecreated",
        "lastmodifieddate",
    ),
    "transaction": (
        "id",
        "tranid",
        "type",
        "trandate",
        "postingperiod",
        "entity",
        "currency",
        "exchangerate",
        "foreigntotal",
        "status",
        "externalid",
        "memo",
        "posting",
        "voided",
        "createddate",
        "lastmodifieddate",
    ),
    "transactionline": (
        "id",
        "transaction",
        "mainline",
        "taxline",
        "item",
        "quantity",
        "rate",
        "netamount",
        "foreignamount",
        "subsidiary",
        "memo",
    ),
    "transactionaccountingline": (
        "transaction",
        "transactionline",
        "account",
        "amount",
        "debit",
        "credit",
        "posting",
    ),
    "previoustransactionlinelink": (
        "previousdoc",
        "previousline",
        "nextdoc",
        "nextline",
        "linktype",
        "foreignamount",
    ),
}

LINK_CONFIG = {
    "REVOPS_STRIPE_ACCOUNT_LINK_KEY": "sfdc_account_id",
    "REVOPS_STRIPE_OPPORTUNITY_LINK_KEY": "sfdc_opportunity_id",
    "REVOPS_NETSUITE_CUSTOMER_LINK_FIELD": "custentity_stripe_customer_id",
    "REVOPS_NETSUITE_TRANSACTION_LINK_FIELD": "custbody_stripe_id",
}

_SF_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

Record = dict[str, Any]


class _Drop:
    """A drop's data files parsed into memory: ``<system>/<name>.jsonl`` -> records."""

    def __init__(self, root: Path, manifest: dict[str, Any], seed: int) -> None:
        self.root = root
        self.manifest = manifest
        self.seed = seed
        self.files: dict[str, list[Record]] = {}
        self.paths: dict[str, Path] = {}  # where each file was read from
        for system in SYSTEMS:
            folder = root / system
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.name.endswith(".jsonl.gz"):
                    key = f"{system}/{path.name[: -len('.gz')]}"
                    raw = gzip.decompress(path.read_bytes())
                elif path.name.endswith(".jsonl"):
                    key = f"{system}/{path.name}"
                    raw = path.read_bytes()
                else:
                    continue
                text = raw.decode("utf-8-sig")
                self.files[key] = [json.loads(line) for line in text.splitlines() if line.strip()]
                self.paths[key] = path

    def get(self, key: str) -> list[Record]:
        return self.files.get(key, [])

    def of(self, system: str) -> Iterable[tuple[str, list[Record]]]:
        return ((k, v) for k, v in self.files.items() if k.startswith(f"{system}/"))

    def currencies(self) -> set[str]:
        """Every Salesforce ``CurrencyIsoCode`` in the drop."""
        return {
            r["CurrencyIsoCode"]
            for _, records in self.of("salesforce")
            for r in records
            if r.get("CurrencyIsoCode") is not None
        }

    def subsidiaries(self) -> list[Record]:
        return self.get("netsuite/subsidiary.jsonl")


# --- helpers ------------------------------------------------------------------------------


def _insert_after(record: Record, anchor: str, items: dict[str, Any]) -> Record:
    """``record`` with ``items`` placed right after ``anchor`` (at the end without it)."""
    if anchor not in record:
        return record | items
    out: Record = {}
    for key, value in record.items():
        if key in items:
            continue
        out[key] = value
        if key == anchor:
            out.update(items)
    return out


def _rename(record: Record, old: str, new: str) -> Record:
    """``record`` with key ``old`` renamed ``new`` in place (unchanged without it)."""
    if old not in record:
        return record
    return {new if k == old else k: v for k, v in record.items()}


def _walk(value: Any, fn: Callable[[Record], Record]) -> Any:
    """Apply ``fn`` to every object nested in ``value`` (innermost first)."""
    if isinstance(value, dict):
        return fn({k: _walk(v, fn) for k, v in value.items()})
    if isinstance(value, list):
        return [_walk(v, fn) for v in value]
    return value


def _random_id(rng: random.Random, prefix: str, length: int) -> str:
    return prefix + "".join(rng.choice(_BASE62) for _ in range(length))


def _unix(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _month_start(year: int, month: int) -> int:
    return calendar.timegm((year, month, 1, 0, 0, 0))


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    m = year * 12 + month - 1 + n
    return m // 12, m % 12 + 1


# --- content dialects ---------------------------------------------------------------------


def _stripe_legacy(drop: _Drop) -> dict[str, str]:
    """Stripe objects as an account pinned to API version 2024-06-20 exports them."""
    payments = drop.files.pop("stripe/invoice_payments.jsonl", [])
    charge_invoice: dict[str, str | None] = {}
    paying_charge: dict[str | None, str] = {}
    for p in payments:
        payment = p.get("payment") or {}
        charge = payment.get("charge") if payment.get("type") == "charge" else None
        if not charge:
            continue
        charge_invoice[charge] = p.get("invoice")
        if p.get("status") == "paid":
            paying_charge[p.get("invoice")] = charge
    prices = {p["id"]: p for p in drop.get("stripe/prices.jsonl")}

    def line(item: Record) -> Record:
        parent = item.get("parent") or {}
        is_sub = parent.get("type") == "subscription_item_details"
        details = (
            parent.get("subscription_item_details")
            if is_sub
            else parent.get("invoice_item_details")
        ) or {}
        price_id = ((item.get("pricing") or {}).get("price_details") or {}).get("price")
        if price_id is not None and price_id not in prices:
            raise ValueError(
                f"stripe/invoices.jsonl: line {item.get('id')} names price {price_id}, which "
                "stripe/prices.jsonl does not hold; regenerate the drop"
            )
        out: Record = {}
        for key, value in item.items():
            if key == "subscription":
                out["subscription"] = details.get("subscription")
                out["subscription_item"] = details.get("subscription_item") if is_sub else None
            elif key == "taxes":
                out["tax_amounts"] = value
            elif key == "parent":
                proration = bool(details.get("proration")) if is_sub else False
                out["proration"] = proration
                # Before 2025-03-31 a proration was an invoice item (type "invoiceitem")
                # that named its subscription item; only the cycle's own lines were
                # "subscription" lines.
                out["type"] = "subscription" if is_sub and not proration else "invoiceitem"
            elif key == "pricing":
                out["price"] = copy.deepcopy(prices[price_id]) if price_id else None
            else:
                out[key] = value
        for key, value in (
            ("subscription", details.get("subscription")),
            ("subscription_item", details.get("subscription_item") if is_sub else None),
        ):
            out.setdefault(key, value)
        return out

    invoices = []
    for inv in drop.get("stripe/invoices.jsonl"):
        parent = inv.get("parent") or {}
        subscription = (
            (parent.get("subscription_details") or {}).get("subscription")
            if parent.get("type") == "subscription_details"
            else None
        )
        out = {k: v for k, v in inv.items() if k != "parent"}
        out = _insert_after(out, "billing_reason", {"charge": paying_charge.get(inv["id"])})
        out = _insert_after(out, "on_behalf_of", {"paid": inv.get("status") == "paid"})
        if "subscription" in out:
            out["subscription"] = subscription
        else:
            out = _insert_after(out, "status_transitions", {"subscription": subscription})
        out = _rename(out, "total_taxes", "total_tax_amounts")
        lines = out.get("lines")
        if isinstance(lines, dict) and isinstance(lines.get("data"), list):
            out["lines"] = lines | {"data": [line(x) for x in lines["data"]]}
        invoices.append(out)
    if "stripe/invoices.jsonl" in drop.files:
        drop.files["stripe/invoices.jsonl"] = invoices

    if "stripe/charges.jsonl" in drop.files:
        drop.files["stripe/charges.jsonl"] = [
            _insert_after(ch, "fraud_details", {"invoice": charge_invoice.get(ch["id"])})
            for ch in drop.get("stripe/charges.jsonl")
        ]

    subscriptions = []
    for sub in drop.get("stripe/subscriptions.jsonl"):
        items = sub.get("items") or {}
        data = items.get("data") or []
        first = data[0] if data else {}
        period = {
            "current_period_end": first.get("current_period_end"),
            "current_period_start": first.get("current_period_start"),
        }
        stripped = [
            {k: v for k, v in it.items() if k not in period} if isinstance(it, dict) else it
            for it in data
        ]
        out = sub | {"items": items | {"data": stripped}} if data else dict(sub)
        subscriptions.append(_insert_after(out, "currency", period))
    if "stripe/subscriptions.jsonl" in drop.files:
        drop.files["stripe/subscriptions.jsonl"] = subscriptions
    return {}


def _unpriced_meter(drop: _Drop) -> dict[str, str]:
    """A second meter (``storage_gb``) and usage on it that no price bills."""
    rng = random.Random(f"{drop.seed}:unpriced-meter")
    meters = drop.get("stripe/billing_meters.jsonl")
    if not meters:
        raise ValueError(
            "unpriced-meter needs a billing meter to copy: stripe/billing_meters.jsonl is "
            "missing or empty"
        )
    meter = copy.deepcopy(meters[0])
    taken = {m.get("id") for m in meters}
    meter_id = _random_id(rng, "mtr_", 24)
    while meter_id in taken:
        meter_id = _random_id(rng, "mtr_", 24)
    meter.update(
        id=meter_id,
        display_name="Storage (GB)",
        event_name="storage_gb",
        default_aggregation={"formula": "sum"},
    )
    drop.files["stripe/billing_meters.jsonl"] = [*meters, meter]

    exported_at = _unix(drop.manifest["exported_at"])
    through = _unix(drop.manifest.get("through", drop.manifest["exported_at"]))
    end_dt = datetime.fromtimestamp(through, UTC)
    months = int(drop.manifest.get("months", 1))
    first_year, first_month = _add_months(end_dt.year, end_dt.month, -(months - 1))
    horizon_start = _month_start(first_year, first_month)

    spans: dict[str, list[tuple[int, int]]] = {}
    for sub in drop.get("stripe/subscriptions.jsonl"):
        data = (sub.get("items") or {}).get("data") or []
        metered = any(
            ((it.get("price") or {}).get("recurring") or {}).get("usage_type") == "metered"
            for it in data
        )
        if not metered or not sub.get("customer"):
            continue
        start = max(
            int(sub.get("start_date") or sub.get("created") or horizon_start), horizon_start
        )
        end = min(int(sub.get("ended_at") or exported_at), exported_at)
        if start < end:
            spans.setdefault(sub["customer"], []).append((start, end))
    customers = sorted(spans)
    chosen = sorted(rng.sample(customers, max(1, round(len(customers) / 3)))) if customers else []

    events = drop.get("stripe/meter_events.jsonl")
    identifiers = {e.get("identifier") for e in events}
    added: list[Record] = []
    for customer in chosen:
        for start, end in sorted(spans[customer]):
            d = datetime.fromtimestamp(start, UTC)
            year, month = d.year, d.month
            while (month_start := _month_start(year, month)) < end:
                next_year, next_month = _add_months(year, month, 1)
                lo, hi = max(start, month_start), min(end, _month_start(next_year, next_month) - 1)
                for ts in sorted(rng.randint(lo, hi) for _ in range(rng.randint(1, 4))):
                    identifier = _random_id(rng, "mev_", 20)
                    while identifier in identifiers:
                        identifier = _random_id(rng, "mev_", 20)
                    identifiers.add(identifier)
                    added.append(
                        {
                            "created": ts,
                            "event_name": "storage_gb",
                            "identifier": identifier,
                            "livemode": False,
                            "object": "billing.meter_event",
                            "payload": {
                                "stripe_customer_id": customer,
                                "value": str(rng.randint(1, 500)),
                            },
                            "timestamp": ts,
                        }
                    )
                year, month = next_year, next_month
    drop.files["stripe/meter_events.jsonl"] = [*events, *added]
    return {}


def _sf_15(drop: _Drop) -> dict[str, str]:
    """Salesforce ids in Stripe metadata in their 15-character form."""
    for key, field in (
        ("stripe/customers.jsonl", "salesforce_account_id"),
        ("stripe/subscriptions.jsonl", "salesforce_opportunity_id"),
    ):
        for record in drop.get(key):
            metadata = record.get("metadata")
            if isinstance(metadata, dict):
                value = metadata.get(field)
                if isinstance(value, str) and len(value) == 18:
                    metadata[field] = value[:15]
    return {}


def _sf_modstamp_z(drop: _Drop) -> dict[str, str]:
    """Salesforce datetimes ending in ``Z`` instead of ``+0000``."""

    def fix(record: Record) -> Record:
        return {
            k: v[:-5] + "Z" if isinstance(v, str) and _SF_DATETIME.fullmatch(v) else v
            for k, v in record.items()
        }

    for key, records in list(drop.of("salesforce")):
        drop.files[key] = [_walk(r, fix) for r in records]
    return {}


def _sf_single_currency(drop: _Drop) -> dict[str, str]:
    """A Salesforce org without multi-currency: no ``CurrencyIsoCode`` field."""
    currencies = drop.currencies()
    if len(currencies) != 1:
        found = ", ".join(sorted(currencies)) or "none"
        raise ValueError(
            "sf-single-currency needs a drop whose Salesforce records are all in one currency "
            f"(found {found}); generate one with --entities US (or UK, DE)"
        )
    for key, records in list(drop.of("salesforce")):
        drop.files[key] = [{k: v for k, v in r.items() if k != "CurrencyIsoCode"} for r in records]
    return {"REVOPS_SALESFORCE_ORG_CURRENCY": currencies.pop()}


def _ns_minimal(drop: _Drop) -> dict[str, str]:
    """NetSuite rows with only the columns docs/source-systems.md ("NetSuite") lists."""
    for key, records in list(drop.of("netsuite")):
        table = key.split("/", 1)[1].removesuffix(".jsonl")
        keep = NETSUITE_COLUMNS.get(table)
        drop.files[key] = [
            {k: v for k, v in r.items() if k != "links" and (keep is None or k in keep)}
            for r in records
        ]
    return {}


def _ns_rate_no_id(drop: _Drop) -> dict[str, str]:
    """``currencyrate`` rows keyed by their natural key only."""
    key = "netsuite/currencyrate.jsonl"
    if key in drop.files:
        drop.files[key] = [{k: v for k, v in r.items() if k != "id"} for r in drop.files[key]]
    return {}


def _ns_no_oneworld(drop: _Drop) -> dict[str, str]:
    """A NetSuite account without OneWorld: no subsidiary table, no subsidiary column."""
    subsidiaries = drop.subsidiaries()
    if len(subsidiaries) != 1:
        raise ValueError(
            "ns-no-oneworld needs a drop with exactly one NetSuite subsidiary (found "
            f"{len(subsidiaries)}); generate one with --entities US (or UK, DE)"
        )
    sub = subsidiaries[0]
    entity = next(
        (e for e in ENTITIES if str(e.subsidiary_id) == str(sub.get("id"))),
        None,
    ) or next((e for e in ENTITIES if e.country == sub.get("country")), None)
    if entity is None:
        raise ValueError(
            f"ns-no-oneworld: netsuite/subsidiary.jsonl names subsidiary {sub.get('id')} "
            f"({sub.get('name')}), which is none of the sandbox entities"
        )
    del drop.files["netsuite/subsidiary.jsonl"]
    for key, records in list(drop.of("netsuite")):
        drop.files[key] = [{k: v for k, v in r.items() if k != "subsidiary"} for r in records]
    return {
        "REVOPS_NETSUITE_ENTITY": entity.code,
        "REVOPS_NETSUITE_ENTITY_NAME": str(sub.get("name", entity.name)),
        "REVOPS_NETSUITE_ENTITY_COUNTRY": str(sub.get("country", entity.country)),
    }


def _link_fields(drop: _Drop) -> dict[str, str]:
    """The cross-system links under other field names."""
    for key, old, new in (
        ("stripe/customers.jsonl", "salesforce_account_id", "sfdc_account_id"),
        ("stripe/subscriptions.jsonl", "salesforce_opportunity_id", "sfdc_opportunity_id"),
    ):
        for record in drop.get(key):
            if isinstance(record.get("metadata"), dict):
                record["metadata"] = _rename(record["metadata"], old, new)
    for key, new in (
        ("netsuite/customer.jsonl", "custentity_stripe_customer_id"),
        ("netsuite/transaction.jsonl", "custbody_stripe_id"),
    ):
        if key in drop.files:
            drop.files[key] = [_rename(r, "externalid", new) for r in drop.files[key]]
    return dict(LINK_CONFIG)


def _omit_nulls(drop: _Drop) -> dict[str, str]:
    """Null members removed from every Stripe and Salesforce object, at every level."""

    def drop_nulls(record: Record) -> Record:
        return {k: v for k, v in record.items() if v is not None}

    for system in ("stripe", "salesforce"):
        for key, records in list(drop.of(system)):
            drop.files[key] = [_walk(r, drop_nulls) for r in records]
    return {}


def _shuffle_keys(drop: _Drop) -> dict[str, str]:
    """Keys of every object, at every level, in a (seeded) random order."""
    for key, records in (
        list(drop.of("salesforce")) + list(drop.of("stripe")) + list(drop.of("netsuite"))
    ):
        rng = random.Random(f"{drop.seed}:shuffle-keys:{key}")

        def shuffle(record: Record, rng: random.Random = rng) -> Record:
            keys = list(record)
            rng.shuffle(keys)
            return {k: record[k] for k in keys}

        drop.files[key] = [_walk(r, shuffle) for r in records]
    return {}


def _oldest_first(drop: _Drop) -> dict[str, str]:
    """Every file's records in reverse order."""
    for key, records in list(drop.files.items()):
        drop.files[key] = records[::-1]
    return {}


_CONTENT: dict[str, Callable[[_Drop], dict[str, str]]] = {
    "stripe-legacy": _stripe_legacy,
    "unpriced-meter": _unpriced_meter,
    "sf-15": _sf_15,
    "sf-modstamp-z": _sf_modstamp_z,
    "sf-single-currency": _sf_single_currency,
    "ns-minimal": _ns_minimal,
    "ns-rate-no-id": _ns_rate_no_id,
    "ns-no-oneworld": _ns_no_oneworld,
    "link-fields": _link_fields,
    "omit-nulls": _omit_nulls,
    "shuffle-keys": _shuffle_keys,
    "oldest-first": _oldest_first,
}
assert list(_CONTENT) + list(ENCODING_DIALECTS) == list(DIALECTS)


# --- the entry points ---------------------------------------------------------------------


def _split(names: Sequence[str] | str) -> list[str]:
    if isinstance(names, str):
        names = [names]
    return [n.strip() for name in names for n in name.split(",") if n.strip()]


def check_dialect_names(names: Sequence[str] | str) -> list[str]:
    """The dialect names (``all`` allowed; commas split), or ValueError naming the valid ones."""
    wanted = _split(names)
    unknown = [n for n in wanted if n != ALL and n not in DIALECTS]
    if unknown:
        raise ValueError(
            f"unknown dialect {', '.join(repr(n) for n in unknown)}: valid dialects are "
            f"{ALL}, {', '.join(DIALECTS)}"
        )
    return wanted


def _resolve(wanted: list[str], drop: _Drop) -> list[str]:
    """The dialects to apply, in ``DIALECTS`` order; ``all`` is every one that applies."""
    chosen = set(wanted)
    if ALL in chosen:
        chosen.discard(ALL)
        applicable = {
            "sf-single-currency": len(drop.currencies()) == 1,
            "ns-no-oneworld": len(drop.subsidiaries()) == 1,
        }
        chosen |= {n for n in DIALECTS if applicable.get(n, True)}
    return [n for n in DIALECTS if n in chosen]


def _encode(records: list[Record], encodings: set[str]) -> bytes:
    eol = "\r\n" if "crlf" in encodings else "\n"
    text = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + eol for r in records)
    if "trailing-blank" in encodings:
        text += eol
    if "bom" in encodings:
        text = "\ufeff" + text
    data = text.encode("utf-8")
    return gzip.compress(data, compresslevel=9, mtime=0) if "gzip" in encodings else data


def apply_dialects(drop_dir: Path, names: Sequence[str], *, seed: int = 0) -> dict[str, str]:
    """Rewrite the drop at drop_dir in place so it is the same company written in each named
    dialect (combinable, applied in DIALECTS order). Returns the pipeline configuration
    (environment variable -> value) a user of such an export would set; also writes it to
    drop_dir/truth/config.json and records "dialects": [...] in manifest.json.

    ``all`` is every dialect that applies to the drop (``sf-single-currency`` and
    ``ns-no-oneworld`` only on a one-currency / one-subsidiary drop). A dialect the manifest
    already lists is not applied twice. Nothing is written when a dialect refuses the drop
    (ValueError). ``truth/`` is never changed (``config.json`` apart).
    """
    drop_dir = Path(drop_dir)
    wanted = check_dialect_names(names)
    manifest_path = drop_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    drop = _Drop(drop_dir, manifest, seed)
    done = list(manifest.get("dialects", []))
    todo = [n for n in _resolve(wanted, drop) if n not in done]

    config_path = drop_dir / "truth" / "config.json"
    config: dict[str, str] = (
        json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    )
    if not todo:
        return config
    for name in todo:
        if name in _CONTENT:
            config.update(_CONTENT[name](drop))
    applied = [n for n in DIALECTS if n in set(done) | set(todo)]
    encodings = {n for n in applied if n in ENCODING_DIALECTS}

    # Write: every data file in the dialect's encoding, removed files deleted.
    files: dict[str, int] = {}
    for key, records in drop.files.items():
        target = drop_dir / (key + ".gz" if "gzip" in encodings else key)
        data = _encode(records, encodings)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        old = drop.paths.get(key)
        if old is not None and old != target:
            old.unlink(missing_ok=True)
        files[target.relative_to(drop_dir).as_posix()] = len(records)
    for key, old in drop.paths.items():
        if key not in drop.files:
            old.unlink(missing_ok=True)

    # The manifest lists files in its own order, each under its new name.
    order = {k.removesuffix(".gz"): i for i, k in enumerate(manifest.get("files", {}))}
    listed = dict(sorted(files.items(), key=lambda kv: order.get(kv[0].removesuffix(".gz"), 1e9)))
    rest = {k: v for k, v in manifest.items() if k not in ("dialects", "files")}
    manifest = rest | {"dialects": applied, "files": listed}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if config_path.parent.is_dir():
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", "utf-8")
    return config
