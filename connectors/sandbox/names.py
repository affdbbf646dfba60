"""Realistic, unique company names, domains and contact emails."""

from __future__ import annotations

import numpy as np

_FIRST = [
    "Acme",
    "Apex",
    "Arbor",
    "Aster",
    "Atlas",
    "Aurora",
    "Beacon",
    "Birch",
    "Blue",
    "Bright",
    "Canyon",
    "Cedar",
    "Cobalt",
    "Copper",
    "Coral",
    "Crest",
    "Delta",
    "Ember",
    "Evergreen",
    "Falcon",
    "Fern",
    "Flint",
    "Forge",
    "Granite",
    "Harbor",
    "Hawk",
    "Helix",
    "Horizon",
    "Iron",
    "Juniper",
    "Keystone",
    "Lantern",
    "Linden",
    "Lumen",
    "Maple",
    "Meridian",
    "Nimbus",
    "Northwind",
    "Oak",
    "Onyx",
    "Orbit",
    "Pine",
    "Prairie",
    "Quartz",
    "Raven",
    "Redwood",
    "Ridge",
    "River",
    "Sable",
    "Sierra",
    "Silver",
    "Slate",
    "Sparrow",
    "Spruce",
    "Summit",
    "Tidal",
    "Timber",
    "Vertex",
    "Willow",
    "Zephyr",
    "Alder",
    "Basalt",
]
_SECOND = [
    "Analytics",
    "Bio",
    "Cloud",
    "Data",
    "Dynamics",
    "Energy",
    "Foods",
    "Freight",
    "Health",
    "Insights",
    "Labs",
    "Learning",
    "Logistics",
    "Media",
    "Metrics",
    "Mobility",
    "Networks",
    "Partners",
    "Pay",
    "Retail",
    "Robotics",
    "Security",
    "Signal",
    "Solutions",
    "Software",
    "Systems",
    "Telecom",
    "Travel",
    "Ventures",
    "Vision",
    "Works",
    "Capital",
    "Clinics",
    "Design",
    "Devices",
    "Education",
    "Farms",
    "Finance",
    "Games",
    "Grid",
    "Hospitality",
    "Imaging",
    "Legal",
    "Marine",
    "Mining",
    "Motors",
    "Optics",
    "Pharma",
    "Power",
    "Properties",
    "Publishing",
    "Recruiting",
    "Studios",
    "Supply",
    "Textiles",
    "Therapeutics",
    "Tools",
    "Transit",
    "Utilities",
    "Wellness",
    "Wireless",
    "Foundry",
    "Kitchens",
]
_SUFFIX = {
    "US": ("Inc", "Inc.", "LLC", "Corp", "Corporation", "Co"),
    "UK": ("Ltd", "Limited", "PLC", "Ltd."),
    "DE": ("GmbH", "AG"),
}
_TLD = {"US": "com", "UK": "co.uk", "DE": "de"}
_PEOPLE = [
    "alex",
    "sam",
    "jordan",
    "taylor",
    "morgan",
    "casey",
    "jamie",
    "robin",
    "chris",
    "pat",
    "lee",
    "kim",
    "dana",
    "max",
    "noor",
    "lena",
    "jonas",
    "sofia",
    "lukas",
    "emma",
    "oliver",
    "amelia",
    "harry",
    "mia",
    "noah",
]
_QUALIFIER = [
    "North",
    "South",
    "East",
    "West",
    "Global",
    "United",
    "Pacific",
    "Atlantic",
    "Central",
    "Prime",
    "Metro",
    "Alpine",
    "Coastal",
    "Royal",
    "Urban",
    "Grand",
]

_GROUP = [
    "Group",
    "Holdings",
    "International",
    "Collective",
    "Partners",
    "Global",
    "Worldwide",
    "Alliance",
]


def company_names(rng: np.random.Generator, entity_codes: list[str]) -> tuple[list[str], list[str]]:
    """One unique (name, domain) per entry; names carry an entity-typical legal suffix.

    Uniqueness comes from drawing distinct (first, second, qualifier) combinations, so every
    domain is distinct too (the duplicate-customer check relies on domains meaning something).
    """
    n = len(entity_codes)
    base = len(_FIRST) * len(_SECOND)
    variants = (len(_QUALIFIER) + 1) * (len(_GROUP) + 1)
    space = base * variants
    if n > space:
        raise ValueError(f"at most {space} distinct company names; asked for {n}")
    picks = rng.choice(space, size=n, replace=False)
    names, domains = [], []
    for pick, code in zip(picks.tolist(), entity_codes, strict=True):
        v, rest = divmod(pick, base)
        q, g = divmod(v, len(_GROUP) + 1)
        words = [_FIRST[rest // len(_SECOND)], _SECOND[rest % len(_SECOND)]]
        if q:
            words.insert(0, _QUALIFIER[q - 1])
        if g:
            words.append(_GROUP[g - 1])
        suffixes = _SUFFIX[code]
        suffix = suffixes[(pick // 7) % len(suffixes)]
        names.append(" ".join([*words, suffix]))
        domains.append("".join(w.lower() for w in words) + "." + _TLD[code])
    return names, domains


def contact_emails(rng: np.random.Generator, domains: list[str]) -> list[str]:
    """A billing contact per domain: ``billing@`` or ``first.last@``."""
    first = rng.choice(_PEOPLE, size=len(domains))
    last = rng.choice(_PEOPLE, size=len(domains))
    kind = rng.random(len(domains))
    return [
        f"billing@{d}" if k < 0.4 else f"{f}.{la}@{d}"
        for d, f, la, k in zip(domains, first, last, kind, strict=True)
    ]


def name_variant(name: str, rng: np.random.Generator) -> str:
    """How the same company gets typed again at a second signup (same normalized name)."""
    choice = int(rng.integers(0, 3))
    words = name.split(" ")
    if choice == 0:
        return name.upper()
    if choice == 1:
        return " ".join(words[:-1]) + ", " + words[-1]
    return " ".join(words[:-1]).lower()
