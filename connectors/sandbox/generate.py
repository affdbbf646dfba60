"""``generate()``: the sandbox company as a source drop plus its ground truth.

Layout (docs/architecture.md, "Source drop layout"): ``manifest.json``, ``salesforce/``,
``stripe/``, ``netsuite/`` (one JSON object per line, each in its vendor's wire format) and
``truth/`` (``exceptions.csv``, ``mrr.csv``, ``subscription_segments.csv``), which the
pipeline never reads. The same arguments and seed give byte-identical files.

``entities`` (codes of ``catalog.ENTITIES``) limits the company to some of its entities:
accounts are drawn only there, in their currencies; NetSuite's subsidiaries, currencies,
exchange rates and payroll journals follow, and an anomaly that would move a deal or a
posting into a currency the company does not have is injected as an amount mismatch instead.
``dialects`` (``dialects.DIALECTS``) rewrites the finished drop in other export dialects.

Memory: the company's state is built whole, but each system's files are written as soon as
its frames exist (NetSuite, Stripe, then Salesforce) and each frame is let go once written;
the Stripe invoices are built in batches (``stripe_wire.stripe_frames``) and every file is
encoded in chunks (``jsonl.write_jsonl``), so the drop itself is never held in memory.

Incremental drops: the company is generated up to ``through`` (default: ``as_of``) and
exported as seen at ``as_of``; the horizon's ``months`` count back from the through-month.
Two drops with the same seed, customers, months and through are the same company seen at two
instants: every id and every record of the earlier drop is in the later one, and a record
differs only where something happened in between (an invoice finalized, paid or voided, a
deal closed, a posting made...), so ``--as-of D --through D+3`` then ``--as-of D+1
--through D+3`` give a day's activity as a further drop. Truth is computed at the as-of
instant. ``manifest.json`` carries ``through`` when it is after ``exported_at``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from tqdm import tqdm

from connectors.sandbox.anomalies import (
    Truth,
    choose_unlinked_customers,
    inject_postings,
    inject_unbilled_usage,
    mistype,
)
from connectors.sandbox.billing import billing_at, build_billing
from connectors.sandbox.calendar import DAY, month_index, month_start
from connectors.sandbox.catalog import ENTITIES, build_catalog, entity_indexes
from connectors.sandbox.company import build_company, pick
from connectors.sandbox.crm import CrmFrames, apply_contract_mismatch, build_crm, format_crm
from connectors.sandbox.dialects import apply_dialects, check_dialect_names
from connectors.sandbox.erp import ErpFrames, build_erp, posting_plan
from connectors.sandbox.jsonl import write_jsonl
from connectors.sandbox.stripe_wire import StripeFrames, assign_ids, stripe_frames
from connectors.sandbox.timeline import Horizon, timeline_at
from connectors.sandbox.truth import mrr_truth, state_segments

DEFAULT_AS_OF = datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)
COMPANY = "Northbeam Software"
Frame = tuple[str, pl.DataFrame]  # a drop file's name (without .jsonl) and its records
SYSTEM_DIRS = ("salesforce", "stripe", "netsuite", "truth")
CRM_FILES = ("Account", "Opportunity", "OpportunityLineItem", "Product2", "Contract")
# The manifest lists each system's files in this order.
FILE_ORDER = {
    "salesforce": CRM_FILES,
    "stripe": tuple(f.name for f in fields(StripeFrames)),
    "netsuite": tuple(f.name for f in fields(ErpFrames)),
}


def _horizon(as_of: datetime, months: int, through: datetime | None = None) -> Horizon:
    """The horizon: ``months`` calendar months ending with through's month, seen at as-of."""
    through = as_of if through is None else through
    for name, value in (("as_of", as_of), ("through", through)):
        if value.tzinfo is None:
            raise ValueError(f"{name} must carry a time zone (got {value.isoformat()})")
    if months < 1:
        raise ValueError(f"months must be at least 1 (got {months})")
    a, t = int(as_of.timestamp()), int(through.timestamp())
    if t < a:
        raise ValueError(
            f"through ({through.isoformat()}) is before as_of ({as_of.isoformat()}): "
            "the generated horizon must reach the export instant"
        )
    first = int(month_index(np.array([t]))[0]) - months + 1
    return Horizon(start=int(month_start(first)), as_of=a, months=months, through=t)


