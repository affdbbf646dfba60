"""Per-object schemas of the three source systems (one declaration each)."""

from __future__ import annotations

from connectors.schemas import netsuite, salesforce, stripe
from connectors.schemas.fields import ChildSpec, Field, Hold, ObjectSpec, Reference
from connectors.schemas.links import with_link_fields

SPECS: dict[str, tuple[ObjectSpec, ...]] = {
    "salesforce": salesforce.OBJECTS,
    "stripe": stripe.OBJECTS,
    "netsuite": netsuite.OBJECTS,
}
# What each system's raw tables hold (the description of its dbt source).
DESCRIPTIONS: dict[str, str] = {
    "salesforce": salesforce.DESCRIPTION,
    "stripe": stripe.DESCRIPTION,
    "netsuite": netsuite.DESCRIPTION,
}


def spec_for(system: str, name: str) -> ObjectSpec:
    """The spec of ``system``'s object whose drop file stem is ``name``, its link fields read
    from where the configuration says (``connectors.schemas.links``)."""
    for spec in SPECS[system]:
        if spec.name == name:
            return with_link_fields(spec)
    raise KeyError(f"no schema for {system}/{name}")


__all__ = [
    "DESCRIPTIONS",
    "SPECS",
    "ChildSpec",
    "Field",
    "Hold",
    "ObjectSpec",
    "Reference",
    "spec_for",
]
