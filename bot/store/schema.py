"""The tables: reports (every check the bot posted), watches (re-checks on a schedule) and
deliveries (the Slack requests already run, so a repeated one runs once).

One SQLAlchemy Core schema for SQLite and PostgreSQL; Alembic migrations under
`migrations/` create it. Times are aware UTC in Python and naive UTC in the columns.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the column (same on every dialect)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = sa.MetaData()

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("domain", sa.String(255), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=True),
    sa.Column("channel_id", sa.String(64), nullable=True),
    sa.Column("thread_ts", sa.String(32), nullable=True),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("report", sa.JSON, nullable=False),
    sa.Index("ix_reports_target_created", "target", "created_at"),
    # A person's last checks (App Home), newest first.
    sa.Index("ix_reports_user_created", "user_id", "created_at"),
)

watches = sa.Table(
    "watches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("domain", sa.String(255), nullable=True),
    sa.Column("channel_id", sa.String(64), nullable=False),
    sa.Column("thread_ts", sa.String(32), nullable=False, server_default=""),
    sa.Column("user_id", sa.String(64), nullable=True),
    sa.Column("every_seconds", sa.Integer, nullable=False),
    sa.Column("next_due_at", UtcDateTime(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("last_report", sa.JSON, nullable=True),
    sa.Column("state", sa.String(16), nullable=False, server_default="active"),
    sa.Column("stopped_reason", sa.Text, nullable=True),
    sa.Column("stopped_at", UtcDateTime(), nullable=True),
    sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", UtcDateTime(), nullable=True),
    sa.CheckConstraint(
        "state IN ('active', 'stopped', 'expired', 'clean')", name="ck_watches_state"
    ),
    sa.Index("ix_watches_due", "state", "next_due_at"),
    sa.Index("ix_watches_channel", "channel_id"),
    sa.Index(
        "ux_watches_active_target_thread",
        "target",
        "channel_id",
        "thread_ts",
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
        sqlite_where=sa.text("state = 'active'"),
    ),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    # A hex digest of the delivery's event id or signature (never the signature itself).
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Index("ix_deliveries_expires", "expires_at"),
)

monitors = sa.Table(
    "monitors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # What the person typed, canonical: a range (51.158.10.0/24) or a pool's name.
    sa.Column("target", sa.String(255), nullable=False),
    # The IPv4 networks it covers, as CIDR strings (a pool's ranges when it was started).
    sa.Column("networks", sa.JSON, nullable=False),
    sa.Column("addresses", sa.Integer, nullable=False),
    sa.Column("channel_id", sa.String(64), nullable=False),
    sa.Column("thread_ts", sa.String(32), nullable=False, server_default=""),
    sa.Column("user_id", sa.String(64), nullable=True),
    sa.Column("every_seconds", sa.Integer, nullable=False),
    sa.Column("next_due_at", UtcDateTime(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, server_default="active"),
    sa.Column("stopped_reason", sa.Text, nullable=True),
    sa.Column("stopped_at", UtcDateTime(), nullable=True),
    # Runs started (each one's chunks carry its number) and runs whose results are in.
    sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
    sa.Column("finished_run", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_run_at", UtcDateTime(), nullable=True),
    # {address: [list names]} as the last finished run saw it (for /metrics and App Home)...
    sa.Column("seen", sa.JSON, nullable=True),
    # ...and as the thread was last told (a change counts as told once Slack took the post).
    sa.Column("told", sa.JSON, nullable=True),
    # {replica: chunks} of the last finished run: how its work was shared out.
    sa.Column("last_run_by", sa.JSON, nullable=True),
    sa.CheckConstraint("state IN ('active', 'stopped')", name="ck_monitors_state"),
    sa.Index("ix_monitors_due", "state", "next_due_at"),
    sa.Index("ix_monitors_channel", "channel_id"),
    sa.Index(
        "ux_monitors_active_target_channel",
        "target",
        "channel_id",
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
        sqlite_where=sa.text("state = 'active'"),
    ),
)

monitor_chunks = sa.Table(
    "monitor_chunks",
    metadata,
    sa.Column("monitor_id", sa.Integer, sa.ForeignKey("monitors.id"), primary_key=True),
    sa.Column("run", sa.Integer, primary_key=True),
    sa.Column("chunk", sa.Integer, primary_key=True),
    # The chunk's addresses: `count` addresses from `network`'s address number `first`.
    sa.Column("network", sa.String(64), nullable=False),
    sa.Column("first", sa.Integer, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", UtcDateTime(), nullable=True),
    sa.Column("done_by", sa.String(64), nullable=True),
    # {address: [list names]} for the chunk's listed addresses, once done.
    sa.Column("listed", sa.JSON, nullable=True),
    sa.Column("unchecked", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("state IN ('pending', 'done')", name="ck_monitor_chunks_state"),
    sa.Index("ix_monitor_chunks_state", "state", "lease_until"),
)
