"""DMARC over the loopback DNS server: RFC 9989's tree walk, the record's syntax, SPF alignment.

Every discovery case is also asked of checkdmarc on the same server; the two must agree
on where the record was found and which policy applies.
"""

from __future__ import annotations

import pytest

from handlers.dmarc import MAX_QUERIES, check_dmarc, walk_names
from handlers.dns.resolver import Resolver
from handlers.settings import Settings
from tests.support.checkdmarc_oracle import ask_checkdmarc, oracle_policy
from tests.support.dns_server import DnsServer

IP = "51.158.10.22"
ORG = "northwind-traders.com"
RUA = f"rua=mailto:dmarc@{ORG}"
SETTINGS = Settings(timeout=2.0)


@pytest.fixture
def resolver(dns_server: DnsServer) -> Resolver:
    """A resolver on the test server, patient enough for a loaded machine (20+ questions at once)."""
    return Resolver([(dns_server.host, dns_server.port)], timeout=2.0)


def publish(dns: DnsServer, name: str, *records: str) -> None:
    dns.add(f"_dmarc.{name}", "TXT", *records)


@pytest.fixture
def org(dns_server: DnsServer) -> DnsServer:
    """The organisation's domain exists, with mail for the report address."""
    dns_server.add(ORG, "A", "51.158.10.80")
    dns_server.add(ORG, "MX", f"10 mx.{ORG}.")
    dns_server.add(f"mx.{ORG}", "A", "51.158.10.81")
    return dns_server


async def agree(dns: DnsServer, resolver: Resolver, domain: str, *, exists: bool = True):  # type: ignore[no-untyped-def]
    """Our check and checkdmarc's discovery for `domain`, asserted to agree."""
    ours = await check_dmarc(domain, None, resolver, SETTINGS)
    theirs = ask_checkdmarc(dns, domain)
    assert ours.found_at == theirs.location, (ours, theirs)
    assert ours.policy == oracle_policy(theirs, domain, exists=exists), (ours, theirs)
    return ours, theirs


