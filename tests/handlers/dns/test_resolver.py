"""The shared resolver over real UDP/TCP against the test DNS server."""

from __future__ import annotations

import asyncio

import pytest

from handlers.dns.resolver import NameserverSpecError, Resolver, parse_nameservers
from tests.support.dns_server import ANSWER_TIMEOUT, DnsServer


def test_parse_nameservers_forms() -> None:
    assert parse_nameservers("192.0.2.1") == [("192.0.2.1", 53)]
    assert parse_nameservers("127.0.0.1:5353, [::1]:5300,[2001:db8::1]") == [
        ("127.0.0.1", 5353),
        ("::1", 5300),
        ("2001:db8::1", 53),
    ]
    assert parse_nameservers("2001:db8::2") == [("2001:db8::2", 53)]


@pytest.mark.parametrize(
    "spec", ["", "nameserver", "1.2.3.4:0", "1.2.3.4:99999", "[::1", "[::1]x", "1.2.3.4:x"]
)
def test_parse_nameservers_rejects(spec: str) -> None:
    with pytest.raises(NameserverSpecError):
        parse_nameservers(spec)


async def test_answer_nxdomain_nodata(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add("mail.example.net", "A", "51.158.10.22")
    dns_server.add("mail.example.net", "TXT", "hello world")
    a = await resolver.lookup("mail.example.net.", "A")
    assert (a.outcome, a.records) == ("answer", ("51.158.10.22",))
    txt = await resolver.lookup("mail.example.net", "TXT")
    assert txt.records == ("hello world",)
    assert (await resolver.lookup("nope.example.net", "A")).outcome == "nxdomain"
    assert (await resolver.lookup("mail.example.net", "AAAA")).outcome == "nodata"


async def test_long_txt_over_tcp(resolver: Resolver, dns_server: DnsServer) -> None:
    long = "v=spf1 " + " ".join(f"ip4:51.158.{i}.0/24" for i in range(60)) + " -all"
    dns_server.add("big.example.net", "TXT", long, long + " ")
    answer = await resolver.lookup("big.example.net", "TXT")
    assert sorted(answer.records) == sorted([long, long + " "])
    assert any(q.transport == "tcp" for q in dns_server.questions("big.example.net"))


async def test_failures_told_apart(
    resolver: Resolver, short_resolver: Resolver, dns_server: DnsServer
) -> None:
    dns_server.misbehave("slow.example", "timeout")
    dns_server.misbehave("broken.example", "servfail")
    dns_server.misbehave("closed.example", "refused")
    # The silence waits out a short timeout; the answers get the generous one.
    slow, broken, closed = await asyncio.gather(
        short_resolver.lookup("x.slow.example", "A"),
        resolver.lookup("x.broken.example", "A"),
        resolver.lookup("x.closed.example", "A"),
    )
    assert slow.outcome == "timeout"
    assert broken.outcome == "servfail"
    assert closed.outcome == "refused"


async def test_cache_honours_ttl(dns_server: DnsServer) -> None:
    now = [1000.0]
    resolver = Resolver(
        [(dns_server.host, dns_server.port)], timeout=ANSWER_TIMEOUT, clock=lambda: now[0]
    )
    dns_server.add("ttl.example.net", "A", "51.158.10.1", ttl=30)
    await resolver.lookup("ttl.example.net", "A")
    await resolver.lookup("TTL.example.net.", "A")
    assert len(dns_server.questions("ttl.example.net")) == 1
    now[0] += 31
    await resolver.lookup("ttl.example.net", "A")
    assert len(dns_server.questions("ttl.example.net")) == 2


async def test_errors_are_not_cached(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.misbehave("flaky.example", "servfail")
    assert (await resolver.lookup("a.flaky.example", "A")).outcome == "servfail"
    dns_server.clear()
    dns_server.add("a.flaky.example", "A", "51.158.10.9")
    assert (await resolver.lookup("a.flaky.example", "A")).records == ("51.158.10.9",)


async def test_identical_questions_in_flight_asked_once(
    resolver: Resolver, dns_server: DnsServer
) -> None:
    dns_server.add("same.example.net", "A", "51.158.10.2")
    dns_server.delay = 0.1
    answers = await asyncio.gather(*(resolver.lookup("same.example.net", "A") for _ in range(20)))
    assert {a.records for a in answers} == {("51.158.10.2",)}
    assert len(dns_server.questions("same.example.net")) == 1
    assert resolver.questions_sent == 1


async def test_cap_on_questions_in_flight(dns_server: DnsServer) -> None:
    """12 questions, 4 at a time: three waves, each sent only once the one before is answered.

    Shown with the held server instead of a duration: while nothing is answered, exactly
    four questions arrive; letting one wave's answers go (and holding again before the
    client can run) brings exactly four more.
    """
    # A timeout far beyond the test: a held wave must never look like a silent server.
    resolver = Resolver([(dns_server.host, dns_server.port)], timeout=600, max_in_flight=4)
    dns_server.hold()
    lookups = asyncio.gather(*(resolver.lookup(f"n{i}.example.net", "A") for i in range(12)))
    try:
        for wave in (1, 2, 3):
            await dns_server.until_questions(4 * wave)
            for _ in range(20):  # the client had every chance to send a fifth: it did not
                await asyncio.sleep(0.005)
            assert len({q.name for q in dns_server.questions()}) == 4 * wave
            assert not lookups.done()
            dns_server.release()
            dns_server.hold()  # no await in between: the next wave waits at the gate
        dns_server.release()
        answers = await asyncio.wait_for(lookups, 30)  # a hang guard, not a speed figure
    finally:
        dns_server.release()
        lookups.cancel()
    assert {a.outcome for a in answers} == {"nxdomain"}
    assert resolver.questions_sent == 12
    assert len(dns_server.questions()) == 12


async def test_long_ttls_are_capped(dns_server: DnsServer) -> None:
    """A day-long TTL is kept five minutes at most: a delisting must show up soon."""
    now = [0.0]
    resolver = Resolver(
        [(dns_server.host, dns_server.port)], timeout=ANSWER_TIMEOUT, clock=lambda: now[0]
    )
    dns_server.add("long.example.net", "A", "51.158.10.3", ttl=86400)
    await resolver.lookup("long.example.net", "A")
    now[0] += 299
    await resolver.lookup("long.example.net", "A")
    assert len(dns_server.questions("long.example.net")) == 1
    now[0] += 2
    await resolver.lookup("long.example.net", "A")
    assert len(dns_server.questions("long.example.net")) == 2
