"""Monitors: blocklists of whole ranges and egress pools on a schedule, run in chunks.

Revision ID: r0003
Revises: r0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0003"
down_revision: str | None = "r0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("networks", sa.JSON, nullable=False),
        sa.Column("addresses", sa.Integer, nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False, server_default=""),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("every_seconds", sa.Integer, nullable=False),
        sa.Column("next_due_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="active"),
        sa.Column("stopped_reason", sa.Text, nullable=True),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("finished_run", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("seen", sa.JSON, nullable=True),
        sa.Column("told", sa.JSON, nullable=True),
        sa.Column("last_run_by", sa.JSON, nullable=True),
        sa.CheckConstraint("state IN ('active', 'stopped')", name="ck_monitors_state"),
    )
    op.create_index("ix_monitors_due", "monitors", ["state", "next_due_at"])
    op.create_index("ix_monitors_channel", "monitors", ["channel_id"])
    op.create_index(
        "ux_monitors_active_target_channel",
        "monitors",
        ["target", "channel_id"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
        sqlite_where=sa.text("state = 'active'"),
    )
    op.create_table(
        "monitor_chunks",
        sa.Column("monitor_id", sa.Integer, sa.ForeignKey("monitors.id"), primary_key=True),
        sa.Column("run", sa.Integer, primary_key=True),
        sa.Column("chunk", sa.Integer, primary_key=True),
        sa.Column("network", sa.String(64), nullable=False),
        sa.Column("first", sa.Integer, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("done_by", sa.String(64), nullable=True),
        sa.Column("listed", sa.JSON, nullable=True),
        sa.Column("unchecked", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("state IN ('pending', 'done')", name="ck_monitor_chunks_state"),
    )
    op.create_index("ix_monitor_chunks_state", "monitor_chunks", ["state", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_monitor_chunks_state", table_name="monitor_chunks")
    op.drop_table("monitor_chunks")
    op.drop_index("ux_monitors_active_target_channel", table_name="monitors")
    op.drop_index("ix_monitors_channel", table_name="monitors")
    op.drop_index("ix_monitors_due", table_name="monitors")
    op.drop_table("monitors")
