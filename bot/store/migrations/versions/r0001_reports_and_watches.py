"""Reports and watches.

Revision ID: r0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("domain", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("channel_id", sa.String(64), nullable=True),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
    )
    op.create_index("ix_reports_target_created", "reports", ["target", "created_at"])
    op.create_table(
        "watches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("domain", sa.String(255), nullable=True),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False, server_default=""),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("every_seconds", sa.Integer, nullable=False),
        sa.Column("next_due_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("last_report", sa.JSON, nullable=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="active"),
        sa.Column("stopped_reason", sa.Text, nullable=True),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "state IN ('active', 'stopped', 'expired', 'clean')", name="ck_watches_state"
        ),
    )
    op.create_index("ix_watches_due", "watches", ["state", "next_due_at"])
    op.create_index("ix_watches_channel", "watches", ["channel_id"])
    op.create_index(
        "ux_watches_active_target_thread",
        "watches",
        ["target", "channel_id", "thread_ts"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
        sqlite_where=sa.text("state = 'active'"),
    )


def downgrade() -> None:
    op.drop_table("watches")
    op.drop_table("reports")
