"""NetSuite SuiteQL rows (every value a string, NULL columns omitted) as the loader types them."""

from __future__ import annotations

from connectors.schemas.fields import Field, Hold, ObjectSpec

S = "netsuite"
RATE = "DECIMAL(18,8)"
TRANSACTION_TYPES = (
    "CustInvc",
    "CustPymt",
    "CustCred",
    "CustDep",
    "CustRfnd",
    "CashSale",
    "CashRfnd",
    "Journal",
    "VendBill",
    "VendPymt",
    "VendCred",
    "Deposit",
    "Check",
    "Transfer",
    "ItemShip",
    "SalesOrd",
)


def nsid(name: str, required: bool = False) -> Field:
    return Field(name, "ns_int", required=required)


# Optional in a drop: a NetSuite account without OneWorld has no subsidiaries (one entity,
# configured).
SUBSIDIARY = ObjectSpec(
    S,
    "subsidiary",
    "subsidiary",
    ("id",),
    (nsid("id", True), Field("name", "ns_str"), nsid("currency"), Field("country", "ns_str")),
)
CURRENCY = ObjectSpec(
    S,
    "currency",
    "currency",
    ("id",),
    (
        nsid("id", True),
        Field("symbol", "ns_str", required=True, currency=True),
        Field("name", "ns_str"),
        Field("isbasecurrency", "ns_bool"),
    ),
    file_required=True,
)
CURRENCYRATE = ObjectSpec(
    S,
    "currencyrate",
    "currencyrate",
    # The vendor gives a rate no guaranteed id: it is keyed by what it says.
    ("basecurrency", "transactioncurrency", "effectivedate"),
    (
        nsid("id"),
        nsid("basecurrency", True),
        nsid("transactioncurrency", True),
        Field("exchangerate", "ns_decimal", required=True, min_value=0, sql_type=RATE),
        Field("effectivedate", "date", required=True),
    ),
)
ACCOUNTINGPERIOD = ObjectSpec(
    S,
    "accountingperiod",
    "accountingperiod",
    ("id",),
    (
        nsid("id", True),
        Field("periodname", "ns_str"),
        Field("startdate", "date", required=True),
        Field("enddate", "date", required=True),
        Field("closed", "ns_bool"),
        Field("isadjust", "ns_bool"),
        Field("isquarter", "ns_bool"),
        Field("isyear", "ns_bool"),
    ),
    file_required=True,
)
ACCOUNT = ObjectSpec(
    S,
    "account",
    "account",
    ("id",),
    (
        nsid("id", True),
        Field("acctnumber", "ns_str"),
        Field("fullname", "ns_str"),
        Field("accttype", "ns_str"),
    ),
)
CUSTOMER = ObjectSpec(
    S,
    "customer",
    "customer",
    ("id",),
    (
        nsid("id", True),
        Field("entityid", "ns_str"),
        Field("companyname", "ns_str"),
        Field("externalid", "ns_str"),
        Field("email", "ns_str"),
        nsid("subsidiary"),
        nsid("currency"),
        Field("datecreated", "ns_timestamp"),
        Field("lastmodifieddate", "ns_timestamp"),
    ),
    modified_at="lastmodifieddate",
    cursor="lastmodifieddate",
    file_required=True,
)
TRANSACTION = ObjectSpec(
    S,
    "transaction",
    "transaction",
    ("id",),
    (
        nsid("id", True),
        Field("tranid", "ns_str"),
        Field("type", "ns_str", required=True, enum=TRANSACTION_TYPES),
        Field("trandate", "date"),
        nsid("postingperiod"),
        nsid("entity"),
        nsid("currency"),
        Field("exchangerate", "ns_decimal", sql_type=RATE),
        Field("foreigntotal", "ns_decimal"),
        Field("status", "ns_str"),
        Field("externalid", "ns_str"),
        Field("memo", "ns_str"),
        Field("posting", "ns_bool"),
        Field("voided", "ns_bool"),
        Field("createddate", "ns_timestamp"),
        Field("lastmodifieddate", "ns_timestamp"),
    ),
    modified_at="lastmodifieddate",
    cursor="lastmodifieddate",
    holds=(Hold("entity", "customer"),),
    file_required=True,
)
TRANSACTIONLINE = ObjectSpec(
    S,
    "transactionline",
    "transactionline",
    ("transaction", "id"),
    (
        nsid("id", True),
        nsid("transaction", True),
        Field("mainline", "ns_bool"),
        Field("taxline", "ns_bool"),
        nsid("item"),
        Field("quantity", "ns_decimal", sql_type="DECIMAL(18,4)"),
        Field("rate", "ns_decimal", sql_type=RATE),
        Field("netamount", "ns_decimal"),
        Field("foreignamount", "ns_decimal"),
        nsid("subsidiary"),
        Field("memo", "ns_str"),
    ),
    holds=(Hold("transaction", "transaction"),),
)
TRANSACTIONACCOUNTINGLINE = ObjectSpec(
    S,
    "transactionaccountingline",
    "transactionaccountingline",
    ("transaction", "transactionline", "account"),
    (
        nsid("transaction", True),
        nsid("transactionline", True),
        nsid("account", True),
        Field("amount", "ns_decimal"),
        Field("debit", "ns_decimal"),
        Field("credit", "ns_decimal"),
        Field("posting", "ns_bool"),
    ),
    holds=(Hold("transaction", "transaction"),),
)
PREVIOUSTRANSACTIONLINELINK = ObjectSpec(
    S,
    "previoustransactionlinelink",
    "previoustransactionlinelink",
    # The line numbers are not among the columns an export guarantees: NULL when absent.
    ("previousdoc", "previousline", "nextdoc", "nextline"),
    (
        nsid("previousdoc", True),
        nsid("previousline"),
        nsid("nextdoc", True),
        nsid("nextline"),
        Field("linktype", "ns_str"),
        Field("foreignamount", "ns_decimal"),
    ),
    holds=(Hold("previousdoc", "transaction"), Hold("nextdoc", "transaction")),
)

# What the system's raw tables hold (the dbt sources' description).
DESCRIPTION = (
    "NetSuite ERP tables (SuiteQL) as loaded by connectors.load: typed columns, the raw "
    "record in _payload, latest version wins. Money DECIMAL(18,2), rates DECIMAL(18,8), "
    "timestamps UTC."
)

OBJECTS: tuple[ObjectSpec, ...] = (
    SUBSIDIARY,
    CURRENCY,
    CURRENCYRATE,
    ACCOUNTINGPERIOD,
    ACCOUNT,
    CUSTOMER,
    TRANSACTION,
    TRANSACTIONLINE,
    TRANSACTIONACCOUNTINGLINE,
    PREVIOUSTRANSACTIONLINELINK,
)
