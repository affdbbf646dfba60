"""Resources shared by every asset: where revops keeps its files, and its settings.

Values come from environment variables through ``dg.EnvVar`` (read at run time, never
written into the definitions or shown in the UI). Source credentials (``STRIPE_API_KEY``,
``SALESFORCE_*``, ``NETSUITE_*``) will be bound the same way, only ever through ``EnvVar``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

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
        description="Source drop directory (files mode); defaults to $REVOPS_HOME/sandbox.",
    )
    reporting_currency: str = Field(
        default=DEFAULT_REPORTING_CURRENCY,
        description="REVOPS_REPORTING_CURRENCY: ISO 4217 code metrics are reported in.",
    )

    @property
    def home_path(self) -> Path:
        """The runtime home as an absolute path."""
        return Path(self.home).expanduser().resolve()

    @property
    def source_path(self) -> Path:
        """The source drop directory as an absolute path."""
        if self.source_dir:
            return Path(self.source_dir).expanduser().resolve()
        return self.home_path / "sandbox"


def _env_or(name: str, default: str) -> str | dg.EnvVar:
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
            )
        }
    )
