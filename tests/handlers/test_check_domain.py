"""The full check with a mail domain: SPF, DMARC and DKIM beside blocklists and PTR, and the rules."""

from __future__ import annotations

import pytest

from handlers.catalogue import builtin
from handlers.check import full_check
from handlers.dkim import DkimResult
from handlers.dmarc import DmarcResult
from handlers.dns.resolver import Resolver
from handlers.ptr import reverse_name
from handlers.requirements import receivers, summary_line
from handlers.settings import Settings
from handlers.spf import SpfResult
from tests.support.dns_server import DnsServer
from tests.support.mail_auth import publish_authentication

IP = "51.158.10.22"
DOMAIN = "northwind-traders.com"
SETTINGS = Settings(
    timeout=2.0, catalogue=tuple(z for z in builtin() if z.zone == "zen.spamhaus.org")
)


@pytest.fixture
def resolver(dns_server: DnsServer) -> Resolver:
    return Resolver([(dns_server.host, dns_server.port)], timeout=2.0)


def forward_confirmed(dns: DnsServer) -> None:
    dns.add(reverse_name(IP), "PTR", f"mail.{DOMAIN}.")
    dns.add(f"mail.{DOMAIN}", "A", IP)
    dns.add("2.0.0.127.zen.spamhaus.org", "A", "127.0.0.2")


async def test_domain_adds_dmarc_and_dkim(dns_server: DnsServer, resolver: Resolver) -> None:
    forward_confirmed(dns_server)
    dns_server.add(DOMAIN, "TXT", f"v=spf1 ip4:{IP} -all")
    publish_authentication(dns_server, DOMAIN)
    report = await full_check(IP, DOMAIN, resolver, SETTINGS)
    assert set(report.checks) == {"dnsbl", "ptr", "spf", "dmarc", "dkim"}
    spf, dmarc, dkim = report.checks["spf"], report.checks["dmarc"], report.checks["dkim"]
    assert isinstance(spf, SpfResult) and isinstance(dmarc, DmarcResult)
    assert isinstance(dkim, DkimResult)
    assert (dmarc.policy, dmarc.spf_aligned, dmarc.spf_result) == ("none", True, spf.result)
    assert dkim.selectors[0].key_bits == 2048 and report.verdict == "ok", report.to_json()
    rules = {r.id: r.met for r in report.requirements or []}
    assert rules == {
        "ptr": True,
        "spf_pass": True,
        "dkim_key": True,
        "dmarc_policy": True,
        "alignment": True,
        "tls": None,
    }
    data = report.to_json()
    assert data["checks"]["dmarc"]["found_at"] == DOMAIN
    assert data["checks"]["dkim"]["guessed"] is True
    assert {"rule", "who", "met"} <= set(data["requirements"][0])
    gmail = next(r for r in receivers() if r.id == "gmail")
    assert summary_line(gmail, report.requirements or []) == (
        "Gmail bulk sender rules: 5 of 6 met; unknown: TLS"
    )


async def test_missing_dmarc_shows_in_the_rules(dns_server: DnsServer, resolver: Resolver) -> None:
    forward_confirmed(dns_server)
    dns_server.add(DOMAIN, "TXT", f"v=spf1 ip4:{IP} -all")
    report = await full_check(IP, DOMAIN, resolver, SETTINGS)
    assert report.checks["dmarc"].status == "warn" and report.checks["dkim"].status == "warn"
    requirements = report.requirements or []
    rules = {r.id: r.met for r in requirements}
    assert rules["dmarc_policy"] is False and rules["dkim_key"] is None
    microsoft = next(r for r in receivers() if r.id == "microsoft")
    assert summary_line(microsoft, requirements) == (
        "Outlook.com high-volume sender rules: 2 of 4 met; not met: DMARC; unknown: DKIM"
    )


async def test_no_domain_no_rules(dns_server: DnsServer, resolver: Resolver) -> None:
    forward_confirmed(dns_server)
    report = await full_check(IP, None, resolver, SETTINGS)
    assert "dmarc" not in report.checks and report.requirements is None
    assert "requirements" not in report.to_json()