def generate(
    out_dir: Path,
    *,
    customers: int = 300,
    months: int = 24,
    seed: int = 42,
    as_of: datetime | None = None,
    anomaly_rate: float = 0.02,
    progress: bool = True,
    through: datetime | None = None,
    entities: Sequence[str] | None = None,
    dialects: Sequence[str] = (),
) -> dict[str, Any]:
    """Write the sandbox company's source drop and truth into ``out_dir``.

    The company is generated to ``through`` (default: ``as_of``; never before it) and
    exported as seen at ``as_of``: same seed, sizes and ``through`` give the same company at
    any as-of. ``entities`` (``US``, ``UK``, ``DE``; default all three) are the entities the
    company trades in; ``dialects`` are applied to the finished drop (``apply_dialects``).

    Returns a summary: ``exported_at``, per-file record counts (``files``), truth counts
    and the seconds it took (with dialects: ``dialects`` and the pipeline ``config`` that
    reads them, as ``NAME=value`` strings; for a company without USD, the
    ``reporting_currency`` to run the pipeline with: its rates are between its own
    currencies only).

    >>> import tempfile
    >>> summary = generate(Path(tempfile.mkdtemp()), customers=20, months=6, progress=False)
    >>> summary["files"]["stripe/customers.jsonl"] > 0
    True
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1 (got {customers})")
    if not 0 <= anomaly_rate <= 0.5:
        raise ValueError(f"anomaly_rate must be between 0 and 0.5 (got {anomaly_rate})")
    entity_idx = entity_indexes(entities)
    n_entities = len(ENTITIES) if entity_idx is None else len(entity_idx)
    for name in check_dialect_names(dialects):
        if name in ("sf-single-currency", "ns-no-oneworld") and n_entities > 1:
            raise ValueError(
                f"dialect {name} needs a company with one entity (and currency): generate it "
                "with entities US, UK or DE alone (--entities US)"
            )
    started = time.perf_counter()
    horizon = _horizon(as_of or DEFAULT_AS_OF, months, through)
    rng = np.random.default_rng(seed)
    steps = tqdm(total=7, desc="sandbox", unit="step", disable=not progress, leave=False)

    def step(label: str) -> None:
        steps.set_postfix_str(label)
        steps.update(1)

    catalog = build_catalog(rng, horizon.start - 120 * DAY)
    tl, account_anomalies = build_company(rng, customers, horizon, anomaly_rate, entity_idx)
    currencies = _company_currencies(entity_idx)
    step("timeline")
    billing = build_billing(rng, tl, catalog, horizon)
    assign_ids(rng, tl, billing)
    step("billing")
    # Everything up to here and below draws over the whole horizon (to ``through``); the
    # exports and truth show it as seen at as-of. Each truth entry is open from ``since``.
    truth = Truth()
    opps, items = build_crm(rng, tl, catalog, horizon)
    not_prov = account_anomalies["closed_won_not_provisioned"].tolist()
    unprovisioned = opps.filter(pl.col("acct").is_in(not_prov) & (pl.col("type") == "New Business"))
    truth.add(
        "closed_won_not_provisioned",
        unprovisioned["opp_id"].to_list(),
        # CloseDate <= date(A - 7 days)
        since=(unprovisioned["close_ts"] // DAY * DAY + 7 * DAY).to_list(),
    )
    linked_won = opps.filter(
        pl.col("won")
        & pl.col("type").is_in(["New Business", "Expansion"])
        & pl.col("sub").is_not_null()
    )
    mispriced = pick(rng, linked_won["opp"].to_numpy(), anomaly_rate)
    opps, items = apply_contract_mismatch(rng, opps, items, mispriced.tolist())
    if entity_idx is not None:
        opps, items = _sell_in_company_currencies(opps, items, tl.accounts, currencies)
    mispriced_opps = opps.filter(pl.col("opp").is_in(mispriced.tolist())).join(
        tl.subs.select("sub", "start_ts"), on="sub", maintain_order="left"
    )
    truth.add(
        "contract_billing_mismatch",
        mispriced_opps["opp_id"].to_list(),
        since=mispriced_opps["start_ts"].to_list(),  # billed from the subscription's start
    )
    duplicates = tl.customers.filter(pl.col("role").is_in(["duplicate_linked", "duplicate_name"]))
    truth.add(
        "duplicate_customer",
        duplicates["stripe_id"].to_list(),
        since=duplicates["created_ts"].to_list(),
    )
    dup_accts = set(account_anomalies["duplicate_linked"].tolist()) | set(
        account_anomalies["duplicate_name"].tolist()
    )
    unlinked = choose_unlinked_customers(rng, tl, billing, anomaly_rate, dup_accts)
    # Open from the customer's first finalized invoice not voided by the horizon's end (the
    # first invoice of a subscription is finalized at its start; only later ones get voided).
    first_invoice = (
        billing.invoices.filter(pl.col("status").is_in(["open", "paid", "uncollectible"]))
        .group_by("customer")
        .agg(pl.col("finalized_at").min().alias("since"))
    )
    unlinked_customers = tl.customers.filter(
        pl.col("customer").is_in(unlinked["customer"].to_list())
    ).join(first_invoice, on="customer", maintain_order="left")
    truth.add(
        "customer_unlinked",
        unlinked_customers["stripe_id"].to_list(),
        since=unlinked_customers["since"].to_list(),
    )
    step("crm")
    plan, unapplied, markers = inject_postings(
        rng, posting_plan(rng, tl, billing, horizon), billing, horizon, anomaly_rate, truth
    )
    if entity_idx is not None:
        plan = _post_in_company_currencies(plan, currencies)
    billing.meter_events = inject_unbilled_usage(rng, billing, tl, horizon, anomaly_rate, truth)
    erp, tx = build_erp(rng, tl, billing, catalog, horizon, plan, unapplied)
    if entity_idx is not None:
        erp = _erp_of_entities(erp, entity_idx, currencies)
    for check_id, txn_id, since in _marked_postings(tx, markers):
        truth.add(check_id, [txn_id], since=[since])
    del tx, plan, unapplied
    out_dir = _clear_drop(Path(out_dir))
    # Each system's files are written as soon as its frames exist and let go one by one, so
    # memory holds the company's state and one file's frame, not the whole drop.
    counts_of: dict[str, dict[str, int]] = {}
    counts_of["netsuite"] = _write_files(out_dir, "netsuite", _drain(erp, FILE_ORDER["netsuite"]))
    del erp
    step("netsuite")
    opp_by_sub = opps.filter(pl.col("sub").is_not_null()).select("sub", "opp_id")
    stripe = stripe_frames(rng, tl, billing, catalog, horizon, opp_by_sub)
    counts_of["stripe"] = _write_files(
        out_dir, "stripe", _break_links_of(stripe, tl.customers, unlinked)
    )
    step("stripe")
    crm = format_crm(rng, tl, catalog, horizon, opps, items)
    counts_of["salesforce"] = _write_files(out_dir, "salesforce", _drain(crm, CRM_FILES))
    del crm
    step("salesforce")
    customer_keys = _customer_keys(tl.customers, tl.accounts, unlinked)
    seen = billing_at(billing, horizon.as_of)
    segments = state_segments(timeline_at(tl, horizon.as_of), seen, catalog, customer_keys)
    mrr = mrr_truth(segments, horizon)
    step("truth")

    counts = _ordered_counts(counts_of)
    truth_dir = out_dir / "truth"
    truth_dir.mkdir()
    exceptions = truth.frame(horizon.as_of)
    exceptions.write_csv(truth_dir / "exceptions.csv")
    mrr.write_csv(truth_dir / "mrr.csv")
    segments.write_csv(truth_dir / "subscription_segments.csv")
    exported_at = _iso(horizon.as_of)
    manifest = {
        "exported_at": exported_at,
        "company": COMPANY,
        "generator": "revops sandbox",
        "seed": seed,
        "customers": customers,
        "months": months,
        "anomaly_rate": anomaly_rate,
        # absent: every entity
        **({} if entity_idx is None else {"entities": [ENTITIES[i].code for i in entity_idx]}),
        "files": counts,
    }
    if horizon.through != horizon.as_of:  # absent: generated to exported_at
        manifest = {"exported_at": exported_at, "through": _iso(horizon.through)} | manifest
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    steps.close()
    applied: dict[str, Any] = {}
    if "USD" not in currencies:  # no rates to the pipeline's default reporting currency
        applied["reporting_currency"] = (
            f"{currencies[0]} (run the pipeline with REVOPS_REPORTING_CURRENCY={currencies[0]})"
        )
    if dialects:
        config = apply_dialects(out_dir, dialects, seed=seed)
        written = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
        counts = written["files"]
        applied["dialects"] = ",".join(written["dialects"])
        if config:
            applied["config"] = " ".join(f"{k}={v}" for k, v in config.items())
    return {
        "out_dir": str(out_dir),
        "exported_at": exported_at,
        "through": _iso(horizon.through),
        "files": counts,
        "exceptions": exceptions.height,
        "exceptions_by_check": dict(
            exceptions.group_by("check_id").len().sort("check_id").iter_rows()
        ),
        "mrr_rows": mrr.height,
        **applied,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _company_currencies(entity_idx: Sequence[int] | None) -> list[str]:
    """The currencies of the company's entities, in entity order."""
    chosen = range(len(ENTITIES)) if entity_idx is None else entity_idx
    return list(dict.fromkeys(ENTITIES[i].currency for i in chosen))


