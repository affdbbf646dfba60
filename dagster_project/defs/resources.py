"""Resources shared by every asset: where revops keeps its files, and its settings.

Values come from environment variables through ``dg.EnvVar`` (read at run time, never
written into the definitions or shown in the UI). Source credentials (``STRIPE_API_KEY``,
``SALESFORCE_*``, ``NETSUITE_*``) will be bound the same way, only ever through ``EnvVar``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import overload

import dagster as dg
import duckdb
from pydantic import Field

from connectors.drop import SOURCE_DIR_ENV, default_drop_dir
from connectors.load.api_mode import NetSuiteSource, SalesforceSource, StripeSource
from connectors.load.warehouse import connect
from reconciliation.workflow.store import store_url

DEFAULT_HOME = "data"
DEFAULT_REPORTING_CURRENCY = "USD"


class RevopsSettings(dg.ConfigurableResource):
    """Runtime home, source drop and reporting currency of a revops run."""

    home: str = Field(
        default=DEFAULT_HOME,
        description="REVOPS_HOME: warehouse, landing, serving, reports; relative to the cwd.",
    )
    source_dir: str | None = Field(
        default=None,
        description=f"Source drop directory (files mode); defaults to ${SOURCE_DIR_ENV}, else "
        "$REVOPS_HOME/drop.",
    )
    reporting_currency: str = Field(
        default=DEFAULT_REPORTING_CURRENCY,
        description="REVOPS_REPORTING_CURRENCY: ISO 4217 code metrics are reported in.",
    )
    source: str = Field(
        default="files",
        description="REVOPS_SOURCE: 'files' (a source drop) or 'api' (the vendors' APIs).",
    )
    salesforce_org_currency: str | None = Field(
        default=None,
        description="REVOPS_SALESFORCE_ORG_CURRENCY: the currency of a Salesforce org without "
        "multi-currency (default: the reporting currency).",
    )
    workflow_db: str | None = Field(
        default=None,
        description="REVOPS_WORKFLOW_DB: SQLAlchemy URL of the exception workflow store "
        "(default: the SQLite file $REVOPS_HOME/workflow.sqlite).",
    )

    @property
    def home_path(self) -> Path:
        """The runtime home as an absolute path."""
        return Path(self.home).expanduser().resolve()

    @property
    def workflow_url(self) -> str:
        """The workflow store's SQLAlchemy URL (secret-bearing: never log it whole)."""
        return store_url(self.home_path, self.workflow_db)

    @property
    def warehouse_path(self) -> Path:
        """The run's DuckDB warehouse (the file ``dbt/profiles.yml`` points dbt at too)."""
        return self.home_path / "warehouse.duckdb"

    @contextmanager
    def warehouse(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The warehouse, opened for one step and closed after it: every step opens it here
        (UTC session, the raw_meta bookkeeping tables; one writer at a time, pool
        ``duckdb_warehouse``)."""
        con = connect(self.warehouse_path, read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    @property
    def source_path(self) -> Path:
        """The source drop directory as an absolute path."""
        if self.source_dir:
            return Path(self.source_dir).expanduser().resolve()
        return default_drop_dir(self.home_path)


class StripeApi(dg.ConfigurableResource):
    """Stripe in api mode. The key is only ever read from STRIPE_API_KEY at run time."""

    api_key: str | None = Field(default=None, description="STRIPE_API_KEY")
    base_url: str = Field(default="https://api.stripe.com", description="STRIPE_API_BASE")
    usage_export: str | None = Field(
        default=None, description="REVOPS_USAGE_EXPORT: the product's meter_events.jsonl"
    )

    def source(self) -> StripeSource:
        _require("STRIPE_API_KEY", self.api_key)
        usage = Path(self.usage_export) if self.usage_export else None
        return StripeSource(str(self.api_key), self.base_url, usage_export=usage)


class SalesforceApi(dg.ConfigurableResource):
    """Salesforce in api mode (OAuth client credentials flow of a connected app)."""

    instance_url: str | None = Field(default=None, description="SALESFORCE_INSTANCE_URL")
    client_id: str | None = Field(default=None, description="SALESFORCE_CLIENT_ID")
    client_secret: str | None = Field(default=None, description="SALESFORCE_CLIENT_SECRET")
    ca_bundle: str | None = Field(default=None, description="SALESFORCE_CA_BUNDLE")

    def source(self) -> SalesforceSource:
        _require("SALESFORCE_INSTANCE_URL", self.instance_url)
        _require("SALESFORCE_CLIENT_ID", self.client_id)
        _require("SALESFORCE_CLIENT_SECRET", self.client_secret)
        return SalesforceSource(
            str(self.instance_url),
            str(self.client_id),
            str(self.client_secret),
            self.ca_bundle or True,
        )


class NetSuiteApi(dg.ConfigurableResource):
    """NetSuite SuiteQL in api mode (token-based auth, HMAC-SHA256)."""

    base_url: str | None = Field(default=None, description="NETSUITE_BASE_URL")
    account_id: str | None = Field(default=None, description="NETSUITE_ACCOUNT_ID")
    consumer_key: str | None = Field(default=None, description="NETSUITE_CONSUMER_KEY")
    consumer_secret: str | None = Field(default=None, description="NETSUITE_CONSUMER_SECRET")
    token_id: str | None = Field(default=None, description="NETSUITE_TOKEN_ID")
    token_secret: str | None = Field(default=None, description="NETSUITE_TOKEN_SECRET")
    ca_bundle: str | None = Field(default=None, description="NETSUITE_CA_BUNDLE")

    def source(self) -> NetSuiteSource:
        for name in (
            "base_url",
            "account_id",
            "consumer_key",
            "consumer_secret",
            "token_id",
            "token_secret",
        ):
            _require(f"NETSUITE_{name.upper()}", getattr(self, name))
        return NetSuiteSource(
            str(self.base_url),
            str(self.account_id),
            str(self.consumer_key),
            str(self.consumer_secret),
            str(self.token_id),
            str(self.token_secret),
            self.ca_bundle or True,
        )


class MissingCredential(ValueError):
    """api mode needs an environment variable that is not set."""


def _require(name: str, value: object) -> None:
    if not value:
        raise MissingCredential(
            f"api mode needs {name}: set it in the environment (never in code or config files)"
        )


@overload
def _env_or(name: str, default: str) -> str: ...
@overload
def _env_or(name: str, default: None) -> str | None: ...
def _env_or(name: str, default: str | None) -> str | None:
    """``dg.EnvVar(name)`` when the variable is set, so its value is read at run time only."""
    return dg.EnvVar(name) if name in os.environ else default


@dg.definitions
def resources() -> dg.Definitions:
    """Bind ``settings`` for every asset in the code location."""
    return dg.Definitions(
        resources={
            "settings": RevopsSettings(
                home=_env_or("REVOPS_HOME", DEFAULT_HOME),
                reporting_currency=_env_or("REVOPS_REPORTING_CURRENCY", DEFAULT_REPORTING_CURRENCY),
                source=_env_or("REVOPS_SOURCE", "files"),
                salesforce_org_currency=_env_or("REVOPS_SALESFORCE_ORG_CURRENCY", None),
                workflow_db=_env_or("REVOPS_WORKFLOW_DB", None),
            ),
            "stripe_api": StripeApi(
                api_key=_env_or("STRIPE_API_KEY", None),
                base_url=_env_or("STRIPE_API_BASE", "https://api.stripe.com"),
                usage_export=_env_or("REVOPS_USAGE_EXPORT", None),
            ),
            "salesforce_api": SalesforceApi(
                **{f: _env_or(f"SALESFORCE_{f.upper()}", None) for f in SALESFORCE_FIELDS}
            ),
            "netsuite_api": NetSuiteApi(
                **{f: _env_or(f"NETSUITE_{f.upper()}", None) for f in NETSUITE_FIELDS}
            ),
        }
    )


SALESFORCE_FIELDS = ("instance_url", "client_id", "client_secret", "ca_bundle")
NETSUITE_FIELDS = (
    "base_url",
    "account_id",
    "consumer_key",
    "consumer_secret",
    "token_id",
    "token_secret",
    "ca_bundle",
)
