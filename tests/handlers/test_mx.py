"""The MX check: records in preference order, implicit and null MX, every host probed.

MX records carry no port, so the hosts live on 127.0.0.1 and 127.0.0.2 and the check
probes `Settings.smtp_port_override` (one port both addresses share) instead of 25.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from handlers.dns.resolver import Resolver
from handlers.mx import check_mx
from handlers.settings import Settings
from tests.support.dns_server import DnsServer
from tests.support.smtp_servers import RawPeer, closed_port

DOMAIN = "shop-example.de"


def lab(port: int, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "allow_private_targets": True,
        "smtp_ports": (port,),
        "smtp_port_override": port,
        "smtp_timeout": 0.5,
        "smtp_helo_name": "probe.example-ops.net",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def port() -> AsyncIterator[int]:
    yield closed_port()


async def test_hosts_in_preference_order_each_probed(
    dns_server: DnsServer, resolver: Resolver, port: int
) -> None:
    dns_server.add(DOMAIN, "MX", f"20 mx2.{DOMAIN}.", f"10 mx1.{DOMAIN}.")
    dns_server.add(f"mx1.{DOMAIN}", "A", "127.0.0.1")
    dns_server.add(f"mx2.{DOMAIN}", "A", "127.0.0.2")  # nothing listens there
    async with RawPeer("smtp", port=port) as peer:
        result = await check_mx(DOMAIN, resolver, lab(port))
    assert peer.connections == 1
    assert [(h.preference, h.host) for h in result.hosts] == [
        (10, f"mx1.{DOMAIN}"),
        (20, f"mx2.{DOMAIN}"),
    ]
    first, second = result.hosts
    assert first.failure is None and first.addresses == ["127.0.0.1"]
    assert first.banner == "220 mx.example-mail.net ESMTP"
    assert second.failure == "refused" and second.status == "fail"
    assert result.status == "warn"
    assert "1 of 2" in result.summary and "1 does not" in result.summary
    assert result.implicit is False and result.null_mx is False
    assert any("Nothing accepts connections" in a.text for a in result.advice)


async def test_all_hosts_answer(dns_server: DnsServer, resolver: Resolver, port: int) -> None:
    dns_server.add(DOMAIN, "MX", f"10 mx1.{DOMAIN}.", f"10 mx2.{DOMAIN}.")
    dns_server.add(f"mx1.{DOMAIN}", "A", "127.0.0.1")
    dns_server.add(f"mx2.{DOMAIN}", "A", "127.0.0.2")
    async with (
        RawPeer("smtp", port=port) as one,
        RawPeer("smtp", "", "127.0.0.2", port=port) as two,
    ):
        result = await check_mx(DOMAIN, resolver, lab(port))
    assert one.connections == 1 and two.connections == 1
    assert [h.failure for h in result.hosts] == [None, None]
    assert "2 of 2" in result.summary
    assert result.status == "warn"  # neither offers STARTTLS
    assert all(h.starttls is False for h in result.hosts)


async def test_no_mx_means_the_domain_itself(
    dns_server: DnsServer, resolver: Resolver, port: int
) -> None:
    dns_server.add(DOMAIN, "A", "127.0.0.1")
    async with RawPeer("smtp", port=port) as peer:
        result = await check_mx(DOMAIN, resolver, lab(port))
    assert peer.connections == 1
    assert result.implicit is True
    assert [(h.preference, h.host) for h in result.hosts] == [(0, DOMAIN)]
    assert "implicit MX" in result.summary


async def test_null_mx_accepts_no_mail(
    dns_server: DnsServer, resolver: Resolver, port: int
) -> None:
    dns_server.add(DOMAIN, "MX", "0 .")
    dns_server.add(DOMAIN, "A", "127.0.0.1")
    async with RawPeer("smtp", port=port) as peer:
        result = await check_mx(DOMAIN, resolver, lab(port))
    assert peer.connections == 0  # nothing to probe: the domain said so
    assert result.null_mx is True and result.hosts == []
    assert result.status == "fail"
    assert "accepts no mail" in result.summary and "RFC 7505" in result.summary


async def test_null_mx_next_to_real_mx_is_flagged(
    dns_server: DnsServer, resolver: Resolver, port: int
) -> None:
    dns_server.add(DOMAIN, "MX", "0 .", f"10 mx1.{DOMAIN}.")
    dns_server.add(f"mx1.{DOMAIN}", "A", "127.0.0.1")
    async with RawPeer("smtp", port=port):
        result = await check_mx(DOMAIN, resolver, lab(port))
    assert [h.host for h in result.hosts] == [f"mx1.{DOMAIN}"]
    assert result.status == "warn" and "RFC 7505 forbids" in result.summary


async def test_every_host_down_fails(dns_server: DnsServer, resolver: Resolver, port: int) -> None:
    dns_server.add(DOMAIN, "MX", f"10 mx1.{DOMAIN}.")
    dns_server.add(f"mx1.{DOMAIN}", "A", "127.0.0.1")
    result = await check_mx(DOMAIN, resolver, lab(port))
    assert result.status == "fail"
    assert "no MX host answers SMTP" in result.summary


async def test_domain_that_does_not_exist(dns_server: DnsServer, resolver: Resolver) -> None:
    result = await check_mx("gone.example-mail.net", resolver, lab(25))
    assert result.status == "fail" and "does not exist" in result.summary


async def test_mx_lookup_failure_is_an_error(dns_server: DnsServer, resolver: Resolver) -> None:
    dns_server.misbehave(DOMAIN, "servfail")
    result = await check_mx(DOMAIN, resolver, lab(25))
    assert result.status == "error" and "servfail" in result.summary


async def test_mx_hosts_inside_are_refused_with_the_switch_off(
    dns_server: DnsServer, resolver: Resolver, port: int
) -> None:
    dns_server.add(DOMAIN, "MX", f"10 mx1.{DOMAIN}.")
    dns_server.add(f"mx1.{DOMAIN}", "A", "127.0.0.1")
    async with RawPeer("smtp", port=port) as peer:
        result = await check_mx(DOMAIN, resolver, lab(port, allow_private_targets=False))
    assert peer.connections == 0
    assert result.hosts[0].failure == "forbidden"
    assert result.status == "error"


async def test_host_count_is_capped(dns_server: DnsServer, resolver: Resolver, port: int) -> None:
    dns_server.add(DOMAIN, "MX", *(f"{i} mx{i}.{DOMAIN}." for i in (1, 2, 3)))
    for i in (1, 2, 3):
        dns_server.add(f"mx{i}.{DOMAIN}", "A", "127.0.0.1")
    async with RawPeer("smtp", port=port) as peer:
        result = await check_mx(DOMAIN, resolver, lab(port, mx_max_hosts=2))
    assert peer.connections == 2
    assert [h.host for h in result.hosts] == [f"mx1.{DOMAIN}", f"mx2.{DOMAIN}"]
    assert result.not_probed == [f"3 mx3.{DOMAIN}"]
    assert "1 more MX record not probed" in result.summary


async def test_json_rows_are_compact(dns_server: DnsServer, resolver: Resolver, port: int) -> None:
    dns_server.add(DOMAIN, "MX", f"10 mx1.{DOMAIN}.")
    dns_server.add(f"mx1.{DOMAIN}", "A", "127.0.0.1")
    async with RawPeer("smtp", port=port):
        result = await check_mx(DOMAIN, resolver, lab(port))
    out = json.loads(json.dumps(result.to_json()))
    row = out["hosts"][0]
    assert row["host"] == f"mx1.{DOMAIN}" and row["preference"] == 10
    assert "probe" not in row and row["addresses"] == ["127.0.0.1"]
    assert out["domain"] == DOMAIN and out["null_mx"] is False


async def test_a_dangling_mx_is_a_fail_that_says_fix_the_mx_record(
    dns_server: DnsServer, resolver: Resolver, port: int
) -> None:
    dns_server.add(DOMAIN, "MX", f"10 mail.{DOMAIN}.")  # mail.shop-example.de has no address
    result = await check_mx(DOMAIN, resolver, lab(port))
    (host,) = result.hosts
    assert host.status == "fail" and result.status == "fail"
    assert any(a.text.startswith(f"Fix the MX record of {DOMAIN}") for a in result.advice)


async def test_an_mx_host_whose_lookup_failed_stays_an_error(
    dns_server: DnsServer, resolver: Resolver, port: int
) -> None:
    dns_server.add(DOMAIN, "MX", "10 mail.broken-dns.example.")
    dns_server.misbehave("broken-dns.example", "servfail")
    result = await check_mx(DOMAIN, resolver, lab(port))
    assert result.hosts[0].status == "error"
    assert not any("Fix the MX record" in a.text for a in result.advice)
