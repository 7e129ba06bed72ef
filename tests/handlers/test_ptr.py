"""Reverse DNS over real DNS: missing, unconfirmed, confirmed, generic, IPv6 and DNS faults."""

from __future__ import annotations

import pytest

from handlers.dns.resolver import Resolver
from handlers.ptr import check_ptr, generic_reasons, reverse_name
from handlers.settings import Settings
from tests.support.dns_server import DnsServer

IP = "51.158.10.22"
IP6 = "2a01:4f8:10a::25"
SETTINGS = Settings(timeout=0.5)


def test_reverse_names() -> None:
    assert reverse_name(IP) == "22.10.158.51.in-addr.arpa"
    assert reverse_name(IP6).endswith(".a.0.1.0.8.f.4.0.1.0.a.2.ip6.arpa")
    assert reverse_name(IP6).startswith("5.2.0.0.0.0.0.0.")


async def test_no_ptr_fails_with_advice(resolver: Resolver, dns_server: DnsServer) -> None:
    result = await check_ptr(IP, resolver, SETTINGS)
    assert result.status == "fail"
    assert result.names == [] and not result.forward_confirmed
    assert "no PTR" in result.summary
    texts = " ".join(a.text for a in result.advice)
    assert "mail.yourdomain.com" in texts and IP in texts
    assert "cannot be had" in texts  # the regional exception from the guide
    assert dns_server.questions(reverse_name(IP))[0].rdtype == "PTR"


