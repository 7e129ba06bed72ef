"""DMARC, DKIM and the receivers' rules in Block Kit: one compact rules section, within Slack's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.slack import blocks
from handlers.catalogue import builtin
from handlers.check import full_check
from handlers.dns.resolver import Resolver
from handlers.settings import Settings
from tests.support.dns_server import DnsServer, reverse_name

IP = "51.158.10.22"
DOMAIN = "northwind-traders.com"
SETTINGS = Settings(
    timeout=2.0, catalogue=tuple(z for z in builtin() if z.zone == "zen.spamhaus.org")
)


@pytest.fixture
def resolver(dns_server: DnsServer) -> Resolver:
    return Resolver([(dns_server.host, dns_server.port)], timeout=2.0)


async def domain_report(dns: DnsServer, resolver: Resolver) -> dict[str, Any]:
    dns.add(reverse_name(IP, "in-addr.arpa"), "PTR", f"mail.{DOMAIN}.")
    dns.add(f"mail.{DOMAIN}", "A", IP)
    dns.add(DOMAIN, "TXT", f"v=spf1 ip4:{IP} -all")
    return (await full_check(IP, DOMAIN, resolver, SETTINGS)).to_json()


def texts(rendered: blocks.Rendered) -> list[str]:
    out = []
    for block in rendered.blocks:
        data = block if isinstance(block, dict) else block.to_dict()
        text = data.get("text")
        if isinstance(text, dict):
            out.append(str(text.get("text", "")))
    return out


async def test_rules_are_one_compact_section(dns_server: DnsServer, resolver: Resolver) -> None:
    report = await domain_report(dns_server, resolver)
    rendered = blocks.render([report], values=["v"])
    sections = [t for t in texts(rendered) if "sender rules" in t]
    assert len(sections) == 1
    [rules] = sections
    assert "Gmail bulk sender rules: 3 of 6 met; not met: DMARC; unknown: DKIM, TLS" in rules
    assert "Outlook.com high-volume sender rules" in rules and "Yahoo" in rules
    dmarc = next(t for t in texts(rendered) if "*DMARC*" in t)
    assert "No DMARC record" in dmarc
    advice = next(t for t in texts(rendered) if t.startswith("*What to do*"))
    assert f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{DOMAIN}" in advice
    assert "s= tag" in advice  # the DKIM selector to ask the mail platform for
    urls = json.dumps([b if isinstance(b, dict) else b.to_dict() for b in rendered.blocks])
    assert "https://support.google.com/a/answer/81126" in urls  # a guidelines button
    assert len(rendered.blocks) <= blocks.MAX_BLOCKS
    assert all(len(t) <= blocks.MAX_SECTION for t in texts(rendered))


async def test_hostile_dmarc_text_is_escaped(dns_server: DnsServer, resolver: Resolver) -> None:
    dns_server.add(
        f"_dmarc.{DOMAIN}", "TXT", "v=DMARC1; p=reject; <!channel>=x; rua=mailto:<@U1>@x.example"
    )
    report = await domain_report(dns_server, resolver)
    rendered = blocks.render([report])
    every = " ".join(texts(rendered))
    assert "<!channel>" not in every and "<@U1>" not in every


async def test_many_domain_reports_stay_within_limits(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    report = await domain_report(dns_server, resolver)
    rendered = blocks.render([report] * 8, values=["v"] * 8)
    assert len(rendered.blocks) <= blocks.MAX_BLOCKS
    assert all(len(t) <= blocks.MAX_SECTION for t in texts(rendered))
