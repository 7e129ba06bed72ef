"""Sharing and politeness: one set of questions for many engineers, a per-list rate, counts per list."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from handlers.catalogue import Code, Zone, builtin
from handlers.check import full_check
from handlers.dns.politeness import TOTALS, ListRate, QueryStats
from handlers.dns.resolver import Resolver
from handlers.dnsbl import check_dnsbl, query_name
from handlers.settings import Settings
from tests.support.dns_server import DnsServer, reverse_name

IP = "51.158.10.22"
ZEN = next(z for z in builtin() if z.zone == "zen.spamhaus.org")


def make_zone(zone: str) -> Zone:
    return Zone(
        zone=zone,
        name=zone.split(".")[0].upper(),
        kind="reputation",
        tier="secondary",
        lookup_url=f"https://lookup.example-bl.net/{zone}?ip={{ip}}",
        codes={"127.0.0.2": Code("spam source", "reputation")},
    )


def test_list_rate_spaces_one_key_and_leaves_others_alone() -> None:
    now = [100.0]
    rate = ListRate(rate=10, burst=2, clock=lambda: now[0])
    waits = [rate.delay("a.example-bl.net") for _ in range(5)]
    assert waits == [0.0, 0.0, 0.1, 0.2, 0.30000000000000004] or [round(w, 6) for w in waits] == [
        0.0,
        0.0,
        0.1,
        0.2,
        0.3,
    ]
    assert rate.delay("b.example-bl.net") == 0.0  # another list is not held up
    now[0] += 10  # after a quiet spell the burst is available again
    assert rate.delay("a.example-bl.net") == 0.0
    assert ListRate(rate=0).delay("x") == 0.0  # 0 disables the limit


async def test_ten_engineers_checking_one_address_cause_one_set_of_questions(
    dns_server: DnsServer,
) -> None:
    for zone in builtin():
        dns_server.add(query_name("127.0.0.2", zone.zone), "A", "127.0.0.2")
    dns_server.add(query_name(IP, "zen.spamhaus.org"), "A", "127.0.0.2")
    dns_server.add(query_name(IP, "zen.spamhaus.org"), "TXT", "https://www.spamhaus.org/sbl/")
    dns_server.add(reverse_name(IP, "in-addr.arpa"), "PTR", "mail.example-mail.net.")
    dns_server.add("mail.example-mail.net", "A", IP)
    dns_server.add("example-mail.net", "TXT", "v=spf1 include:_spf.shop-example.de -all")
    dns_server.add("_spf.shop-example.de", "TXT", "v=spf1 ip4:51.158.10.0/24 -all")
    dns_server.delay = 0.05  # long enough for every check to be in flight together
    resolver = Resolver([(dns_server.host, dns_server.port)], timeout=2.0)
    settings = Settings()

    reports = await asyncio.gather(
        *(full_check(IP, "example-mail.net", resolver, settings) for _ in range(10))
    )

    assert {r.verdict for r in reports} == {"fail"}
    assert {r.checks["spf"].status for r in reports} == {"ok"}
    asked = Counter((q.name, q.rdtype) for q in dns_server.questions())
    assert asked and max(asked.values()) == 1, [k for k, n in asked.items() if n > 1]
    assert resolver.questions_sent == len(asked)
    # the set is what one check asks: every list about the address, plus PTR and SPF
    for zone in (z for z in builtin() if z.ipv4):
        assert asked[(query_name(IP, zone.zone), "A")] == 1
    assert asked[("example-mail.net", "TXT")] == 1


async def test_per_list_rate_slows_only_the_busy_list(dns_server: DnsServer) -> None:
    """40 questions to one list at 20/s are spaced 50 ms apart; another list's are not.

    Stated without a duration: the resolver's clock is frozen, so the slots `ListRate`
    hands out are exact (the nth question to a list waits n x 50 ms, counted per list;
    a question with no list reserves no slot at all), and the server's log shows the order
    that follows: the quiet list's questions all arrive before the busy list's last one.
    """
    busy, quiet = make_zone("busy.example-bl.net"), make_zone("quiet.example-bl.net")
    resolver = Resolver(
        [(dns_server.host, dns_server.port)],
        timeout=30,
        per_list_rate=20,
        per_list_burst=1,
        clock=lambda: 1000.0,  # frozen: every slot is reserved at the same instant
    )
    reserved: list[tuple[str, float]] = []
    reserve = resolver.list_rate.delay

    def recording(key: str) -> float:
        wait = reserve(key)
        reserved.append((key, wait))
        return wait

    resolver.list_rate.delay = recording  # type: ignore[method-assign]

    async def ask(zone: Zone, count: int) -> None:
        answers = await asyncio.gather(
            *(
                resolver.lookup(query_name(f"51.158.11.{i}", zone.zone), "A", zone=zone)
                for i in range(count)
            )
        )
        assert {a.outcome for a in answers} == {"nxdomain"}

    await asyncio.gather(ask(busy, 40), ask(quiet, 3))
    waits = {key: [w for k, w in reserved if k == key] for key, _ in reserved}
    assert waits[busy.zone] == pytest.approx([n * 0.05 for n in range(40)])
    # the other list keeps its own spacing, as if the busy one were not there
    assert waits[quiet.zone] == pytest.approx([n * 0.05 for n in range(3)])
    log = dns_server.questions()
    assert len(log) == 43
    last_busy = max(i for i, q in enumerate(log) if q.name.endswith(busy.zone))
    assert all(i < last_busy for i, q in enumerate(log) if q.name.endswith(quiet.zone))

    # questions without a list (PTR, SPF, names) are never spaced: no slot is even reserved
    reserved.clear()
    await asyncio.gather(*(resolver.lookup(f"h{i}.example-mail.net", "A") for i in range(40)))
    assert reserved == []
    assert len(dns_server.questions()) == 83


async def test_counts_per_list_by_outcome(dns_server: DnsServer) -> None:
    silent = make_zone("silent.example-bl.net")
    broken = make_zone("broken.example-bl.net")
    dns_server.add(query_name("127.0.0.2", "zen.spamhaus.org"), "A", "127.0.0.2")
    dns_server.add(query_name(IP, "zen.spamhaus.org"), "A", "127.0.0.4")
    dns_server.misbehave("silent.example-bl.net", "timeout")
    dns_server.misbehave("broken.example-bl.net", "servfail")
    resolver = Resolver([(dns_server.host, dns_server.port)], timeout=0.3)
    before = TOTALS.total("zen.spamhaus.org")

    await check_dnsbl(IP, resolver, Settings(catalogue=(ZEN, silent, broken)))

    zen = resolver.stats.by_zone("zen.spamhaus.org")
    # A (listed) + TXT of the listing (listed) + positive test point (listed) + negative (clean)
    assert zen == {"listed": 3, "clean": 1, "timeout": 0, "blocked": 0, "error": 0}
    assert resolver.stats.by_zone("silent.example-bl.net")["timeout"] == 3
    assert resolver.stats.by_zone("broken.example-bl.net")["error"] == 3
    assert TOTALS.total("zen.spamhaus.org") - before == 4  # process totals follow

    blocked = Resolver([(dns_server.host, dns_server.port)], timeout=0.3)
    dns_server.clear()
    dns_server.answer_everything("zen.spamhaus.org", "A", "127.255.255.254")
    await check_dnsbl("51.158.10.23", blocked, Settings(catalogue=(ZEN,)))
    assert blocked.stats.by_zone("zen.spamhaus.org")["blocked"] == 3


def test_stats_add_into_their_parent() -> None:
    parent = QueryStats()
    child = QueryStats(parent=parent)
    child.record("zen.spamhaus.org", "listed")
    child.record("zen.spamhaus.org", "clean")
    assert (
        parent.snapshot()
        == child.snapshot()
        == {
            ("zen.spamhaus.org", "listed"): 1,
            ("zen.spamhaus.org", "clean"): 1,
        }
    )
