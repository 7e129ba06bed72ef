"""What a re-check or a watch says when the domain's DMARC or DKIM changed."""

from __future__ import annotations

from bot.changes import changes, material
from handlers.check import full_check
from handlers.dns.resolver import Resolver
from handlers.settings import Settings
from tests.support.dns_server import DnsServer
from tests.support.mail_auth import publish_authentication

IP = "51.158.10.22"
DOMAIN = "northwind-traders.com"
SETTINGS = Settings(timeout=2.0, catalogue=())


async def report(dns: DnsServer) -> dict[str, object]:
    resolver = Resolver([(dns.host, dns.port)], timeout=2.0)  # fresh: no cached answers
    return (await full_check(IP, DOMAIN, resolver, SETTINGS)).to_json()


async def test_dmarc_and_dkim_published(dns_server: DnsServer) -> None:
    dns_server.add(DOMAIN, "TXT", f"v=spf1 ip4:{IP} -all")
    before = await report(dns_server)
    publish_authentication(dns_server, DOMAIN)
    after = await report(dns_server)
    said = changes(before, after)
    assert f"DMARC record published at _dmarc.{DOMAIN}: p=none" in said
    assert "DKIM key published at selector selector1 (RSA 2048 bits)" in said
    assert material(before, after)
    assert changes(after, await report(dns_server)) == []  # nothing changed: nothing said


async def test_policy_and_alignment_changes(dns_server: DnsServer) -> None:
    dns_server.add(f"_dmarc.{DOMAIN}", "TXT", f"v=DMARC1; p=none; rua=mailto:d@{DOMAIN}")
    before = await report(dns_server)
    dns_server.remove(f"_dmarc.{DOMAIN}")
    dns_server.add(f"_dmarc.{DOMAIN}", "TXT", f"v=DMARC1; p=reject; rua=mailto:d@{DOMAIN}")
    dns_server.add(DOMAIN, "TXT", f"v=spf1 ip4:{IP} -all")
    after = await report(dns_server)
    said = changes(before, after)
    assert "DMARC policy none → reject" in said and "SPF now passes aligned" in said


async def test_unreadable_dmarc_is_not_material(dns_server: DnsServer) -> None:
    dns_server.add(f"_dmarc.{DOMAIN}", "TXT", f"v=DMARC1; p=none; rua=mailto:d@{DOMAIN}")
    before = await report(dns_server)
    dns_server.misbehave(f"_dmarc.{DOMAIN}", "servfail")
    after = await report(dns_server)
    assert "DMARC could not be read" in changes(before, after)
    assert not any("DMARC record removed" in c for c in changes(before, after))
