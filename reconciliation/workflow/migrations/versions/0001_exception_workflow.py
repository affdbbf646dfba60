"""The exception workflow: people's state of each exception and the audit of every action.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exception_states",
        sa.Column("exception_id", sa.String(64), primary_key=True),
        sa.Column("check_id", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(200)),
        sa.Column("snoozed_until", sa.Date),
        sa.Column("accepted_reason", sa.Text),
        sa.Column("accepted_amount", sa.Numeric(18, 2)),
        sa.Column("accepted_currency", sa.String(3)),
        sa.Column("accepted_detail", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "exception_actions",
        sa.Column("action_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("exception_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("state_after", sa.String(16), nullable=False),
    )
    op.create_index("ix_exception_actions_exception_id", "exception_actions", ["exception_id"])


def downgrade() -> None:
    op.drop_index("ix_exception_actions_exception_id", table_name="exception_actions")
    op.drop_table("exception_actions")
    op.drop_table("exception_states")
