"""SPF over real DNS: every pyspf result, every review warning, macros, and pyspf's DNS binding."""

from __future__ import annotations

import asyncio
import socket

import pytest
import spf as pyspf

from handlers.dns.resolver import Resolver
from handlers.settings import Settings
from handlers.spf import SpfResult, check_spf, normalise_domain
from handlers.spf_review import review_spf
from tests.support.dns_server import ANSWER_TIMEOUT, DnsServer

IP = "51.158.10.22"
IP6 = "2a01:4f8:10a::25"
DOMAIN = "example-mail.net"
SETTINGS = Settings(timeout=0.5)
#: Seconds after which a check that should end is taken as hung: a liveness bound far above
#: the 0.5 s DNS budget, never a speed figure.
HANG_GUARD = 30


def codes(result: SpfResult) -> set[str]:
    return {w.code for w in result.warnings}


# ---- results with an address ---------------------------------------------------------------


async def test_pass(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "google-site-verification=abc", "v=spf1 ip4:51.158.10.0/24 -all")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert (result.status, result.result) == ("ok", "pass")
    assert result.record == "v=spf1 ip4:51.158.10.0/24 -all"
    assert result.mechanism == "ip4:51.158.10.0/24"
    assert result.lookups == 0 and result.warnings == [] and result.advice == []
    assert result.sender == f"postmaster@{DOMAIN}" and result.helo == DOMAIN
    assert "allows 51.158.10.22" in result.summary


