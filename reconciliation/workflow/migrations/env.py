"""Alembic environment of the workflow store: migrations run on the caller's connection."""

from __future__ import annotations

from alembic import context

from reconciliation.workflow.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the workflow store's migrations run from revops (reconciliation.workflow.migrate), "
        "which passes its connection; set config.attributes['connection'] to run them by hand"
    )
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
