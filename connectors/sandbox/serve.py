"""Serve a sandbox drop over the three vendors' real wire protocols, for trying api mode.

``serve_all`` starts the fake Stripe (http), Salesforce (https) and NetSuite (https) APIs on
free loopback ports and returns the environment a pipeline run needs to extract from them.
The credentials are made up per start; they are written to a file readable by the owner
only, never printed. The three answer with ``Date:`` = the drop's ``exported_at`` (their
clocks stand at the export instant), so an api-mode run against them is as of the export,
like a files-mode run on the same drop.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from connectors.sandbox.fake_netsuite import FakeNetSuite
from connectors.sandbox.fake_salesforce import FakeSalesforce
from connectors.sandbox.fake_stripe import FakeServer, start_fake_stripe
from connectors.sandbox.faults import FaultPlan


@dataclass
class Served:
    """The three running fakes and the environment that points a run at them."""

    stripe: FakeServer
    salesforce: FakeSalesforce
    netsuite: FakeNetSuite
    env: dict[str, str] = field(default_factory=dict)

    @property
    def as_of(self) -> datetime | None:
        """The instant the fakes' clocks show (``None``: the live clock)."""
        return self.stripe.clock.instant

    def stop(self) -> None:
        self.stripe.stop()
        self.salesforce.stop()
        self.netsuite.stop()

    def write_env(self, path: Path) -> Path:
        """Write ``export NAME=value`` lines to ``path`` (mode 0600)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for name, value in self.env.items():
                fh.write(f"export {name}='{value}'\n")
        return path


def serve_all(drop_dir: Path, faults: str | None = None, date: datetime | None = None) -> Served:
    """Start the three fakes on ``drop_dir`` (each with its own copy of the fault plan).

    ``date`` sets the instant their ``Date`` headers show (default: the drop's exported_at).
    """
    api_key = "sk_test_" + secrets.token_hex(16)
    stripe = start_fake_stripe(drop_dir, api_key, FaultPlan.from_spec(faults), date=date)
    salesforce = FakeSalesforce(drop_dir, faults=FaultPlan.from_spec(faults), date=date).start()
    netsuite = FakeNetSuite(drop_dir, faults=FaultPlan.from_spec(faults), date=date).start()
    env = {
        "STRIPE_API_KEY": api_key,
        "STRIPE_API_BASE": stripe.url,
        "REVOPS_USAGE_EXPORT": str(Path(drop_dir, "stripe", "meter_events.jsonl").resolve()),
        "SALESFORCE_INSTANCE_URL": salesforce.url,
        "SALESFORCE_CLIENT_ID": salesforce.client_id,
        "SALESFORCE_CLIENT_SECRET": salesforce.client_secret,
        "SALESFORCE_CA_BUNDLE": salesforce.cert,
        "NETSUITE_BASE_URL": netsuite.url,
        "NETSUITE_ACCOUNT_ID": netsuite.account_id,
        "NETSUITE_CONSUMER_KEY": netsuite.consumer_key,
        "NETSUITE_CONSUMER_SECRET": netsuite.consumer_secret,
        "NETSUITE_TOKEN_ID": netsuite.token_id,
        "NETSUITE_TOKEN_SECRET": netsuite.token_secret,
        "NETSUITE_CA_BUNDLE": netsuite.cert,
    }
    return Served(stripe, salesforce, netsuite, env)