async def test_ptr_not_resolving_back_fails(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(reverse_name(IP), "PTR", "mail.example-mail.net.")
    dns_server.add("mail.example-mail.net", "A", "51.158.10.99")
    result = await check_ptr(IP, resolver, SETTINGS)
    assert result.status == "fail"
    assert result.names == ["mail.example-mail.net"]
    assert result.forward == {"mail.example-mail.net": ["51.158.10.99"]}
    assert not result.forward_confirmed
    assert "does not resolve back" in result.summary
    assert any("A/AAAA record for mail.example-mail.net" in a.text for a in result.advice)


async def test_ptr_name_without_address_fails(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(reverse_name(IP), "PTR", "gone.example-mail.net.")
    result = await check_ptr(IP, resolver, SETTINGS)
    assert result.status == "fail"
    assert result.forward == {"gone.example-mail.net": []}


async def test_confirmed_ptr_is_ok(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(reverse_name(IP), "PTR", "mail.shop-example.de.")
    dns_server.add("mail.shop-example.de", "A", "51.158.10.5", IP)
    dns_server.add("mail.shop-example.de", "AAAA", IP6)
    result = await check_ptr(IP, resolver, SETTINGS)
    assert result.status == "ok", result.summary
    assert result.forward_confirmed and not result.generic
    assert sorted(result.forward["mail.shop-example.de"]) == sorted(["51.158.10.5", IP, IP6])
    assert result.advice == []
    asked = {(q.name, q.rdtype) for q in dns_server.questions()}
    assert ("mail.shop-example.de", "A") in asked and ("mail.shop-example.de", "AAAA") in asked


async def test_every_ptr_name_must_confirm(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(reverse_name(IP), "PTR", "mail.shop-example.de.", "old.shop-example.de.")
    dns_server.add("mail.shop-example.de", "A", IP)
    dns_server.add("old.shop-example.de", "A", "51.158.11.1")
    result = await check_ptr(IP, resolver, SETTINGS)
    assert result.status == "fail"
    assert result.names == ["mail.shop-example.de", "old.shop-example.de"]
    assert "old.shop-example.de" in result.advice[0].text
    assert "mail.shop-example.de" not in result.advice[0].text


async def test_generic_name_warns(resolver: Resolver, dns_server: DnsServer) -> None:
    name = "51-158-10-22.dyn.example-isp.net"
    dns_server.add(reverse_name(IP), "PTR", name + ".")
    dns_server.add(name, "A", IP)
    result = await check_ptr(IP, resolver, SETTINGS)
    assert result.status == "warn"
    assert result.forward_confirmed and result.generic
    assert any("51-158-10-22" in r for r in result.generic_reasons)
    assert any("'dyn'" in r for r in result.generic_reasons)
    assert "mail.yourdomain.com" in result.advice[0].text


async def test_generic_but_unconfirmed_fails(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(reverse_name(IP), "PTR", "dsl-pool.example-isp.net.")
    result = await check_ptr(IP, resolver, SETTINGS)
    assert result.status == "fail" and result.generic


@pytest.mark.parametrize(
    "name",
    [
        "51-158-10-22.example-isp.net",  # dashes
        "22.10.158.51.example-isp.net",  # reversed, dots
        "051-158-010-022.example-isp.net",  # zero-padded
        "x051158010022.example-isp.net",  # padded, run together
        "339e0a16.example-isp.net",  # hex
        "ip-158-10-22.example-isp.eu",  # last three octets
        "dhcp-host.example-isp.net",
        "adsl.example-isp.net",
        "cable-modem.example-isp.net",
        "ppp7.example-isp.net",
        "broadband.example-isp.net",
        "customer.example-isp.net",
        "client-nine.example-isp.net",
        "static.example-isp.net",
        "host-7.example-isp.net",
        "dialup.example-isp.net",
        "ec2-51-158-10-22.eu-west-1.compute.amazonaws.com",
        "22.10.158.51.bc.googleusercontent.com",
        "vm.internal.cloudapp.azure.com",
    ],
)
def test_generic_forms_ipv4(name: str) -> None:
    assert generic_reasons(name, IP), name


@pytest.mark.parametrize(
    "name",
    [
        "static.2a01-4f8-10a--25.example-isp.net",
        "2a0104f8010a00000000000000000025.example-isp.net",
        "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.example-isp.net",
        "host.2a01.4f8.10a.25.example-isp.net",
    ],
)
def test_generic_forms_ipv6(name: str) -> None:
    assert generic_reasons(name, IP6), name


@pytest.mark.parametrize(
    "name",
    [
        "mail.shop-example.de",
        "mx1.example-mail.net",
        "smtp22.example-mail.net",
        "mail-out.mailhost.example.net",
        "relay.158.example.net",
    ],
)
def test_proper_names_are_not_generic(name: str) -> None:
    assert generic_reasons(name, IP) == []


async def test_ipv6_confirmed(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(reverse_name(IP6), "PTR", "mail.shop-example.de.")
    dns_server.add("mail.shop-example.de", "AAAA", "2a01:4f8:10a:0::25")
    result = await check_ptr("2a01:04f8:010a::0025", resolver, SETTINGS)
    assert result.status == "ok", result.summary
    assert result.ip == IP6
    assert result.forward["mail.shop-example.de"] == [IP6]
    assert dns_server.questions(reverse_name(IP6))


async def test_ipv6_unconfirmed_when_only_ipv4_back(
    resolver: Resolver, dns_server: DnsServer
) -> None:
    dns_server.add(reverse_name(IP6), "PTR", "mail.shop-example.de.")
    dns_server.add("mail.shop-example.de", "A", IP)
    result = await check_ptr(IP6, resolver, SETTINGS)
    assert result.status == "fail" and not result.forward_confirmed


async def test_ptr_timeout_is_error(short_resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.misbehave("in-addr.arpa", "timeout")
    result = await check_ptr(IP, short_resolver, SETTINGS)
    assert result.status == "error"
    assert "no answer" in result.summary
    assert result.advice == []


async def test_ptr_servfail_is_error(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.misbehave("158.51.in-addr.arpa", "servfail")
    result = await check_ptr(IP, resolver, SETTINGS)
    assert result.status == "error"
    assert "SERVFAIL" in result.summary


async def test_forward_lookup_failure_is_error_not_fail(
    resolver: Resolver, dns_server: DnsServer
) -> None:
    dns_server.add(reverse_name(IP), "PTR", "mail.broken-dns.net.")
    dns_server.misbehave("broken-dns.net", "servfail")
    result = await check_ptr(IP, resolver, SETTINGS)
    assert result.status == "error"
    assert not result.forward_confirmed
    assert "could not confirm" in result.summary


async def test_json_has_interface_fields(resolver: Resolver, dns_server: DnsServer) -> None:
    dns_server.add(reverse_name(IP), "PTR", "mail.shop-example.de.")
    dns_server.add("mail.shop-example.de", "A", IP)
    out = (await check_ptr(IP, resolver, SETTINGS)).to_json()
    assert out["status"] == "ok"
    assert out["names"] == ["mail.shop-example.de"]
    assert out["forward_confirmed"] is True and out["generic"] is False
    assert out["forward"] == {"mail.shop-example.de": [IP]}
    assert "advice" not in out
