"""The egress check against a local reference MX that echoes the client address."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.dns.resolver import Resolver
from handlers.egress import NOTE, check_egress, seen_address
from handlers.pools import load_pools
from handlers.settings import Settings
from tests.support.dns_server import DnsServer
from tests.support.smtp_servers import RawPeer, SmtpPeer, closed_port

REFERENCE = "mx.reference-example.net"
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pools.toml"


def lab(port: int, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "allow_private_targets": True,
        "smtp_ports": (port,),
        "smtp_timeout": 0.5,
        "smtp_helo_name": "probe.example-ops.net",
        "egress_reference": (REFERENCE, port),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def reference(dns_server: DnsServer) -> DnsServer:
    dns_server.add(REFERENCE, "A", "127.0.0.1")
    return dns_server


async def test_seen_address_matches_the_expected_one(
    reference: DnsServer, resolver: Resolver
) -> None:
    with SmtpPeer(name=REFERENCE, echo=True) as peer:
        result = await check_egress("127.0.0.1", resolver, lab(peer.port))
    assert result.seen_ip == "127.0.0.1"  # the address the far side really saw
    assert result.expected == "127.0.0.1"
    assert result.matches is True and result.status == "ok"
    assert result.reference == f"{REFERENCE}:{peer.port}"
    assert result.note == NOTE and "same network" in result.note
    assert result.probe is not None and result.probe.failure is None


async def test_seen_address_differs_from_the_expected_one(
    reference: DnsServer, resolver: Resolver
) -> None:
    with SmtpPeer(name=REFERENCE, echo=True) as peer:
        result = await check_egress("51.158.10.22", resolver, lab(peer.port))
    assert result.seen_ip == "127.0.0.1"
    assert result.matches is False and result.status == "fail"
    assert "not the expected 51.158.10.22" in result.summary
    assert "egress rule" in result.advice[0].text


async def test_without_an_expected_address_it_reports_what_it_saw(
    reference: DnsServer, resolver: Resolver
) -> None:
    with SmtpPeer(name=REFERENCE, echo=True, echo_style="hello") as peer:
        result = await check_egress(None, resolver, lab(peer.port))
    assert result.seen_ip == "127.0.0.1" and result.matches is None
    assert result.status == "ok" and "127.0.0.1" in result.summary


async def test_seen_address_in_an_operator_pool(reference: DnsServer, resolver: Resolver) -> None:
    pools = load_pools(SAMPLE)
    with SmtpPeer(name=REFERENCE, echo_address="51.158.10.22") as peer:
        result = await check_egress("51.158.10.22", resolver, lab(peer.port, pools=pools))
    assert result.seen_ip == "51.158.10.22" and result.matches is True
    assert result.pool is not None and result.pool.name == "Frankfurt egress"
    assert "Frankfurt egress" in result.summary
    assert any("PBL" in a.text for a in result.advice)
    assert result.to_json()["pool"]["name"] == "Frankfurt egress"


async def test_reference_that_does_not_echo(reference: DnsServer, resolver: Resolver) -> None:
    async with RawPeer("smtp") as peer:
        result = await check_egress("51.158.10.22", resolver, lab(peer.port))
    assert result.seen_ip is None and result.matches is None
    assert result.status == "error" and "does not say" in result.summary


async def test_reference_unreachable(reference: DnsServer, resolver: Resolver) -> None:
    port = closed_port()
    result = await check_egress("51.158.10.22", resolver, lab(port))
    assert result.status == "fail"
    assert result.probe is not None and result.probe.failure == "refused"
    assert "Could not reach" in result.summary


async def test_reference_is_held_to_the_safety_rules(
    reference: DnsServer, resolver: Resolver
) -> None:
    with SmtpPeer(name=REFERENCE, echo=True) as peer:
        result = await check_egress(None, resolver, lab(peer.port, allow_private_targets=False))
    assert result.probe is not None and result.probe.failure == "forbidden"
    assert result.status == "error" and result.seen_ip is None


async def test_no_reference_configured(resolver: Resolver) -> None:
    result = await check_egress(None, resolver, Settings(egress_reference=None))
    assert result.status == "error"  # asked for, and could not run
    assert "not checked" in result.summary and "SMTPCHECK_EGRESS_REFERENCE is off" in result.summary


def test_egress_facts_never_say_what_the_reference_saw_when_it_saw_nothing() -> None:
    from bot.facts import egress_lines

    nothing = {"status": "fail", "reference": "mx.example.net:25", "seen_ip": None}
    assert not any("saw" in line for line in egress_lines(nothing))
    off = {"status": "error", "reference": "", "seen_ip": None, "note": ""}
    assert egress_lines(off) == []
    seen = {"status": "ok", "reference": "mx.example.net:25", "seen_ip": "51.158.10.22"}
    assert egress_lines(seen)[0] == "mx.example.net:25 saw this connection come from 51.158.10.22"


async def test_expected_that_is_not_an_address(resolver: Resolver) -> None:
    result = await check_egress("not-an-ip", resolver, lab(2525))
    assert result.status == "error" and "not an IP address" in result.summary
    assert result.probe is None


@pytest.mark.parametrize(
    ("reply", "seen"),
    [
        ("250-mx.google.com at your service, [51.158.10.22]\n250 SIZE 1", "51.158.10.22"),
        ("250-mail.example.net Hello host.example [51.158.10.22], pleased", "51.158.10.22"),
        ("250-mx greets probe (2a01:4f8:10a::25)", "2a01:4f8:10a::25"),
        ("250-mx Hello [IPv6:2a01:4f8:10a::25]", "2a01:4f8:10a::25"),
        ("250-mx.example.net Hello 51.158.10.22", "51.158.10.22"),
        ("250-mx.example.net [not.an.ip] (v1.2.3)\n250 8BITMIME", None),
        ("250-mx.example.net\n250 8BITMIME", None),
    ],
)
def test_seen_address_forms(reply: str, seen: str | None) -> None:
    assert seen_address(reply) == seen
