"""Reports by person: App Home shows each person their last checks, newest first.

Revision ID: r0004
Revises: r0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "r0004"
down_revision: str | None = "r0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_reports_user_created", "reports", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_reports_user_created", table_name="reports")
