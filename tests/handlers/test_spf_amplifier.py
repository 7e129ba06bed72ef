"""The SPF check cannot be used as an amplifier: hostile records on the loopback DNS server.

A record of 2,400 `a:` terms, or a tree of includes, made one check ask 18,153 questions
of names the record's author chose and write a 4.9 MB report. Each test counts the
questions the server actually received for one check.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from handlers.dns.budget import QuestionBudget
from handlers.dns.resolver import Resolver
from handlers.settings import Settings
from handlers.spf import check_spf
from handlers.spf_review import MAX_LOOKUPS, MAX_WARNINGS, review_spf
from tests.support.dns_server import DnsServer

DOMAIN = "example-hostile.net"
#: Short host names, so 2,400 terms still fit in one TXT record (64 kB over TCP).
HOST = "h{}.e-h.net"
IP = "51.158.10.22"
SETTINGS = Settings(timeout=3.0)


def fresh(server: DnsServer) -> Resolver:
    # Patient: the server builds a 36 kB answer of 2,400 terms, on a loaded machine.
    return Resolver([(server.host, server.port)], timeout=3.0)


def questions(server: DnsServer) -> int:
    """Questions the server received; a big record's TCP retry after UDP's TC is not one more."""
    return len(server.questions()) - len([q for q in server.questions() if q.transport == "tcp"])


@pytest.mark.parametrize("ip", [None, IP])
async def test_2400_a_terms(dns_server: DnsServer, ip: str | None) -> None:
    terms = " ".join("a:" + HOST.format(i) for i in range(2400))
    dns_server.add(DOMAIN, "TXT", f"v=spf1 {terms} -all")
    for i in range(2400):  # they all exist, so void lookups do not stop it early
        dns_server.add(HOST.format(i), "A", "192.0.2.1")
    result = await check_spf(DOMAIN, ip, fresh(dns_server), SETTINGS)
    # The review resolves ten terms (A and AAAA each), the evaluation at most eleven more.
    assert questions(dns_server) <= 1 + 2 * MAX_LOOKUPS + (MAX_LOOKUPS + 1 if ip else 0) + 2
    assert dns_server.questions(HOST.format(9))  # the tenth term was looked up
    assert not dns_server.questions(HOST.format(10))  # the eleventh: counted, not asked
    assert result.lookups == 2400
    assert result.status == "fail" and (ip is None or result.result == "permerror")
    warning = next(w for w in result.warnings if w.code == "too_many_lookups")
    assert "at least 2400" in warning.text and "2390 past the limit" in warning.text
    assert len(result.warnings) <= MAX_WARNINGS + 1
    report = json.dumps(result.to_json())
    assert len(report) < 2 * len(terms) + 20_000  # the record itself, and little else


async def test_a_wide_tree_of_includes(dns_server: DnsServer) -> None:
    """Each record includes ten more, three levels deep: 1,110 records if all were read."""

    def add(name: str, depth: int) -> None:
        if depth == 3:
            dns_server.add(name, "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
            return
        children = [f"i{n}.{name}" for n in range(10)]
        dns_server.add(
            name, "TXT", "v=spf1 " + " ".join(f"include:{c}" for c in children) + " -all"
        )
        for child in children:
            add(child, depth + 1)

    add(DOMAIN, 0)
    result = await check_spf(DOMAIN, IP, fresh(dns_server), SETTINGS)
    # Ten includes followed (one TXT each) by the review; pyspf shares them from the cache.
    assert questions(dns_server) <= 1 + MAX_LOOKUPS + 2
    assert result.result == "permerror" and result.status == "fail"
    assert result.lookups is not None and result.lookups > MAX_LOOKUPS


async def test_void_lookups_stop_after_the_limit(dns_server: DnsServer) -> None:
    terms = " ".join(f"a:gone{i}.{DOMAIN}" for i in range(50))
    dns_server.add(DOMAIN, "TXT", f"v=spf1 {terms} -all")
    review = await review_spf(DOMAIN, fresh(dns_server))
    # The third void lookup makes receivers fail (permerror): nothing after it is asked.
    assert review.void_lookups == 3
    assert questions(dns_server) == 1 + 3 * 2
    assert {"too_many_void_lookups", "too_many_lookups"} <= {w.code for w in review.warnings}


async def test_the_question_budget_stops_a_check_with_a_warning(dns_server: DnsServer) -> None:
    includes = " ".join(f"include:s{i}.{DOMAIN}" for i in range(8))
    dns_server.add(DOMAIN, "TXT", f"v=spf1 {includes} -all")
    for i in range(8):
        dns_server.add(f"s{i}.{DOMAIN}", "TXT", f"v=spf1 a:h{i}.{DOMAIN} -all")
    result = await check_spf(
        DOMAIN, IP, fresh(dns_server), Settings(timeout=3.0, question_budget=5)
    )
    assert questions(dns_server) <= 5
    assert "question_budget" in {w.code for w in result.warnings}
    assert result.status in ("error", "fail")


async def test_warnings_are_deduplicated_and_capped(dns_server: DnsServer) -> None:
    terms = " ".join(f"bogus{i}:x -all ptr" for i in range(300))
    dns_server.add(DOMAIN, "TXT", f"v=spf1 {terms}")
    review = await review_spf(DOMAIN, fresh(dns_server))
    codes = [w.code for w in review.warnings]
    assert len(review.warnings) == MAX_WARNINGS + 1 and codes[-1] == "more_warnings"
    assert codes.count("ptr_mechanism") == 1  # the same warning once
    assert len(set(review.warnings)) == len(review.warnings)


async def test_a_hostile_check_leaves_others_their_answers(dns_server: DnsServer) -> None:
    """One resolver, as in the bot: a hostile record's check and an ordinary one side by side."""
    terms = " ".join("a:" + HOST.format(i) for i in range(2400))
    dns_server.add(DOMAIN, "TXT", f"v=spf1 {terms} -all")
    dns_server.add("example-mail.net", "TXT", f"v=spf1 ip4:{IP} -all")
    resolver = fresh(dns_server)
    hostile, ordinary = await asyncio.gather(
        check_spf(DOMAIN, IP, resolver, SETTINGS),
        check_spf("example-mail.net", IP, resolver, SETTINGS),
    )
    assert ordinary.result == "pass" and hostile.result == "permerror"
    assert resolver.questions_sent <= 40


def test_a_budget_counts_cache_hits_too() -> None:
    """The bound does not depend on what other checks asked before."""
    budget = QuestionBudget(Resolver([("127.0.0.1", 9)], timeout=0.1), limit=0)

    async def ask() -> str:
        return (await budget.lookup("example.net", "A")).outcome

    assert asyncio.run(ask()) == "error" and budget.spent
