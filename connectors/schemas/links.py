"""The fields that link the three systems, under the names a company gives them.

Integrations name their link fields differently: one company keeps the Salesforce Account id
in Stripe customer metadata under ``salesforce_account_id``, another under ``sfdc_id``; a
NetSuite account may keep the Stripe customer id in ``externalid`` or in a custom field. The
raw column keeps its name (``salesforce_account_id``, ``externalid``); only where the loader
reads it from changes, through these environment variables:

- ``REVOPS_STRIPE_ACCOUNT_LINK_KEY``: the Stripe customer metadata key holding the Salesforce
  Account id (default ``salesforce_account_id``);
- ``REVOPS_STRIPE_OPPORTUNITY_LINK_KEY``: the Stripe subscription metadata key holding the
  closed-won Opportunity id (default ``salesforce_opportunity_id``);
- ``REVOPS_NETSUITE_CUSTOMER_LINK_FIELD``: the NetSuite customer column holding the Stripe
  customer id (default ``externalid``);
- ``REVOPS_NETSUITE_TRANSACTION_LINK_FIELD``: the NetSuite transaction column holding the
  Stripe object id (default ``externalid``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.schemas.fields import ObjectSpec


@dataclass(frozen=True)
class LinkField:
    """A raw column whose JSON location is configurable."""

    system: str
    obj: str
    column: str
    variable: str
    default: str
    path_template: str  # "$.metadata.{}" -> where the configured name is read

    def path(self, env: Mapping[str, str]) -> str:
        name = env.get(self.variable, "").strip() or self.default
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(
                f"{self.variable}={name!r} is not a field name (letters, digits and _ only); "
                f"set it to the {self.system} field that holds the link, e.g. {self.default}"
            )
        return self.path_template.format(name)


LINK_FIELDS: tuple[LinkField, ...] = (
    LinkField(
        "stripe",
        "customers",
        "salesforce_account_id",
        "REVOPS_STRIPE_ACCOUNT_LINK_KEY",
        "salesforce_account_id",
        "$.metadata.{}",
    ),
    LinkField(
        "stripe",
        "subscriptions",
        "salesforce_opportunity_id",
        "REVOPS_STRIPE_OPPORTUNITY_LINK_KEY",
        "salesforce_opportunity_id",
        "$.metadata.{}",
    ),
    LinkField(
        "netsuite",
        "customer",
        "externalid",
        "REVOPS_NETSUITE_CUSTOMER_LINK_FIELD",
        "externalid",
        "$.{}",
    ),
    LinkField(
        "netsuite",
        "transaction",
        "externalid",
        "REVOPS_NETSUITE_TRANSACTION_LINK_FIELD",
        "externalid",
        "$.{}",
    ),
)


def with_link_fields(spec: ObjectSpec, env: Mapping[str, str] | None = None) -> ObjectSpec:
    """``spec`` with its link fields read from where the configuration says."""
    env = os.environ if env is None else env
    links = {
        lf.column: lf.path(env)
        for lf in LINK_FIELDS
        if lf.system == spec.system and lf.obj == spec.name
    }
    if not links:
        return spec
    fields = tuple(
        dataclasses.replace(f, path=links[f.name]) if f.name in links else f for f in spec.fields
    )
    return dataclasses.replace(spec, fields=fields)
