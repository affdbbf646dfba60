"""Salesforce objects (REST API JSON) as the loader types and validates them.

Picklists (Type, StageName, Family…) are org-specific, so they are not enums here.
"""

from __future__ import annotations

from connectors.schemas.fields import Field, Hold, ObjectSpec

S = "salesforce"


def sfid(key_prefix: str) -> str:
    """An 18-character id of the object with ``key_prefix`` (the checksum is checked apart)."""
    return rf"^{key_prefix}[A-Za-z0-9]{{15}}$"


def sf_id(name: str, key_prefix: str, required: bool = False) -> Field:
    return Field(name, "str", required=required, pattern=sfid(key_prefix), sf_checksum=True)


ACCOUNT = ObjectSpec(
    S,
    "Account",
    "account",
    ("Id",),
    (
        sf_id("Id", "001", required=True),
        Field("Name", "str", required=True),
        Field("Website", "str"),
        Field("Type", "str"),
        sf_id("ParentId", "001"),
        Field("BillingCountry", "str"),
        Field("CurrencyIsoCode", "str", currency=True),
        Field("IsDeleted", "bool"),
        Field("CreatedDate", "sf_datetime"),
        Field("SystemModstamp", "sf_datetime"),
    ),
    modified_at="SystemModstamp",
    cursor="SystemModstamp",
    file_required=True,
)
OPPORTUNITY = ObjectSpec(
    S,
    "Opportunity",
    "opportunity",
    ("Id",),
    (
        sf_id("Id", "006", required=True),
        sf_id("AccountId", "001"),
        Field("Name", "str"),
        Field("Type", "str"),
        Field("StageName", "str", required=True),
        Field("IsClosed", "bool"),
        Field("IsWon", "bool"),
        Field("CloseDate", "date", required=True),
        Field("Amount", "number"),
        Field("CurrencyIsoCode", "str", currency=True),
        Field("CreatedDate", "sf_datetime"),
        Field("SystemModstamp", "sf_datetime"),
    ),
    modified_at="SystemModstamp",
    cursor="SystemModstamp",
    holds=(Hold("AccountId", "Account"),),
    file_required=True,
)
OPPORTUNITY_LINE_ITEM = ObjectSpec(
    S,
    "OpportunityLineItem",
    "opportunity_line_item",
    ("Id",),
    (
        sf_id("Id", "00k", required=True),
        sf_id("OpportunityId", "006", required=True),
        sf_id("Product2Id", "01t"),
        Field("Quantity", "number", min_value=0, sql_type="DOUBLE"),
        Field("UnitPrice", "number"),
        Field("TotalPrice", "number"),
        Field("ServiceDate", "date"),
        Field("SystemModstamp", "sf_datetime"),
    ),
    modified_at="SystemModstamp",
    cursor="SystemModstamp",
    holds=(Hold("OpportunityId", "Opportunity"),),
)
PRODUCT2 = ObjectSpec(
    S,
    "Product2",
    "product2",
    ("Id",),
    (
        sf_id("Id", "01t", required=True),
        Field("Name", "str", required=True),
        Field("ProductCode", "str"),
        Field("Family", "str"),
        Field("IsActive", "bool"),
    ),
)
CONTRACT = ObjectSpec(
    S,
    "Contract",
    "contract",
    ("Id",),
    (
        sf_id("Id", "800", required=True),
        sf_id("AccountId", "001"),
        Field("ContractNumber", "str"),
        Field("Status", "str"),
        Field("StartDate", "date"),
        Field("EndDate", "date"),
        Field("ContractTerm", "number", min_value=0, sql_type="INTEGER"),
        Field("ActivatedDate", "sf_datetime"),
    ),
    modified_at="ActivatedDate",
    holds=(Hold("AccountId", "Account"),),
)

# What the system's raw tables hold (the dbt sources' description).
DESCRIPTION = (
    "Salesforce CRM objects as loaded by connectors.load: typed columns (CamelCase, as "
    "the API names them), the raw record in _payload, latest version wins."
)

OBJECTS: tuple[ObjectSpec, ...] = (ACCOUNT, OPPORTUNITY, OPPORTUNITY_LINE_ITEM, PRODUCT2, CONTRACT)
