"""The resolver's memory is bounded: a sweep of expired answers, an LRU cap, counts not names.

The bot keeps one resolver for its lifetime and grew by about 40 kB per distinct check:
expired answers stayed until the same question came again (most never do), and every
name ever sent was kept in a counter.
"""

from __future__ import annotations

import sys

import pytest

from bot.config import ConfigError, make_resolver, settings_from_env
from handlers.dns.resolver import DEFAULT_CACHE_SIZE, SWEEP_EVERY, Resolver
from tests.support.dns_server import DnsServer


def names(n: int) -> list[str]:
    return [f"host{i}.example-mail.net" for i in range(n)]


def resolver_on(server: DnsServer, **kwargs: object) -> Resolver:
    return Resolver([(server.host, server.port)], timeout=0.5, **kwargs)  # type: ignore[arg-type]


async def test_the_cache_keeps_at_most_cache_size_answers(dns_server: DnsServer) -> None:
    resolver = resolver_on(dns_server, cache_size=3)
    for name in names(5):
        await resolver.lookup(name, "A")
    assert resolver.cached == 3
    await resolver.lookup("host4.example-mail.net", "A")  # the newest is still cached
    assert len(dns_server.questions("host4.example-mail.net")) == 1
    await resolver.lookup("host0.example-mail.net", "A")  # the oldest was dropped
    assert len(dns_server.questions("host0.example-mail.net")) == 2


async def test_the_least_recently_used_goes_first(dns_server: DnsServer) -> None:
    resolver = resolver_on(dns_server, cache_size=3)
    for name in names(3):
        await resolver.lookup(name, "A")
    await resolver.lookup("host0.example-mail.net", "A")  # a hit makes it recent
    await resolver.lookup("host3.example-mail.net", "A")  # host1 goes, not host0
    await resolver.lookup("host0.example-mail.net", "A")
    await resolver.lookup("host1.example-mail.net", "A")
    assert len(dns_server.questions("host0.example-mail.net")) == 1
    assert len(dns_server.questions("host1.example-mail.net")) == 2


async def test_expired_answers_are_swept_without_being_asked_again(dns_server: DnsServer) -> None:
    now = [1000.0]
    resolver = resolver_on(dns_server, clock=lambda: now[0])
    for name in names(50):
        dns_server.add(name, "A", "51.158.10.22", ttl=60)
        await resolver.lookup(name, "A")
    assert resolver.cached == 50
    now[0] += max(61, SWEEP_EVERY + 1)
    await resolver.lookup("fresh.example-mail.net", "A")  # any new answer triggers the sweep
    assert resolver.cached == 1


async def test_counts_not_names(dns_server: DnsServer) -> None:
    resolver = resolver_on(dns_server, cache_size=10)
    for name in names(300):
        await resolver.lookup(name, "A")
    assert resolver.questions_sent == 300 == len(dns_server.questions())
    assert not hasattr(resolver, "sent")
    held = [v for v in vars(resolver).values() if isinstance(v, (dict, list, set))]
    assert all(len(v) <= 10 for v in held), [type(v) for v in held]
    assert sys.getsizeof(resolver._cache) < 2000


async def test_cache_size_zero_caches_nothing(dns_server: DnsServer) -> None:
    resolver = resolver_on(dns_server, cache_size=0)
    await resolver.lookup("host0.example-mail.net", "A")
    await resolver.lookup("host0.example-mail.net", "A")
    assert resolver.cached == 0 and resolver.questions_sent == 2


def test_the_size_is_a_setting() -> None:
    assert settings_from_env({}).dns_cache_size == DEFAULT_CACHE_SIZE
    settings = settings_from_env({"SMTPCHECK_DNS_CACHE_SIZE": "500"})
    assert make_resolver(settings).cache_size == 500
    with pytest.raises(ConfigError, match="SMTPCHECK_DNS_CACHE_SIZE"):
        settings_from_env({"SMTPCHECK_DNS_CACHE_SIZE": "lots"})
