"""History, watches and seen deliveries in SQLite or PostgreSQL: the schema, the store, the migrations."""

from bot.store.database import (
    DEFAULT_URL,
    MAX_INTERVAL,
    MIN_INTERVAL,
    WATCH_LIFETIME,
    HistoryEntry,
    ReportRow,
    Store,
    StoreError,
    Watch,
    WatchExistsError,
    WatchIntervalError,
    WatchState,
    alembic_config,
    history_lines,
    normalise_target,
    normalise_url,
)
from bot.store.schema import deliveries, metadata, reports, watches

__all__ = [
    "DEFAULT_URL",
    "MAX_INTERVAL",
    "MIN_INTERVAL",
    "WATCH_LIFETIME",
    "HistoryEntry",
    "ReportRow",
    "Store",
    "StoreError",
    "Watch",
    "WatchExistsError",
    "WatchIntervalError",
    "WatchState",
    "alembic_config",
    "deliveries",
    "history_lines",
    "metadata",
    "normalise_target",
    "normalise_url",
    "reports",
    "watches",
]