async def test_fail_advises_the_exact_term(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 ip4:51.158.11.0/24 -all")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert (result.status, result.result, result.mechanism) == ("fail", "fail", "-all")
    assert result.explanation
    advice = result.advice[0]
    assert f"Add ip4:{IP} to the SPF record of {DOMAIN}" in advice.text
    assert f"v=spf1 ip4:51.158.11.0/24 ip4:{IP} -all" in advice.text
    assert advice.url and advice.url.startswith("https://www.rfc-editor.org/rfc/rfc7208")


async def test_softfail(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 mx ~all")
    dns_server.add(DOMAIN, "MX", "10 mx.example-mail.net.")
    dns_server.add("mx.example-mail.net", "A", "51.158.10.99")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert (result.status, result.result) == ("warn", "softfail")
    assert f"v=spf1 mx ip4:{IP} ~all" in result.advice[0].text
    assert result.lookups == 1


async def test_mx_pass(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 mx -all")
    dns_server.add(DOMAIN, "MX", "10 mx1.example-mail.net.", "20 mx2.example-mail.net.")
    dns_server.add("mx1.example-mail.net", "A", "51.158.10.99")
    dns_server.add("mx2.example-mail.net", "A", IP)
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert result.result == "pass" and result.mechanism == "mx"


async def test_neutral(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 ip4:51.158.11.0/24 ?all")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert (result.status, result.result) == ("warn", "neutral")
    assert "neutral_all" in codes(result)
    assert f"ip4:{IP}" in result.advice[0].text


async def test_none(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "just some text")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert (result.status, result.result) == ("warn", "none")
    assert result.record is None and result.lookups is None
    assert codes(result) == {"no_record"}
    assert f"ip4:{IP}" in result.advice[0].text and "Publish" in result.advice[0].text


async def test_none_for_nxdomain(resolver: Resolver, dns_server: DnsServer) -> None:
    result = await check_spf("no-such-domain.example-mail.net", IP, resolver, SETTINGS)
    assert result.result == "none"


async def test_permerror_two_records(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", f"v=spf1 ip4:{IP} -all", "v=spf1 mx -all")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert (result.status, result.result) == ("fail", "permerror")
    assert "multiple_records" in codes(result)
    warning = result.warnings[0]
    assert warning.rfc == "RFC 7208 section 4.5" and warning.severity == "fail"
    assert warning.why and warning.fix
    assert any("Merge them" in a.text for a in result.advice)


async def test_permerror_syntax(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", f"v=spf1 ip4:{IP} foo:bar -all")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert (result.status, result.result) == ("fail", "permerror")
    assert "syntax" in codes(result)
    assert "foo" in result.warnings[0].text


async def test_permerror_include_without_spf(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 include:mail.shop-example.de -all")
    dns_server.add("mail.shop-example.de", "TXT", "not spf")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert (result.status, result.result) == ("fail", "permerror")
    assert "include_without_spf" in codes(result)
    assert "include:mail.shop-example.de" in result.warnings[0].text


async def test_temperror_servfail(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.misbehave(DOMAIN, "servfail")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert (result.status, result.result) == ("error", "temperror")
    assert "SERVFAIL" in (result.explanation or "")
    assert "nameservers" in result.advice[0].text


async def test_temperror_timeout_in_include(
    short_resolver: Resolver, dns_server: DnsServer
) -> None:
    """A silent include gives up as temperror after one question, rather than hang.

    The outcome and the questions asked prove it; HANG_GUARD only turns a hang into a
    failure instead of a stuck suite, far above the 0.5 s budget (not a speed figure).
    """
    dns_server.add(DOMAIN, "TXT", "v=spf1 include:_spf.slow-dns.net -all")
    dns_server.misbehave("slow-dns.net", "timeout")
    result = await asyncio.wait_for(check_spf(DOMAIN, IP, short_resolver, SETTINGS), HANG_GUARD)
    assert (result.status, result.result) == ("error", "temperror")
    assert "lookup_failed" in codes(result)
    # one question for review and evaluation together; resends stay within its one budget
    sends = dns_server.questions("_spf.slow-dns.net")
    assert {q.rdtype for q in sends} == {"TXT"} and 1 <= len(sends) <= 3, sends


async def test_ipv6(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 ip6:2a01:4f8:10a::/48 -all")
    dns_server.add("shop-example.de", "TXT", "v=spf1 ip4:51.158.10.0/24 -all")
    passed = await check_spf(DOMAIN, IP6, resolver, SETTINGS)
    failed = await check_spf("shop-example.de", IP6, resolver, SETTINGS)
    assert passed.result == "pass"
    assert failed.result == "fail"
    assert f"ip6:{IP6}" in failed.advice[0].text


# ---- the include tree and the warnings -------------------------------------------------------


async def test_lookups_counted_over_the_include_tree(
    resolver: Resolver, dns_server: DnsServer
) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 include:_spf.a.net include:_spf.b.net mx -all")
    dns_server.add(DOMAIN, "MX", "10 mx.example-mail.net.")
    dns_server.add("mx.example-mail.net", "A", "51.158.10.99")
    dns_server.add("_spf.a.net", "TXT", "v=spf1 include:_inner.a.net a:relay.a.net ~all")
    dns_server.add("relay.a.net", "A", "51.158.12.1")
    dns_server.add("_inner.a.net", "TXT", "v=spf1 ip4:51.158.13.0/24 ~all")
    dns_server.add("_spf.b.net", "TXT", "v=spf1 redirect=_redir.b.net")
    dns_server.add("_redir.b.net", "TXT", "v=spf1 ip4:51.158.10.0/24 -all")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    # include, include, mx at the top; include + a in _spf.a.net; redirect in _spf.b.net
    assert result.lookups == 6
    assert (result.result, result.mechanism) == ("pass", "include:_spf.b.net")
    assert result.warnings == []
    review = await review_spf(DOMAIN, resolver)
    assert set(review.followed) == {"_spf.a.net", "_spf.b.net", "_inner.a.net", "_redir.b.net"}


async def test_more_than_ten_lookups(resolver: Resolver, dns_server: DnsServer) -> None:
    includes = " ".join(f"include:_s{i}.example-mail.net" for i in range(6))
    dns_server.add(DOMAIN, "TXT", f"v=spf1 {includes} ip4:{IP} -all")
    for i in range(6):
        dns_server.add(f"_s{i}.example-mail.net", "TXT", f"v=spf1 a:h{i}.example-mail.net ~all")
        dns_server.add(f"h{i}.example-mail.net", "A", f"51.158.20.{i}")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    # Like a receiver: ten terms resolved, the eleventh (include:_s5) counted, not followed.
    assert result.lookups == 11
    assert dns_server.questions("_s5.example-mail.net") == []
    assert (result.status, result.result) == ("fail", "permerror")
    assert "too_many_lookups" in codes(result)
    warning = next(w for w in result.warnings if w.code == "too_many_lookups")
    assert "at least 11 DNS lookups" in warning.text and warning.rfc == "RFC 7208 section 4.6.4"
    only_review = await check_spf(DOMAIN, None, resolver, SETTINGS)
    assert only_review.status == "fail"


async def test_pass_all_passes_but_is_flagged(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 +all")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert (result.status, result.result) == ("ok", "pass")
    assert codes(result) == {"pass_all"}
    assert result.summary.startswith("SPF pass") and "1 warning: " in result.summary
    review_only = await check_spf(DOMAIN, None, resolver, SETTINGS)
    assert review_only.status == "fail"


async def test_ptr_mechanism(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 ptr -all")
    dns_server.add("22.10.158.51.in-addr.arpa", "PTR", "mail.example-mail.net.")
    dns_server.add("mail.example-mail.net", "A", IP)
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert result.result == "pass"
    assert codes(result) == {"ptr_mechanism"}
    assert result.warnings[0].rfc == "RFC 7208 section 5.5"
    review_only = await check_spf(DOMAIN, None, resolver, SETTINGS)
    assert review_only.status == "warn"


async def test_void_lookups(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(
        DOMAIN,
        "TXT",
        f"v=spf1 a:no1.example-mail.net mx:no2.example-mail.net a:no3.example-mail.net "
        f"ip4:{IP} -all",
    )
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert result.result == "permerror"
    assert "too_many_void_lookups" in codes(result)
    assert sum(w.code == "void_lookup" for w in result.warnings) == 3


async def test_no_all(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 ip4:51.158.11.0/24")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert result.result == "neutral"
    assert codes(result) == {"no_all"}


async def test_redirect_with_all_and_loop(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 include:_a.example-mail.net -all redirect=x.net")
    dns_server.add("_a.example-mail.net", "TXT", f"v=spf1 include:{DOMAIN} ~all")
    review = await review_spf(DOMAIN, resolver)
    found = {w.code for w in review.warnings}
    assert {"redirect_ignored", "include_loop"} <= found


# ---- review only, skipped, bad domains ------------------------------------------------------


async def test_review_only_clean(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 ip4:51.158.10.0/24 include:_spf.shop-example.de -all")
    dns_server.add("_spf.shop-example.de", "TXT", "v=spf1 ip4:51.158.30.0/24 -all")
    result = await check_spf(DOMAIN, None, resolver, SETTINGS)
    assert (result.status, result.result, result.lookups) == ("ok", None, 1)
    assert result.record and result.record.startswith("v=spf1 ip4:51.158.10.0/24")
    assert "looks right" in result.summary


async def test_review_only_no_record(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "MX", f"10 mx.{DOMAIN}.")  # the domain exists, without SPF
    result = await check_spf(DOMAIN, None, resolver, SETTINGS)
    assert (result.status, result.result) == ("warn", "none")
    assert codes(result) == {"no_record"}


async def test_review_only_dns_failure(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.misbehave(DOMAIN, "servfail")
    result = await check_spf(DOMAIN, None, resolver, SETTINGS)
    assert (result.status, result.result) == ("error", "temperror")


async def test_skipped_without_domain(resolver: Resolver, dns_server: DnsServer) -> None:
    result = await check_spf(None, IP, resolver, SETTINGS)
    assert result.status == "skipped"
    assert f"`{IP} example.com`" in result.summary and "/smtpcheck" not in result.summary
    assert result.to_json()["result"] is None
    assert dns_server.questions() == []


@pytest.mark.parametrize("bad", ["exa mple.com", "a..example-mail.net", "x" * 64 + ".net", "nodot"])
async def test_invalid_domain_is_none(bad: str, resolver: Resolver, dns_server: DnsServer) -> None:
    for ip in (IP, None):
        result = await check_spf(bad, ip, resolver, SETTINGS)
        assert (result.status, result.result) == ("warn", "none")
        assert "4.3" in result.summary
    assert dns_server.questions() == []


def test_normalise_domain() -> None:
    assert normalise_domain("Example-Mail.NET.") == "example-mail.net"
    assert normalise_domain("bücher.de") == "xn--bcher-kva.de"
    assert normalise_domain("_spf.example.net") == "_spf.example.net"
    assert normalise_domain("-x-.net") is None


# ---- sender and HELO ------------------------------------------------------------------------


async def test_local_part_macro(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 exists:%{l}.allow.example-mail.net -all")
    dns_server.add("alice.allow.example-mail.net", "A", "127.0.0.2")
    alice = await check_spf(DOMAIN, IP, resolver, SETTINGS, sender=f"alice@{DOMAIN}")
    bob = await check_spf(DOMAIN, IP, resolver, SETTINGS, sender="bob")
    assert alice.result == "pass" and alice.sender == f"alice@{DOMAIN}"
    assert bob.result == "fail" and bob.sender == f"bob@{DOMAIN}"
    assert alice.lookups == 1  # counted even though the macro cannot be followed


async def test_helo_macro(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 a:%{h} -all")
    dns_server.add("out.shop-example.de", "A", IP)
    good = await check_spf(DOMAIN, IP, resolver, SETTINGS, helo="out.shop-example.de")
    default = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert good.result == "pass" and good.helo == "out.shop-example.de"
    assert default.result == "fail"


async def test_sender_domain_is_the_one_evaluated(
    resolver: Resolver, dns_server: DnsServer
) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 -all")
    dns_server.add("shop-example.de", "TXT", f"v=spf1 ip4:{IP} -all")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS, sender="news@shop-example.de")
    assert (result.domain, result.result) == ("shop-example.de", "pass")


# ---- pyspf's DNS goes through our resolver ---------------------------------------------------


async def test_pyspf_asks_the_test_server_through_our_resolver(
    resolver: Resolver, dns_server: DnsServer
) -> None:
    # Only pyspf can expand %{i}: the review cannot ask this name.
    dns_server.add(DOMAIN, "TXT", "v=spf1 exists:%{i}.senders.example-mail.net -all")
    dns_server.add(f"{IP}.senders.example-mail.net", "A", "127.0.0.2")
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert result.result == "pass"
    asked = dns_server.questions(f"{IP}.senders.example-mail.net")
    assert [q.rdtype for q in asked] == ["A"]
    assert resolver.questions_sent == len(dns_server.questions())
    # the record was fetched once for review and evaluation together (shared cache/in-flight)
    assert len(dns_server.questions(DOMAIN)) == 1


def test_pyspf_without_binding_never_uses_the_system_resolver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unbound, pyspf fails at once with temperror: no socket is even opened.

    Every socket or name lookup during the evaluation is refused and recorded, so the
    system resolver cannot have been asked (before, a duration stood for this). Recorded,
    not only refused: dnspython would swallow the error and try again.
    """
    used: list[tuple[object, ...]] = []

    def no_network(*args: object, **kwargs: object) -> None:
        used.append(args)
        raise OSError("the test forbids the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    result, _code, explanation = pyspf.query(i=IP, s=f"a@{DOMAIN}", h=DOMAIN).check()
    assert result == "temperror"
    assert "no smtpcheck resolver bound" in explanation
    assert used == []


async def test_concurrent_evaluations_keep_their_own_binding(
    dns_server: DnsServer,
) -> None:
    dns_server.add(DOMAIN, "TXT", "v=spf1 ip4:51.158.10.0/24 -all")
    first = Resolver([(dns_server.host, dns_server.port)], timeout=ANSWER_TIMEOUT)
    second = Resolver([(dns_server.host, dns_server.port)], timeout=ANSWER_TIMEOUT)
    results = await asyncio.gather(
        *(
            check_spf(DOMAIN, f"51.158.{10 + i % 2}.{i}", r, SETTINGS)
            for i, r in enumerate([first, second] * 4)
        )
    )
    assert [r.result for r in results] == ["pass", "fail"] * 4
    # each resolver asked the record once, however many evaluations shared it
    assert [q.rdtype for q in dns_server.questions(DOMAIN)] == ["TXT", "TXT"]


async def test_pyspf_crash_is_an_error_not_a_traceback(
    resolver: Resolver, dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    dns_server.add(DOMAIN, "TXT", f"v=spf1 ip4:{IP} -all")

    def broken(self: object, spf: object = None) -> object:
        raise AssertionError("Too many levels of recursion")

    monkeypatch.setattr(pyspf.query, "check", broken)
    result = await check_spf(DOMAIN, IP, resolver, SETTINGS)
    assert (result.status, result.result) == ("error", None)
    assert "Too many levels of recursion" in result.summary
    assert result.record == f"v=spf1 ip4:{IP} -all"  # the review still ran


@pytest.mark.parametrize("ip", [None, "51.158.10.22"])
async def test_a_domain_that_does_not_exist_is_said_not_to_exist(
    resolver: Resolver, dns_server: DnsServer, ip: str | None
) -> None:
    """NXDOMAIN is not "publish an SPF record": there is no such domain to publish it in."""
    dns_server.add("example-mail.net", "TXT", "v=spf1 -all")  # a sibling that exists
    result = await check_spf("no-such-shop.example-mail.net", ip, resolver, SETTINGS)
    assert result.result == "none" and result.exists is False
    assert "does not exist (NXDOMAIN)" in result.summary
    texts = " ".join(a.text for a in result.advice)
    assert "Publish" not in texts and "spelling" in texts


async def test_a_domain_without_a_record_is_told_to_publish_one(
    resolver: Resolver, dns_server: DnsServer
) -> None:
    dns_server.add("example-mail.net", "A", "51.158.10.22")
    result = await check_spf("example-mail.net", None, resolver, SETTINGS)
    assert result.exists is True and "publishes no SPF record" in result.summary
    assert any("Publish" in a.text for a in result.advice)


@pytest.mark.parametrize("ip", [None, "51.158.10.22"])
async def test_two_spf_records_are_both_shown(
    resolver: Resolver, dns_server: DnsServer, ip: str | None
) -> None:
    dns_server.add(
        "example-mail.net", "TXT", "v=spf1 ip4:51.158.10.22 -all", "v=spf1 mx ~all", "other"
    )
    result = await check_spf("example-mail.net", ip, resolver, SETTINGS)
    assert sorted(result.records) == ["v=spf1 ip4:51.158.10.22 -all", "v=spf1 mx ~all"]
    assert result.result == "permerror" and result.status == "fail"
    assert "publishes 2 SPF records" in result.summary
    assert result.to_json()["records"] == result.records
