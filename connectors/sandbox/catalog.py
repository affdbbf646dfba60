"""The sandbox company's fixed facts: entities, currencies, products and their prices.

Every recurring unit amount is a whole number of currency units (a multiple of 100 minor
units), so percentage coupons produce exact discount amounts and MRR stays exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from connectors.sandbox.ids import random_ids, salesforce_ids


@dataclass(frozen=True)
class Entity:
    code: str  # US, UK, DE
    subsidiary_id: int  # NetSuite subsidiary id
    name: str
    country: str  # ISO code as NetSuite stores it
    billing_country: str  # as Salesforce shows it
    currency: str  # ISO code, upper case
    tld: str


ENTITIES: tuple[Entity, ...] = (
    Entity("US", 1, "Northbeam Software Inc.", "US", "United States", "USD", "com"),
    Entity("UK", 2, "Northbeam Software Ltd", "GB", "United Kingdom", "GBP", "co.uk"),
    Entity("DE", 3, "Northbeam Software GmbH", "DE", "Germany", "EUR", "de"),
)
ENTITY_WEIGHTS = np.array([0.6, 0.25, 0.15])
ENTITY_CODES: tuple[str, ...] = tuple(e.code for e in ENTITIES)


def entity_indexes(codes: Sequence[str] | None) -> tuple[int, ...] | None:
    """Indexes into ``ENTITIES`` of the entity ``codes`` (any order, case-insensitive).

    ``None`` (and every entity) gives ``None``: the company with all of its entities.

    >>> entity_indexes(["uk", "US"]), entity_indexes(None), entity_indexes(["DE", "UK", "US"])
    ((0, 1), None, None)
    """
    if codes is None:
        return None
    wanted = [c.strip().upper() for c in codes]
    unknown = [c for c in wanted if c not in ENTITY_CODES]
    if unknown or not wanted:
        raise ValueError(
            f"unknown entity {', '.join(unknown) or '(none given)'}: "
            f"choose one or more of {', '.join(ENTITY_CODES)}"
        )
    indexes = tuple(sorted({ENTITY_CODES.index(c) for c in wanted}))
    return None if len(indexes) == len(ENTITIES) else indexes


# NetSuite's own internal ids for these currencies (USD is the root subsidiary's base).
CURRENCY_IDS = {"USD": 1, "GBP": 2, "EUR": 4}
CURRENCY_NAMES = {"USD": "US Dollar", "GBP": "British pound", "EUR": "Euro"}
CURRENCIES = ("USD", "GBP", "EUR")

# interval_months -> (Stripe interval, interval_count)
INTERVALS = {1: ("month", 1), 3: ("month", 3), 12: ("year", 1)}
INTERVAL_WEIGHTS = {1: 0.7, 3: 0.1, 12: 0.2}


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    monthly: dict[str, int]  # per seat per month, whole currency units
    seats: tuple[int, int]  # inclusive range at signup


PLANS: tuple[Plan, ...] = (
    Plan("starter", "Starter", {"USD": 25, "GBP": 20, "EUR": 23}, (1, 10)),
    Plan("growth", "Growth", {"USD": 60, "GBP": 50, "EUR": 55}, (5, 50)),
    Plan("enterprise", "Enterprise", {"USD": 120, "GBP": 100, "EUR": 110}, (20, 200)),
)
PLAN_WEIGHTS = np.array([0.5, 0.35, 0.15])

ONBOARDING_FEE = {"USD": 500, "GBP": 400, "EUR": 450}  # one-time, whole units
USAGE_UNIT_AMOUNT = 1  # minor units per API call (0.01 per call), every currency
METER_EVENT_NAME = "api_calls"


def period_unit_amount(plan: Plan, currency: str, interval_months: int) -> int:
    """Unit amount in minor units for one billing period of ``interval_months`` months.

    Quarterly is three months at list; annual is ten months (two months free).

    >>> period_unit_amount(PLANS[0], "USD", 12)
    25000
    """
    months_charged = {1: 1, 3: 3, 12: 10}[interval_months]
    return plan.monthly[currency] * months_charged * 100


@dataclass(frozen=True)
class Catalog:
    """Ids for every product and price, drawn once per generated company."""

    plan_product_ids: dict[str, str]  # plan key -> prod_
    usage_product_id: str
    onboarding_product_id: str
    plan_price_ids: dict[tuple[str, str, int], str]  # (plan, currency, interval_months) -> price_
    usage_price_ids: dict[str, str]  # currency -> price_
    onboarding_price_ids: dict[str, str]
    meter_id: str
    # Salesforce Product2 ids and NetSuite item ids, keyed like the Stripe products.
    sf_product_ids: dict[str, str]
    ns_item_ids: dict[str, int]
    created: int  # Unix seconds the catalogue was set up

    @property
    def product_keys(self) -> list[str]:
        return [p.key for p in PLANS] + ["api_calls", "onboarding"]


def build_catalog(rng: np.random.Generator, created: int) -> Catalog:
    """Draw the catalogue's ids (deterministic for a given generator state)."""
    keys = [p.key for p in PLANS] + ["api_calls", "onboarding"]
    prod = random_ids(rng, "prod_", len(keys), 14)
    plan_price_keys = [(p.key, c, im) for p in PLANS for c in CURRENCIES for im in INTERVALS]
    prices = random_ids(rng, "price_", len(plan_price_keys) + 2 * len(CURRENCIES), 24)
    n = len(plan_price_keys)
    sf = salesforce_ids(rng, "01t", len(keys))
    return Catalog(
        plan_product_ids=dict(zip(keys[:3], prod[:3], strict=True)),
        usage_product_id=prod[3],
        onboarding_product_id=prod[4],
        plan_price_ids=dict(zip(plan_price_keys, prices[:n], strict=True)),
        usage_price_ids=dict(zip(CURRENCIES, prices[n : n + 3], strict=True)),
        onboarding_price_ids=dict(zip(CURRENCIES, prices[n + 3 : n + 6], strict=True)),
        meter_id=random_ids(rng, "mtr_", 1, 24)[0],
        sf_product_ids=dict(zip(keys, sf, strict=True)),
        ns_item_ids={k: 100 + i for i, k in enumerate(keys)},
        created=created,
    )
