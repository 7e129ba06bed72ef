"""Empty databases for the store's tests: a SQLite file, or a fresh PostgreSQL schema.

Each PostgreSQL use gets its own schema (through `search_path` in the URL), dropped at
the end, so parallel runs do not collide. PostgreSQL must be reachable: tests using it
fail, not skip, when it is not (`.ci/run` starts it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of `kind`, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'smtpcheck.db'}"
        return
    schema = f"smtpcheck_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_URL} ({exc}). These tests must run against it: "
            "start it (the CI script does) instead of skipping them.",
            pytrace=False,
        )
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield f"{PG_URL}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