def _sell_in_company_currencies(
    opps: pl.DataFrame, items: pl.DataFrame, accounts: pl.DataFrame, currencies: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A contract mismatch sold in a currency the company does not have sells more seats.

    ``apply_contract_mismatch`` moves some deals into another currency; in a company without
    that currency the deal keeps its account's currency and is sold with more seats instead
    (its ``seats`` variant), so it still differs from what is billed.
    """
    own = accounts.select("acct", pl.col("currency").alias("acct_currency"))
    o = opps.join(own, on="acct", how="left", maintain_order="left")
    moved = (pl.col("currency") != pl.col("acct_currency")) & ~pl.col("currency").is_in(currencies)
    moved_opps = o.filter(moved)["opp"].to_list()
    if not moved_opps:
        return opps, items
    opps = o.with_columns(
        currency=pl.when(moved).then(pl.col("acct_currency")).otherwise(pl.col("currency"))
    ).drop("acct_currency")
    is_plan = ~pl.col("product").is_in(["onboarding", "api_calls"])
    items = items.with_columns(
        quantity=pl.when(is_plan & pl.col("opp").is_in(moved_opps))
        .then((pl.col("quantity") * 1.25).ceil() + 1)
        .otherwise("quantity")
    )
    return opps, items


def _post_in_company_currencies(plan: pl.DataFrame, currencies: list[str]) -> pl.DataFrame:
    """A posting put in a currency the company does not have is posted 10% short instead."""
    moved = pl.col("currency_override").is_not_null() & ~pl.col("currency_override").is_in(
        currencies
    )
    return plan.with_columns(
        amount=pl.when(moved).then(pl.col("amount") * 9 // 10).otherwise(pl.col("amount")),
        currency_override=pl.when(moved).then(None).otherwise(pl.col("currency_override")),
    )


def _erp_of_entities(erp: ErpFrames, entity_idx: Sequence[int], currencies: list[str]) -> ErpFrames:
    """NetSuite as a company with only these entities: its subsidiaries, currencies, rates
    between them and the payroll journals of its subsidiaries."""
    subsidiaries = [str(ENTITIES[i].subsidiary_id) for i in entity_idx]
    currency = erp.currency.filter(pl.col("symbol").is_in(currencies))
    cur_ids = currency["id"].to_list()
    # The base currency is the root (first) subsidiary's.
    base = erp.subsidiary.filter(pl.col("id") == subsidiaries[0])["currency"].item()
    other = erp.transactionline.filter(
        pl.col("subsidiary").is_not_null() & ~pl.col("subsidiary").is_in(subsidiaries)
    )["transaction"].unique()
    return replace(
        erp,
        subsidiary=erp.subsidiary.filter(pl.col("id").is_in(subsidiaries)),
        currency=currency.with_columns(
            isbasecurrency=pl.when(pl.col("id") == base).then(pl.lit("T")).otherwise(pl.lit("F"))
        ),
        currencyrate=erp.currencyrate.filter(
            pl.col("basecurrency").is_in(cur_ids) & pl.col("transactioncurrency").is_in(cur_ids)
        ),
        transaction=erp.transaction.filter(~pl.col("id").is_in(other.implode())),
        transactionline=erp.transactionline.filter(~pl.col("transaction").is_in(other.implode())),
        transactionaccountingline=erp.transactionaccountingline.filter(
            ~pl.col("transaction").is_in(other.implode())
        ),
    )


def _marked_postings(
    tx: pl.DataFrame, markers: Sequence[tuple[str, int]]
) -> list[tuple[str, str, int]]:
    """``(check_id, NetSuite transaction id, since)`` of each marked posting plan row, in
    marker order. A marked posting is at fault once it exists (and its invoice is voided, for
    one that stayed posted after the void)."""
    marked = pl.DataFrame(
        {"check_id": [c for c, _ in markers], "row": [r for _, r in markers]},
        schema={"check_id": pl.String, "row": tx.schema["row"]},
    )
    found = marked.join(
        tx.select("row", "txn_id", pl.max_horizontal("created_ts", "void_ts").alias("since")),
        on="row",
        how="left",
        maintain_order="left",
    )
    if found["txn_id"].null_count():
        raise KeyError("a marked posting is not in the posting plan")
    return [(check_id, str(txn_id), since) for check_id, _, txn_id, since in found.iter_rows()]


def _clear_drop(out_dir: Path) -> Path:
    """``out_dir``, created, without the files of a previous drop."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for sub in SYSTEM_DIRS:
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    return out_dir


def _drain(frames: ErpFrames | CrmFrames, names: Sequence[str]) -> Iterator[Frame]:
    """Each named frame of ``frames``, replaced there by an empty frame once handed over (so
    a written file's frame can be freed while the next one is written)."""
    for name in names:
        frame = getattr(frames, name)
        setattr(frames, name, pl.DataFrame())
        yield name, frame
        del frame  # before the next one is built


def _write_files(out_dir: Path, system: str, frames: Iterable[Frame]) -> dict[str, int]:
    """Write each ``(name, frame)`` to ``system/name.jsonl``, a name that comes again
    appending to its file; returns the record counts."""
    counts: dict[str, int] = {}
    for name, frame in frames:
        rel = f"{system}/{name}.jsonl"
        written = write_jsonl(
            frame, out_dir / rel, drop_nulls=system == "netsuite", append=rel in counts
        )
        counts[rel] = counts.get(rel, 0) + written
        del frame
    return counts


def _ordered_counts(counts_of: dict[str, dict[str, int]]) -> dict[str, int]:
    """The per-file counts in the manifest's order (``FILE_ORDER``), whatever the writing
    order was."""
    return {
        f"{system}/{name}.jsonl": counts_of[system][f"{system}/{name}.jsonl"]
        for system, names in FILE_ORDER.items()
        for name in names
    }


def _break_links_of(
    frames: Iterable[Frame], customers: pl.DataFrame, unlinked: pl.DataFrame
) -> Iterator[Frame]:
    """The Stripe frames with ``_break_links`` applied to the customers."""
    for name, frame in frames:
        if name == "customers":
            frame = _break_links(frame, customers, unlinked)
        yield name, frame
        del frame  # before the next one is built


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _break_links(
    customers_frame: pl.DataFrame, customers: pl.DataFrame, unlinked: pl.DataFrame
) -> pl.DataFrame:
    """Remove or mistype the CRM link of the ``customer_unlinked`` customers."""
    how = customers.join(unlinked, on="customer").select(pl.col("stripe_id").alias("id"), "how")
    out = customers_frame.join(how, on="id", how="left", maintain_order="left")
    link = out["metadata"].struct.field("salesforce_account_id")
    typo = pl.Series([mistype(v) if v else v for v in link.to_list()], dtype=pl.String)
    new_link = (
        pl.when(pl.col("how") == "missing")
        .then(None)
        .when(pl.col("how") == "mistyped")
        .then(typo)
        .otherwise(pl.col("metadata").struct.field("salesforce_account_id"))
    )
    return out.with_columns(metadata=pl.struct(new_link.alias("salesforce_account_id"))).drop("how")


def _customer_keys(
    customers: pl.DataFrame, accounts: pl.DataFrame, unlinked: pl.DataFrame
) -> pl.DataFrame:
    """Stripe customer -> the key truth reports it under (its Account, or ``stripe:<id>``)."""
    broken = pl.col("customer").is_in(unlinked["customer"].to_list()) | (
        pl.col("role") == "duplicate_name"
    )
    return customers.join(accounts.select("acct", "sf_account_id"), on="acct").select(
        "customer",
        pl.col("stripe_id").alias("stripe_customer_id"),
        pl.when(broken)
        .then(pl.concat_str(pl.lit("stripe:"), "stripe_id"))
        .otherwise(pl.col("sf_account_id"))
        .alias("account_key"),
    )
