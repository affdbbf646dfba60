"""Declaring a source object once: its typed columns, their wire rules and domain checks.

From one :class:`ObjectSpec` the loader derives

- the SQL that types each JSON record in DuckDB and names every wire-format violation in
  words (a Stripe amount that is not an integer, a Salesforce datetime without its offset,
  a NetSuite date that is not ``YYYY-MM-DD``), and
- the pandera schema for the domain rules on the typed rows (required ids and their formats,
  enums, non-negative quantities, known currencies).

Kinds (how the vendor writes the value on the wire):

============  =========================================  ==========================
kind          wire form                                   column type
============  =========================================  ==========================
str           JSON string                                 VARCHAR
int           JSON integer (Stripe minor units, counts)   BIGINT
epoch         JSON integer, Unix seconds (Stripe)         TIMESTAMPTZ
bool          JSON boolean                                BOOLEAN
number        JSON number (Salesforce currency, qty)      DECIMAL(18,2) / DOUBLE
sf_datetime   ``2026-04-01T12:34:56.000+0000``            TIMESTAMPTZ
date          ``2026-03-31`` (string)                     DATE
ns_str        string                                      VARCHAR
ns_int        string of digits                            BIGINT
ns_decimal    string number, no trailing zeros            DECIMAL(18,2) / (18,8)
ns_bool       ``'T'`` / ``'F'``                           BOOLEAN
ns_timestamp  ``2026-03-31 23:59:59`` (UTC, no zone)      TIMESTAMPTZ
json          any JSON (kept as is)                       JSON
============  =========================================  ==========================
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.schemas.currencies import ISO_CURRENCIES

SQL_TYPES = {
    "str": "VARCHAR",
    "int": "BIGINT",
    "epoch": "TIMESTAMPTZ",
    "bool": "BOOLEAN",
    "number": "DECIMAL(18,2)",
    "sf_datetime": "TIMESTAMPTZ",
    "date": "DATE",
    "ns_str": "VARCHAR",
    "ns_int": "BIGINT",
    "ns_decimal": "DECIMAL(18,2)",
    "ns_bool": "BOOLEAN",
    "ns_timestamp": "TIMESTAMPTZ",
    "json": "JSON",
}


@dataclass(frozen=True)
class Field:
    """One typed column of a raw table.

    Attributes:
        name: Column name in the raw table.
        kind: Wire kind (see the module table).
        path: JSONPath inside the record (default ``$.<name>``).
        required: The record is quarantined when the value is missing or null.
        pattern: Regular expression the string must match (ids and their formats).
        enum: The values the vendor defines.
        min_value: Smallest allowed number (``0`` for quantities).
        currency: The value is an ISO 4217 currency code (any case).
        sql_type: Column type when it differs from the kind's default.
        sf_checksum: The value is an 18-character Salesforce id whose checksum must hold.
        alt_paths: Where older API versions or other exporters put the same value, tried in
            order when ``path`` is absent or null (a Stripe invoice's subscription is
            ``$.parent.subscription_details.subscription`` today, ``$.subscription`` before
            API version 2025-03-31).
    """

    name: str
    kind: str
    path: str | None = None
    required: bool = False
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    min_value: float | None = None
    currency: bool = False
    sql_type: str | None = None
    sf_checksum: bool = False
    alt_paths: tuple[str, ...] = ()

    @property
    def json_path(self) -> str:
        return self.path or f"$.{self.name}"

    @property
    def json_paths(self) -> tuple[str, ...]:
        """Every place the value may be, in the order they are tried."""
        return (self.json_path, *self.alt_paths)

    @property
    def column_type(self) -> str:
        return self.sql_type or SQL_TYPES[self.kind]


@dataclass(frozen=True)
class ChildSpec:
    """A list nested in each record that lands in its own raw table (invoice lines…).

    ``path`` selects the list (``$.lines.data``); each child row carries its parent's key in
    ``parent_column`` and its 1-based ``position`` in the list.
    """

    table: str
    path: str
    parent_column: str
    fields: tuple[Field, ...]
    description: str = ""  # what a row is, for the dbt sources and the docs


@dataclass(frozen=True)
class Reference:
    """A reference inside one system's catalogue that must resolve at load time.

    ``column`` of this object (or of its ``child`` table) must name a row of
    ``target_table.target_column``, either in the same drop or already in the warehouse.
    """

    column: str
    target_table: str
    target_column: str = "id"
    child: str | None = None


@dataclass(frozen=True)
class Hold:
    """A record held back with the record it belongs to when that one is quarantined.

    ``column`` of this object names a record of ``target`` (an object of the same system, by
    its drop file stem). When that record is in quarantine and not loaded, this record is
    quarantined too, saying so: a subscription of a quarantined customer, a posting of a
    quarantined NetSuite transaction. Without it the dependant would load, point at nothing
    and fail the build's tests three steps later.
    """

    column: str
    target: str


@dataclass(frozen=True)
class ObjectSpec:
    """A source object: the file stem it arrives as, its raw table and its rules."""

    system: str
    name: str  # source-drop file stem: "invoices", "Opportunity", "transaction"
    table: str  # raw table name inside raw_<system>
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    modified_at: str | None = None  # SQL over typed columns: the object's own modification time
    children: tuple[ChildSpec, ...] = ()
    references: tuple[Reference, ...] = ()
    cursor: str | None = None  # column whose max is the batch's incremental cursor
    holds: tuple[Hold, ...] = ()  # held with the records they belong to (see Hold)
    # The drop contract: a required file missing or empty stops the run (an export that
    # produced nothing failed); an absent optional file means no records of that object.
    file_required: bool = False
    description: str = ""  # what a row is, for the dbt sources and the docs

    @property
    def file_name(self) -> str:
        """The file the object arrives as in a drop: ``<system>/<name>.jsonl``."""
        return f"{self.name}.jsonl"

    @property
    def qualified_table(self) -> str:
        return f"raw_{self.system}.{self.table}"

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.system}.{self.name} has no field {name!r}")


KNOWN_CURRENCIES = ISO_CURRENCIES