async def test_record_at_the_domain(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; p=reject; {RUA}")
    ours, _ = await agree(org, resolver, ORG)
    assert (ours.status, ours.policy, ours.policy_tag) == ("ok", "reject", "p")
    assert ours.found_at == ours.org_domain == ORG
    assert ours.rua == [f"mailto:dmarc@{ORG}"] and ours.spf_aligned is None
    assert ours.summary == f"DMARC policy of {ORG}: reject"


async def test_subdomain_inherits_sp(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; p=quarantine; sp=reject; {RUA}")
    org.add(f"mail.{ORG}", "A", "51.158.10.82")
    ours, _ = await agree(org, resolver, f"mail.{ORG}")
    assert (ours.policy, ours.policy_tag, ours.exists) == ("reject", "sp", True)
    assert (ours.found_at, ours.org_domain, ours.status) == (ORG, ORG, "ok")
    assert f"inherited from {ORG}" in ours.summary


async def test_subdomain_without_sp_gets_p(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; p=quarantine; {RUA}")
    org.add(f"news.{ORG}", "MX", f"10 mx.{ORG}.")
    ours, _ = await agree(org, resolver, f"news.{ORG}")
    assert (ours.policy, ours.policy_tag) == ("quarantine", "sp")


async def test_nonexistent_subdomain_gets_np(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; p=none; sp=quarantine; np=reject; {RUA}")
    ours = await check_dmarc(f"ghost.{ORG}", None, resolver, SETTINGS)
    assert (ours.policy, ours.policy_tag, ours.exists) == ("reject", "np", False)
    assert (ours.found_at, ours.org_domain) == (ORG, ORG)
    assert "does not exist" in ours.summary
    # checkdmarc stops at the NXDOMAIN of the name itself ("The domain does not exist") where
    # RFC 9989 applies np; on the record that the walk reaches, the two agree.
    assert ask_checkdmarc(org, f"ghost.{ORG}").error == "DMARCRecordNotFound"
    theirs = ask_checkdmarc(org, ORG)
    assert theirs.location == ours.found_at
    assert oracle_policy(theirs, f"ghost.{ORG}", exists=False) == ours.policy


async def test_psd_record_applies_below_the_boundary(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    """A record at a public suffix with psd=y: the Organizational Domain is one label below."""
    publish(dns_server, "zz", "v=DMARC1; p=reject; psd=y; rua=mailto:psd@registry.zz")
    dns_server.add("registry.zz", "MX", "10 mx.registry.zz.")
    dns_server.add("mail.fabrikam.zz", "A", "51.158.10.90")
    ours, _ = await agree(dns_server, resolver, "mail.fabrikam.zz")
    assert (ours.found_at, ours.org_domain, ours.policy) == ("zz", "fabrikam.zz", "reject")
    assert ours.walked == ["_dmarc.mail.fabrikam.zz", "_dmarc.fabrikam.zz", "_dmarc.zz"]


async def test_psd_boundary_prefers_the_org_record(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    publish(dns_server, "zz", "v=DMARC1; p=reject; psd=y; rua=mailto:psd@registry.zz")
    publish(dns_server, "fabrikam.zz", "v=DMARC1; p=none; sp=quarantine; rua=mailto:d@fabrikam.zz")
    dns_server.add("registry.zz", "MX", "10 mx.registry.zz.")
    dns_server.add("fabrikam.zz", "MX", "10 mx.fabrikam.zz.")
    dns_server.add("mail.fabrikam.zz", "A", "51.158.10.90")
    ours, _ = await agree(dns_server, resolver, "mail.fabrikam.zz")
    assert (ours.found_at, ours.org_domain, ours.policy) == (
        "fabrikam.zz",
        "fabrikam.zz",
        "quarantine",
    )


async def test_psd_n_stops_the_walk(org: DnsServer, resolver: Resolver) -> None:
    """psd=n marks its own domain as the Organizational Domain; the walk asks no further."""
    publish(org, ORG, f"v=DMARC1; p=none; {RUA}")
    publish(org, f"dept.{ORG}", f"v=DMARC1; p=reject; psd=n; {RUA}")
    org.add(f"x.dept.{ORG}", "A", "51.158.10.83")
    result = await check_dmarc(f"x.dept.{ORG}", None, resolver, SETTINGS)
    assert (result.found_at, result.org_domain, result.policy) == (
        f"dept.{ORG}",
        f"dept.{ORG}",
        "reject",
    )


async def test_deep_name_walks_at_most_eight_names(org: DnsServer, resolver: Resolver) -> None:
    deep = f"a.b.c.d.e.f.g.mail.{ORG}"  # 10 labels
    publish(org, ORG, f"v=DMARC1; p=reject; sp=quarantine; {RUA}")
    publish(org, f"c.d.e.f.g.mail.{ORG}", "v=DMARC1; p=none")  # skipped by the shortcut
    org.add(deep, "A", "51.158.10.84")
    ours, _ = await agree(org, resolver, deep)
    assert (ours.found_at, ours.policy) == (ORG, "quarantine")
    asked = [q.name for q in org.questions() if q.name.startswith("_dmarc.")]
    assert len(set(asked)) == len(ours.walked) == MAX_QUERIES
    assert f"_dmarc.c.d.e.f.g.mail.{ORG}" not in asked
    assert ours.walked[:2] == [f"_dmarc.{deep}", f"_dmarc.d.e.f.g.mail.{ORG}"]
    assert ours.walked[-1] == "_dmarc.com"


def test_walk_names_keep_rfc_9989_order() -> None:
    assert walk_names("a.mail.example.com") == [
        "a.mail.example.com",
        "mail.example.com",
        "example.com",
        "com",
    ]
    eight = "1.2.3.4.5.example.co.uk"
    assert walk_names(eight)[1] == "2.3.4.5.example.co.uk"
    assert all(len(walk_names("x." * n + "example.com")) <= MAX_QUERIES for n in range(20))


async def test_two_records_fail(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; p=reject; {RUA}", f"v=DMARC1; p=none; {RUA}")
    result = await check_dmarc(ORG, None, resolver, SETTINGS)
    assert result.status == "fail" and result.policy is None and result.found_at is None
    assert any(w.code == "multiple_records" and w.severity == "fail" for w in result.warnings)
    assert ask_checkdmarc(org, ORG).error == "MultipleDMARCRecords"


async def test_unrelated_txt_is_not_a_second_record(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; p=none; {RUA}", "verification=1234")
    result = await check_dmarc(ORG, None, resolver, SETTINGS)
    assert (result.status, result.policy) == ("ok", "none")


@pytest.mark.parametrize(
    ("record", "code", "policy"),
    [
        (f"v=DMARC1; p=rejectt; {RUA}", "invalid_p", "none"),  # invalid p with a rua: p=none
        ("v=DMARC1; p=rejectt", "invalid_p", None),  # ... without one: no DMARC at all
        (f"v=DMARC1; p=reject; aspf=x; {RUA}", "invalid_aspf", "reject"),
        (f"v=DMARC1; p=reject; sp=maybe; {RUA}", "invalid_sp", "none"),
        (f"v=DMARC1; p=reject; {RUA}; garbage", "syntax", "reject"),
        (f"v=DMARC1; p=reject; p=none; {RUA}", "duplicate_tag", "reject"),
    ],
)
async def test_syntax_errors_fail(
    org: DnsServer, resolver: Resolver, record: str, code: str, policy: str | None
) -> None:
    publish(org, ORG, record)
    result = await check_dmarc(ORG, None, resolver, SETTINGS)
    assert result.status == "fail", result
    assert result.policy == policy
    warning = next(w for w in result.warnings if w.code == code)
    assert warning.why and warning.fix and warning.severity == "fail"
    theirs = ask_checkdmarc(org, ORG)
    # checkdmarc finds the record at the same place and refuses it (it raises on any syntax error).
    # checkdmarc finds the record at the same place and refuses it (raises), or says which
    # value it replaced by the default (an invalid aspf).
    assert theirs.location == ORG or theirs.error
    assert theirs.error is not None or any(code.split("_")[1] in w for w in theirs.warnings), theirs


async def test_missing_p_with_rua_is_none(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; {RUA}")
    result = await check_dmarc(ORG, None, resolver, SETTINGS)
    assert (result.status, result.policy) == ("warn", "none")
    assert any(w.code == "no_policy" for w in result.warnings)


async def test_missing_p_without_rua_is_ignored(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, "v=DMARC1; sp=reject")
    result = await check_dmarc(ORG, None, resolver, SETTINGS)
    assert (result.status, result.policy) == ("fail", None)
    assert "ignored by receivers" in result.summary


async def test_version_not_first_is_not_a_record(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, "v=DMARC1 p=reject")  # no ';' after the version
    ours, theirs = await agree(org, resolver, ORG)
    assert ours.status == "fail" and any(w.code == "version" for w in ours.warnings)
    assert theirs.error == "UnrelatedTXTRecordFoundAtDMARC"  # not DMARC to checkdmarc either


async def test_unknown_and_obsolete_tags_are_remarks(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; p=reject; pct=100; rue=mailto:x@{ORG}; {RUA}")
    ours, _ = await agree(org, resolver, ORG)
    assert (ours.status, ours.policy) == ("ok", "reject")
    codes = {w.code: w.severity for w in ours.warnings}
    assert codes["obsolete_tag"] == "ok" and codes["unknown_tag"] == "ok"


async def test_no_dmarc_anywhere_warns(org: DnsServer, resolver: Resolver) -> None:
    org.add(f"mail.{ORG}", "A", "51.158.10.82")
    ours, theirs = await agree(org, resolver, f"mail.{ORG}")
    assert ours.status == "warn" and ours.policy is None and ours.found_at is None
    assert "Gmail, Yahoo and Microsoft require at least p=none" in ours.summary
    assert any(
        f"_dmarc.mail.{ORG}" in a.text and "p=none; rua=mailto:" in a.text for a in ours.advice
    )
    assert theirs.error == "DMARCRecordNotFound"


async def test_dns_failure_is_an_error(org: DnsServer, resolver: Resolver) -> None:
    org.misbehave(f"_dmarc.{ORG}", "servfail")
    result = await check_dmarc(ORG, None, resolver, SETTINGS)
    assert result.status == "error" and "SERVFAIL" in result.summary


async def test_invalid_domain_is_not_looked_up(dns_server: DnsServer, resolver: Resolver) -> None:
    result = await check_dmarc("not a domain", None, resolver, SETTINGS)
    assert result.status == "warn" and dns_server.questions() == []


# ---- SPF alignment with an address ---------------------------------------------------------


async def test_spf_aligned_relaxed(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; p=reject; {RUA}")
    org.add(f"bounces.{ORG}", "TXT", f"v=spf1 ip4:{IP} -all")
    result = await check_dmarc(ORG, IP, resolver, SETTINGS, sender=f"b@bounces.{ORG}")
    assert (result.spf_aligned, result.spf_domain, result.status) == (True, f"bounces.{ORG}", "ok")
    assert "SPF passes aligned" in result.summary


async def test_spf_aligned_at_the_domain_itself(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; p=quarantine; aspf=s; {RUA}")
    org.add(ORG, "TXT", f"v=spf1 ip4:{IP} -all")
    result = await check_dmarc(ORG, IP, resolver, SETTINGS)
    assert (result.spf_aligned, result.spf_domain, result.status) == (True, ORG, "ok")


async def test_spf_unaligned_strict(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; p=reject; aspf=s; {RUA}")
    org.add(f"bounces.{ORG}", "TXT", f"v=spf1 ip4:{IP} -all")
    result = await check_dmarc(ORG, IP, resolver, SETTINGS, sender=f"b@bounces.{ORG}")
    assert (result.spf_aligned, result.status) == (False, "warn")
    assert "aspf=s" in result.summary
    assert any("aligned DKIM signature" in a.text for a in result.advice)


async def test_spf_unaligned_other_organisation(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; p=quarantine; {RUA}")
    org.add("mailer.example-esp.net", "TXT", f"v=spf1 ip4:{IP} -all")
    publish(org, "example-esp.net", "v=DMARC1; p=none")
    result = await check_dmarc(ORG, IP, resolver, SETTINGS, sender="x@mailer.example-esp.net")
    assert (result.spf_result, result.spf_aligned, result.status) == ("pass", False, "warn")
    assert "not aligned" in result.summary


async def test_spf_fail_is_not_aligned_and_p_none_stays_ok(
    org: DnsServer, resolver: Resolver
) -> None:
    publish(org, ORG, f"v=DMARC1; p=none; {RUA}")
    org.add(ORG, "TXT", "v=spf1 ip4:51.158.99.0/24 -all")
    result = await check_dmarc(ORG, IP, resolver, SETTINGS)
    assert (result.spf_result, result.spf_aligned, result.status) == ("fail", False, "ok")


async def test_spf_temperror_leaves_alignment_unknown(org: DnsServer, resolver: Resolver) -> None:
    publish(org, ORG, f"v=DMARC1; p=reject; {RUA}")
    org.misbehave(f"bounces.{ORG}", "servfail")
    result = await check_dmarc(ORG, IP, resolver, SETTINGS, sender=f"b@bounces.{ORG}")
    assert (result.spf_result, result.spf_aligned, result.status) == ("temperror", None, "ok")
