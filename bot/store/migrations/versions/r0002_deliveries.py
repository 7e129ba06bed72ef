"""Deliveries: the Slack requests already run, shared by every replica.

Revision ID: r0002
Revises: r0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision: str | None = "r0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_deliveries_expires", "deliveries", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_expires", table_name="deliveries")
    op.drop_table("deliveries")
