"""The blocklist check over real DNS against the loopback test server."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import Counter

import pytest

from handlers.catalogue import Code, Zone, builtin
from handlers.dns.resolver import Resolver
from handlers.dnsbl import (
    POLICY_ADVICE,
    SelfTestCache,
    check_dnsbl,
    query_name,
    reversed_address,
)
from handlers.settings import Settings
from tests.support.dns_server import ANSWER_TIMEOUT, DnsServer, reverse_name

IP = "51.158.10.22"
#: Seconds after which a check that should end is taken as hung: a liveness bound far above
#: any normal run, never a speed figure.
HANG_GUARD = 30
IP6 = "2a01:4f8:10a::25"
ZEN = next(z for z in builtin() if z.zone == "zen.spamhaus.org")
SPAMCOP = next(z for z in builtin() if z.zone == "bl.spamcop.net")
DNSWL = next(z for z in builtin() if z.zone == "list.dnswl.org")


def make_zone(zone: str, tier: str = "secondary", **kw: object) -> Zone:
    fields: dict[str, object] = {
        "name": zone.split(".")[0].upper(),
        "kind": "reputation",
        "tier": tier,
        "lookup_url": f"https://lookup.example-bl.net/{zone}?ip={{ip}}",
        "removal_url": f"https://lookup.example-bl.net/{zone}/remove?ip={{ip}}",
        "codes": {"127.0.0.2": Code(f"{zone}: spam source", "reputation")},
    }
    fields.update(kw)
    return Zone(zone=zone, **fields)  # type: ignore[arg-type]


def healthy(server: DnsServer, zone: str, family: int = 4) -> None:
    """Publish the RFC 5782 positive test point, as a live list does."""
    point = "127.0.0.2" if family == 4 else "::ffff:7f00:2"
    server.add(query_name(point, zone), "A", "127.0.0.2")


def settings(*zones: Zone, **kw: object) -> Settings:
    return Settings(catalogue=tuple(zones), **kw)  # type: ignore[arg-type]


async def run(ip: str, resolver: Resolver, s: Settings) -> object:
    return await check_dnsbl(ip, resolver, s, cache=SelfTestCache())


def test_query_names_ipv4_and_ipv6_nibbles() -> None:
    assert reversed_address(IP) == "22.10.158.51"
    assert query_name(IP, "zen.spamhaus.org.") == "22.10.158.51.zen.spamhaus.org"
    six = query_name(IP6, "zen.spamhaus.org")
    assert six == reverse_name(IP6, "zen.spamhaus.org")
    assert six.startswith("5.2.0.0.0.0.0.0.") and six.endswith(
        ".a.0.1.0.8.f.4.0.1.0.a.2.zen.spamhaus.org"
    )
    assert len(reversed_address(IP6).split(".")) == 32
    assert query_name("::ffff:7f00:2", "z.net").startswith("2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0")


@pytest.mark.parametrize("code", sorted(ZEN.codes))
async def test_each_zen_code_is_decoded(
    code: str, dns_server: DnsServer, resolver: Resolver
) -> None:
    healthy(dns_server, "zen.spamhaus.org")
    dns_server.add(query_name(IP, "zen.spamhaus.org"), "A", code)
    result = await run(IP, resolver, settings(ZEN))
    assert [item.zone for item in result.listed] == ["zen.spamhaus.org"]
    listing = result.listed[0]
    assert listing.codes == (code,)
    assert listing.meanings == (ZEN.codes[code].meaning,)
    policy = code in ("127.0.0.10", "127.0.0.11")
    assert listing.meanings[0].startswith("PBL" if policy else ("SBL", "CSS", "XBL", "DROP"))
    assert result.status == ("warn" if policy else "fail")
    assert listing.kind == ("policy" if policy else "reputation")
    assert result.summary == "Listed on 1 of 1 blocklists" + (
        ", policy listings only" if policy else ""
    )


async def test_pbl_only_is_warn_with_the_guides_explanation(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    for z in ("zen.spamhaus.org", "bl.spamcop.net"):
        healthy(dns_server, z)
    dns_server.add(query_name(IP, "zen.spamhaus.org"), "A", "127.0.0.10")
    result = await run(IP, resolver, settings(ZEN, SPAMCOP))
    assert result.status == "warn"
    assert result.clean == ["bl.spamcop.net"]
    [advice] = result.advice
    assert "smarthost" in advice.text and "authentication" in advice.text
    assert "only if a mail server really is meant to send directly" in advice.text
    assert advice.url == f"https://check.spamhaus.org/results/?query={IP}"
    assert advice.text == POLICY_ADVICE.format(
        list="Spamhaus ZEN", ip=IP, meaning=ZEN.codes["127.0.0.10"].meaning
    )


async def test_reputation_listing_fails_with_removal_page(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    for z in ("zen.spamhaus.org", "bl.spamcop.net"):
        healthy(dns_server, z)
    dns_server.add(query_name(IP, "zen.spamhaus.org"), "A", "127.0.0.4", "127.0.0.10")
    dns_server.add(query_name(IP, "bl.spamcop.net"), "A", "127.0.0.2")
    result = await run(IP, resolver, settings(ZEN, SPAMCOP))
    assert result.status == "fail"
    assert result.summary == "Listed on 2 of 2 blocklists"
    zen = result.listed[0]
    assert zen.codes == ("127.0.0.4", "127.0.0.10") and zen.kind == "reputation"
    urls = [a.url for a in result.advice]
    assert SPAMCOP.removal_for(IP) in urls and ZEN.removal_for(IP) in urls
    assert all("ip=" + IP in a.url or IP in a.url for a in result.advice if a.url)


async def test_txt_reason_is_fetched_for_listings_only(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    healthy(dns_server, "zen.spamhaus.org")
    healthy(dns_server, "bl.spamcop.net")
    name = query_name(IP, "zen.spamhaus.org")
    dns_server.add(name, "A", "127.0.0.2")
    dns_server.add(name, "TXT", f"https://check.spamhaus.org/sbl/query/SBL123456 {IP}")
    dns_server.add(query_name(IP, "bl.spamcop.net"), "TXT", "not asked")
    result = await run(IP, resolver, settings(ZEN, SPAMCOP))
    assert result.listed[0].txt == f"https://check.spamhaus.org/sbl/query/SBL123456 {IP}"
    asked_txt = {q.name for q in dns_server.questions() if q.rdtype == "TXT"}
    assert asked_txt == {name}


async def test_silent_list_costs_one_timeout_not_n(dns_server: DnsServer) -> None:
    """Eight silent lists cost one timeout: all are asked at once, each once, then given up on.

    Stated without a duration (speed belongs in bench/): first, with a timeout far longer
    than the test, every silent list's question is in flight together while the check still
    waits, so no list waited for another's timeout; then, with a short timeout, each is
    asked within one budget (the datagram resent at most twice, no second question after
    the timeout) and reported as timed out.
    """
    zones = [make_zone(f"silent{i}.example-bl.net") for i in range(8)]
    for z in zones:
        dns_server.misbehave(z.zone, "timeout")
    healthy(dns_server, "bl.spamcop.net")
    silent = {query_name(IP, z.zone) for z in zones}

    patient = Resolver([(dns_server.host, dns_server.port)], timeout=600)
    check = asyncio.ensure_future(run(IP, patient, settings(SPAMCOP, *zones)))
    try:
        arrived = await dns_server.until_questions(len(silent), lambda q: q.name in silent)
        assert not check.done()  # none of them can have timed out yet
        assert {q.name for q in arrived} == silent
    finally:
        check.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await check
        patient.close()

    dns_server.clear()
    for z in zones:
        dns_server.misbehave(z.zone, "timeout")
    healthy(dns_server, "bl.spamcop.net")
    resolver = Resolver([(dns_server.host, dns_server.port)], timeout=0.4)
    result = await asyncio.wait_for(run(IP, resolver, settings(SPAMCOP, *zones)), HANG_GUARD)
    sends = Counter(q.name for q in dns_server.questions() if q.name in silent)
    # One budget each: the lean path resends a lost datagram at most twice within it.
    assert set(sends) == silent and max(sends.values()) <= 3, sends
    assert {u.zone for u in result.unavailable} == {z.zone for z in zones}
    assert {u.reason for u in result.unavailable} == {"timeout"}
    assert result.clean == ["bl.spamcop.net"]
    assert result.status == "ok"
    assert result.summary == "Clean on 1 of 9 blocklists (8 could not be checked)"


@pytest.mark.parametrize("behaviour", ["servfail", "refused"])
async def test_servfail_and_refused_are_errors(
    behaviour: str, dns_server: DnsServer, resolver: Resolver
) -> None:
    bad = make_zone("broken.example-bl.net")
    dns_server.misbehave(bad.zone, behaviour)  # type: ignore[arg-type]
    healthy(dns_server, "bl.spamcop.net")
    result = await run(IP, resolver, settings(SPAMCOP, bad))
    [u] = result.unavailable
    assert (u.zone, u.reason) == ("broken.example-bl.net", "error")
    assert behaviour.upper() in u.detail.upper()
    assert "broken.example-bl.net" not in result.clean


async def test_list_answering_everything_is_unreliable(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    dead = make_zone("dead.example-bl.net", tier="major")
    dns_server.answer_everything(dead.zone)
    result = await run(IP, resolver, settings(dead))
    assert result.listed == [] and result.clean == []
    [u] = result.unavailable
    assert u.reason == "unreliable" and "127.0.0.1" in u.detail
    assert result.status == "error"
    assert result.summary == "No blocklist could be checked (1 of 1 unavailable)"


async def test_answer_outside_loopback_is_unreliable(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    parked = make_zone("parked.example-bl.net")
    healthy(dns_server, parked.zone)
    dns_server.add(query_name(IP, parked.zone), "A", "93.184.216.34")
    healthy(dns_server, "bl.spamcop.net")
    result = await run(IP, resolver, settings(SPAMCOP, parked))
    [u] = result.unavailable
    assert u.reason == "unreliable" and "93.184.216.34" in u.detail
    assert result.listed == [] and result.status == "ok"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("127.255.255.252", "bad_key"),
        ("127.255.255.254", "resolver_blocked"),
        ("127.255.255.255", "resolver_blocked"),
    ],
)
async def test_spamhaus_error_codes_are_not_listings(
    code: str, reason: str, dns_server: DnsServer, resolver: Resolver
) -> None:
    for point in ("127.0.0.2", "127.0.0.1", IP):  # a refusing mirror answers every name so
        dns_server.add(query_name(point, "zen.spamhaus.org"), "A", code)
    healthy(dns_server, "bl.spamcop.net")
    result = await run(IP, resolver, settings(ZEN, SPAMCOP))
    assert result.listed == []
    assert "zen.spamhaus.org" not in result.clean
    [u] = result.unavailable
    assert (u.zone, u.reason) == ("zen.spamhaus.org", reason)
    assert code in u.detail
    assert result.status == "warn"  # a major list could not be checked: cannot vouch
    assert result.summary == "Clean on 1 of 2 blocklists (1 could not be checked)"
    text = " ".join(a.text for a in result.advice)
    if reason == "resolver_blocked":
        assert "private" in text and "SPAMHAUS_DQS_KEY" in text
    else:
        assert "key" in text
    assert not any("dormant" in n for n in result.notes)


async def test_dqs_key_is_used_and_never_shown(dns_server: DnsServer, resolver: Resolver) -> None:
    key = "k3ysecretdqs0123456789abcd"
    dqs = f"{key}.zen.dq.spamhaus.net"
    healthy(dns_server, dqs)
    name = query_name(IP, dqs)
    dns_server.add(name, "A", "127.0.0.3")
    dns_server.add(name, "TXT", f"listed, see https://check.spamhaus.org/?k={key.upper()}")
    result = await run(IP, resolver, settings(ZEN, dqs_key=key))
    asked = {q.name for q in dns_server.questions()}
    assert name in asked
    assert not any(n.endswith(".zen.spamhaus.org") for n in asked)
    [listing] = result.listed
    assert listing.zone == "zen.spamhaus.org" and listing.list == "Spamhaus ZEN"
    assert result.status == "fail"
    dumped = json.dumps(result.to_json()) + json.dumps([a.to_json() for a in result.advice])
    assert key not in dumped.lower() and key.upper() not in dumped
    assert "[DQS key]" in listing.txt  # type: ignore[operator]


async def test_dqs_bad_key(dns_server: DnsServer, resolver: Resolver) -> None:
    key = "wrongkey000111"
    for point in ("127.0.0.2", "127.0.0.1", IP):
        dns_server.add(query_name(point, f"{key}.zen.dq.spamhaus.net"), "A", "127.255.255.252")
    result = await run(IP, resolver, settings(ZEN, dqs_key=key))
    [u] = result.unavailable
    assert (u.zone, u.reason) == ("zen.spamhaus.org", "bad_key")
    assert result.status == "error"
    assert key not in json.dumps(result.to_json())


async def test_ipv6_nibble_queries_and_ipv4_only_lists_skipped(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    healthy(dns_server, "zen.spamhaus.org", family=6)
    name = query_name(IP6, "zen.spamhaus.org")
    dns_server.add(name, "A", "127.0.0.3")
    result = await run(IP6, resolver, settings(ZEN, SPAMCOP))
    asked = {q.name for q in dns_server.questions()}
    assert name in asked
    assert query_name("::ffff:7f00:1", "zen.spamhaus.org") in asked
    assert not any(n.endswith("bl.spamcop.net") for n in asked)
    assert [item.codes for item in result.listed] == [("127.0.0.3",)]
    assert result.clean == [] and result.unavailable == []
    assert result.summary == "Listed on 1 of 1 blocklists"
    assert any(
        "1 blocklist answers only for IPv4: not asked about this IPv6" in n for n in result.notes
    )
    assert not any("dormant" in n for n in result.notes)


async def test_ipv6_with_no_ipv6_list_is_an_error(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    result = await run(IP6, resolver, settings(SPAMCOP))
    assert result.status == "error"
    assert result.clean == [] and result.listed == []
    assert dns_server.questions() == []


async def test_dormant_list_is_noted_and_still_used(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    sleepy = make_zone("sleepy.example-bl.net")
    healthy(dns_server, "bl.spamcop.net")
    dns_server.add(query_name(IP, sleepy.zone), "A", "127.0.0.2")
    result = await run(IP, resolver, settings(SPAMCOP, sleepy))
    dormant = [n for n in result.notes if "possibly dormant" in n]
    assert len(dormant) == 1 and "sleepy.example-bl.net" in dormant[0]
    assert [item.zone for item in result.listed] == ["sleepy.example-bl.net"]
    assert result.status == "fail"


async def test_selftest_is_cached_per_resolver_until_ttl(dns_server: DnsServer) -> None:
    ticks = itertools.count()
    # The resolver's own cache always expires, so only the self-test cache can save questions.
    resolver = Resolver(
        [(dns_server.host, dns_server.port)],
        timeout=ANSWER_TIMEOUT,
        clock=lambda: next(ticks) * 1e6,
    )
    now = [1000.0]
    cache = SelfTestCache(clock=lambda: now[0])
    healthy(dns_server, "bl.spamcop.net")
    s = settings(SPAMCOP, selftest_ttl=300)
    positive = query_name("127.0.0.2", "bl.spamcop.net")
    negative = query_name("127.0.0.1", "bl.spamcop.net")

    def asked(name: str) -> int:
        return len(dns_server.questions(name))

    await check_dnsbl(IP, resolver, s, cache=cache)
    assert (asked(positive), asked(negative)) == (1, 1)
    now[0] += 299
    second = await check_dnsbl(IP, resolver, s, cache=cache)
    assert (asked(positive), asked(negative)) == (1, 1)
    assert len(dns_server.questions(query_name(IP, "bl.spamcop.net"))) == 2
    assert second.clean == ["bl.spamcop.net"]
    now[0] += 2
    await check_dnsbl(IP, resolver, s, cache=cache)
    assert (asked(positive), asked(negative)) == (2, 2)
    other = Resolver([(dns_server.host, dns_server.port)], timeout=ANSWER_TIMEOUT)
    await check_dnsbl(IP, other, s, cache=cache)
    assert asked(positive) == 3  # another resolver may get other answers: its own test


async def test_unreliable_selftest_is_not_reused_as_clean(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    dead = make_zone("dead.example-bl.net")
    dns_server.answer_everything(dead.zone)
    cache = SelfTestCache()
    first = await check_dnsbl(IP, resolver, settings(dead), cache=cache)
    second = await check_dnsbl(IP, resolver, settings(dead), cache=cache)
    assert (
        [u.reason for u in first.unavailable]
        == [u.reason for u in second.unavailable]
        == ["unreliable"]
    )


async def test_informational_only_listing_is_ok_but_reported(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    uce3 = next(z for z in builtin() if z.zone == "dnsbl-3.uceprotect.net")
    for z in (uce3.zone, "bl.spamcop.net"):
        healthy(dns_server, z)
    dns_server.add(query_name(IP, uce3.zone), "A", "127.0.0.2")
    result = await run(IP, resolver, settings(SPAMCOP, uce3))
    assert result.status == "ok"
    assert [(item.zone, item.tier) for item in result.listed] == [(uce3.zone, "informational")]
    assert result.summary == "Listed on 1 of 2 blocklists, informational lists only"
    assert any("informational" in n and "UCEPROTECT Level 3" in n for n in result.notes)
    assert result.advice == []


async def test_allow_list_hit_is_a_note_never_a_listing(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    for z in ("bl.spamcop.net", "list.dnswl.org"):
        healthy(dns_server, z)
    dns_server.add(query_name(IP, "list.dnswl.org"), "A", "127.0.15.3")
    result = await run(IP, resolver, settings(SPAMCOP, DNSWL))
    assert result.status == "ok" and result.listed == []
    assert result.clean == ["bl.spamcop.net"]
    assert result.summary == "Clean on 1 of 1 blocklists"
    [hit] = result.allowed
    assert hit.zone == "list.dnswl.org" and "trust high" in hit.meanings[0]
    assert any("legitimate sender" in n for n in result.notes)


async def test_dnswl_refusal_code_is_unavailable(dns_server: DnsServer, resolver: Resolver) -> None:
    healthy(dns_server, "bl.spamcop.net")
    dns_server.add(query_name(IP, "list.dnswl.org"), "A", "127.0.0.255")
    result = await run(IP, resolver, settings(SPAMCOP, DNSWL))
    assert result.allowed == []
    assert [(u.zone, u.reason) for u in result.unavailable] == [
        ("list.dnswl.org", "resolver_blocked")
    ]
    assert result.summary == "Clean on 1 of 1 blocklists"


async def test_strict_list_ignores_undocumented_answers(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    rats = next(z for z in builtin() if z.zone == "spam.spamrats.com")
    healthy(dns_server, "bl.spamcop.net")
    dns_server.add(query_name(IP, rats.zone), "A", "127.0.0.2")
    result = await run(IP, resolver, settings(SPAMCOP, rats))
    assert result.listed == []
    assert [(u.zone, u.reason) for u in result.unavailable] == [(rats.zone, "unreliable")]


async def test_policy_code_with_its_own_advice(dns_server: DnsServer, resolver: Resolver) -> None:
    noptr = next(z for z in builtin() if z.zone == "noptr.spamrats.com")
    dns_server.add(query_name(IP, noptr.zone), "A", "127.0.0.37")
    result = await run(IP, resolver, settings(noptr))
    assert result.status == "warn"
    assert "PTR" in result.advice[0].text and result.advice[0].url == noptr.lookup_for(IP)


async def test_major_unavailable_is_warn_and_all_unavailable_is_error(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    major = make_zone("major.example-bl.net", tier="major")
    minor = make_zone("minor.example-bl.net")
    dns_server.misbehave(major.zone, "servfail")
    healthy(dns_server, minor.zone)
    result = await run(IP, resolver, settings(major, minor))
    assert result.status == "warn"
    assert any("could not vouch" in n.lower() for n in result.notes)
    dns_server.misbehave(minor.zone, "refused")
    fresh = Resolver(
        [(dns_server.host, dns_server.port)], timeout=ANSWER_TIMEOUT
    )  # no cached answers
    result = await run(IP, fresh, settings(major, minor))
    assert result.status == "error" and result.clean == []


async def test_json_fields_follow_the_interface(dns_server: DnsServer, resolver: Resolver) -> None:
    healthy(dns_server, "zen.spamhaus.org")
    dns_server.add(query_name(IP, "zen.spamhaus.org"), "A", "127.0.0.2")
    dns_server.misbehave("bl.spamcop.net", "servfail")
    out = (await run(IP, resolver, settings(ZEN, SPAMCOP))).to_json()
    assert set(out) >= {"status", "summary", "listed", "clean", "unavailable", "notes"}
    assert "advice" not in out
    assert list(out["listed"][0]) == [
        "zone", "list", "codes", "meanings", "txt", "lookup_url", "removal_url", "kind", "tier",
    ]  # fmt: skip
    assert list(out["unavailable"][0]) == ["zone", "reason", "detail"]
    json.dumps(out)


async def test_thirty_slow_zones_take_two_round_trips(dns_server: DnsServer) -> None:
    """Thirty lists take two round trips: every A question at once, then the listing's TXT.

    The server is held so each round can be seen whole: while no answer has left, all
    thirty A questions (and the self-test's) have arrived and no TXT; once they are
    answered, exactly one more question comes, the listing's TXT; then the check ends.
    A one-by-one checker would have only one question in the first round.
    """
    # A timeout far beyond the test: holding the server must never look like a silent list.
    resolver = Resolver([(dns_server.host, dns_server.port)], timeout=600)
    zones = [make_zone(f"z{i}.example-bl.net") for i in range(30)]
    for z in zones:
        healthy(dns_server, z.zone)
    listing = query_name(IP, zones[3].zone)
    dns_server.add(listing, "A", "127.0.0.2")
    dns_server.add(listing, "TXT", "spam trap hit")
    targets = {query_name(IP, z.zone) for z in zones}

    dns_server.hold()
    check = asyncio.ensure_future(run(IP, resolver, settings(*zones)))
    try:
        await dns_server.until_questions(30, lambda q: q.name in targets and q.rdtype == "A")
        # Round one is complete once the self-test's questions are in too (two per zone).
        await dns_server.until_questions(90)
        first = dns_server.questions()
        assert not check.done() and dns_server.answered == 0
        assert [q for q in first if q.rdtype != "A"] == []
        assert len(first) == 90

        dns_server.release()  # round one is answered...
        dns_server.hold()  # ...and round two waits (no await in between: the check cannot run)
        second = (await dns_server.until_questions(91))[90:]
        assert [(q.name, q.rdtype) for q in second] == [(listing, "TXT")]
        assert not check.done()
        dns_server.release()
        result = await asyncio.wait_for(check, HANG_GUARD)
    finally:
        dns_server.release()
        check.cancel()
        resolver.close()
    assert len(dns_server.questions()) == 91  # nothing after the TXT: two rounds in all
    assert result.listed[0].txt == "spam trap hit"
    assert len(result.clean) == 29 and result.summary == "Listed on 1 of 30 blocklists"


async def test_two_pbl_codes_give_one_piece_of_advice(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    """127.0.0.10 and 127.0.0.11 are both the PBL: the sender is told once to use the smarthost."""
    dns_server.add(reverse_name("127.0.0.2", ZEN.zone), "A", "127.0.0.2")
    dns_server.add(reverse_name(IP, ZEN.zone), "A", "127.0.0.10", "127.0.0.11")
    result = await check_dnsbl(IP, resolver, settings(ZEN), cache=SelfTestCache())
    assert result.status == "warn"
    assert len(result.advice) == 1 and "smarthost" in result.advice[0].text
