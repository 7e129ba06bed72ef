"""Alembic environment: runs on the connection `bot.store` hands over (or its own from the URL).

Configured in code by `bot.store.database.alembic_config`, so nothing depends on an alembic.ini or on
the working directory. With several replicas starting at once on PostgreSQL, an advisory
lock held for the migration's transaction lets exactly one of them upgrade.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

#: Any fixed number: the key of the advisory lock migrations take on PostgreSQL.
_MIGRATION_LOCK = 0x5354_5043  # "STPC"


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise SystemExit("smtpcheck migrations run online only (Store.open applies them).")
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = create_engine(
        context.config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        _run(connection)
        connection.commit()


_main()
