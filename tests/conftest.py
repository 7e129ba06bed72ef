"""Shared fixtures: a real DNS server on loopback, and an environment that can reach nothing else."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import Store
from handlers.dns.resolver import Resolver
from tests.support.databases import BACKENDS, fresh_database
from tests.support.dns_server import ANSWER_TIMEOUT, SILENCE_TIMEOUT, DnsServer
from tests.support.fake_slack import FakeSlack

# Nothing in the suite may ever ask the machine's own resolver: point every lookup at a
# port on loopback where nothing listens unless a test starts its server there.
os.environ["SMTPCHECK_NAMESERVERS"] = "127.0.0.1:9"
os.environ.pop("SPAMHAUS_DQS_KEY", None)
os.environ.pop("SMTPCHECK_ZONES", None)
os.environ.pop("SMTPCHECK_POOLS", None)


@pytest.fixture(scope="session")
def dns_server_session() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


@pytest.fixture
def dns_server(
    dns_server_session: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DnsServer]:
    """The test DNS server, emptied, with SMTPCHECK_NAMESERVERS pointing at it."""
    dns_server_session.clear()
    monkeypatch.setenv("SMTPCHECK_NAMESERVERS", dns_server_session.address)
    yield dns_server_session
    dns_server_session.clear()


@pytest.fixture
def resolver(dns_server: DnsServer) -> Resolver:
    """A resolver talking only to the test DNS server, for questions it answers."""
    return Resolver([(dns_server.host, dns_server.port)], timeout=ANSWER_TIMEOUT)


@pytest.fixture
def short_resolver(dns_server: DnsServer) -> Resolver:
    """The same with a short timeout, for tests that need a timeout to fire."""
    return Resolver([(dns_server.host, dns_server.port)], timeout=SILENCE_TIMEOUT)


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    """A fake Slack Web API on 127.0.0.1, one per test module (each module starts its own bot)."""
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, once SQLite and once PostgreSQL: the store tests run on both."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store.open(db_url)
    yield opened
    opened.close()
