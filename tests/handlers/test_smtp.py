"""The SMTP probe against real servers on loopback: every failure kind, TLS checks, refusals."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import socket
import ssl
import time
from collections.abc import Iterator

import pytest
import trustme

from handlers.dns.resolver import Resolver
from handlers.settings import Settings
from handlers.smtp import (
    ProbeLimiter,
    ProbeLimitExceeded,
    SmtpResult,
    TlsInfo,
    _failure_status,
    address_refusal,
    probe_smtp,
)
from tests.support.dns_server import DnsServer
from tests.support.smtp_servers import RawPeer, SmtpPeer, closed_port

NAME = "mx.example-mail.net"
HELO = "probe.example-ops.net"
#: Seconds after which a probe that should end is taken as hung: a liveness bound far
#: above the 0.5 s budget of lab(), never a speed figure.
HANG_GUARD = 30


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA, *names: str, expired: bool = False) -> ssl.SSLContext:
    now = dt.datetime.now(dt.UTC)
    if expired:
        cert = ca.issue_cert(
            *names, not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
        )
    else:
        cert = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


def lab(*ports: int, **overrides: object) -> Settings:
    """Settings for loopback tests: private targets allowed, the test ports allowed."""
    values: dict[str, object] = {
        "allow_private_targets": True,
        "smtp_ports": ports,
        "smtp_timeout": 0.5,
        "smtp_helo_name": HELO,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def named(dns_server: DnsServer) -> DnsServer:
    """mx.example-mail.net -> 127.0.0.1, with a matching PTR."""
    dns_server.add(NAME, "A", "127.0.0.1")
    dns_server.add("1.0.0.127.in-addr.arpa", "PTR", NAME + ".")
    return dns_server


# ---- plain SMTP --------------------------------------------------------------------------


async def test_plain_server_is_probed_without_sending_mail(
    named: DnsServer, resolver: Resolver
) -> None:
    async with RawPeer("smtp") as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert result.failure is None
    assert result.status == "warn"  # no STARTTLS offered
    assert "no STARTTLS" in result.summary
    assert peer.received == [f"EHLO {HELO}", "QUIT"]  # never MAIL, RCPT or DATA
    assert [s.name for s in result.steps] == ["connect", "banner", "ehlo", "quit"]
    assert [s.code for s in result.steps] == [None, 220, 250, 221]
    assert result.extensions == ["PIPELINING", "8BITMIME"]
    assert result.starttls is False and result.tls is None
    assert result.connect_ms is not None and result.connect_ms >= 0
    assert result.ptr == NAME and result.banner_host == NAME
    assert result.banner_matches_ptr is True
    assert "STARTTLS" in result.advice[0].text


async def test_aiosmtpd_multiline_ehlo_and_banner_name_against_ptr(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    dns_server.add("1.0.0.127.in-addr.arpa", "PTR", "static-1.example-isp.net.")
    with SmtpPeer(name="mail.shop-example.de") as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert result.failure is None
    assert result.banner is not None and result.banner.startswith("220 mail.shop-example.de")
    assert {"SIZE 33554432", "8BITMIME", "SMTPUTF8", "HELP"} <= set(result.extensions)
    assert result.banner_host == "mail.shop-example.de"
    assert result.ptr == "static-1.example-isp.net"
    assert result.banner_matches_ptr is False
    assert "differs from PTR" in result.summary


async def test_ehlo_refused_is_rejected_in_the_servers_words(resolver: Resolver) -> None:
    replies = {"EHLO": "550 5.7.1 Client host rejected: your HELO looks odd"}
    async with RawPeer("smtp", replies=replies) as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert result.failure == "rejected" and result.status == "fail"
    assert "your HELO looks odd" in result.summary
    assert "EHLO" in result.summary
    assert peer.received[-1] == "QUIT"


async def test_server_without_esmtp_gets_helo(resolver: Resolver) -> None:
    async with RawPeer("smtp", replies={"EHLO": "502 5.5.1 what?"}) as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert peer.received == [f"EHLO {HELO}", f"HELO {HELO}", "QUIT"]
    assert result.failure is None
    assert [s.name for s in result.steps][:4] == ["connect", "banner", "ehlo", "helo"]


# ---- TLS ---------------------------------------------------------------------------------


async def test_starttls_with_a_good_certificate(
    named: DnsServer, resolver: Resolver, ca: trustme.CA, ca_file: str
) -> None:
    with SmtpPeer(starttls=server_context(ca, NAME)) as peer:
        settings = lab(peer.port, smtp_ca_file=ca_file)
        result = await probe_smtp(NAME, peer.port, resolver, settings)
    assert result.failure is None, result.summary
    assert result.status == "ok"
    assert result.address == "127.0.0.1" and result.host == NAME
    assert result.starttls is True
    tls = result.tls
    assert tls is not None
    assert tls.version in ("TLSv1.2", "TLSv1.3")
    assert tls.certificate_ok is True and tls.certificate_error is None
    assert tls.name_checked == NAME and NAME in tls.names
    assert tls.not_after is not None and tls.issuer and tls.subject is not None
    names = [s.name for s in result.steps]
    assert names == ["connect", "banner", "ehlo", "starttls", "tls", "ehlo after tls", "quit"]
    assert "STARTTLS" not in result.extensions_tls and "8BITMIME" in result.extensions_tls


async def test_expired_certificate(
    named: DnsServer, resolver: Resolver, ca: trustme.CA, ca_file: str
) -> None:
    with SmtpPeer(starttls=server_context(ca, NAME, expired=True)) as peer:
        settings = lab(peer.port, smtp_ca_file=ca_file)
        result = await probe_smtp(NAME, peer.port, resolver, settings)
    assert result.failure == "tls" and result.status == "fail"
    assert result.tls is not None
    assert result.tls.certificate_error == "expired"
    assert result.tls.certificate_ok is False
    assert result.tls.not_after is not None
    assert dt.datetime.fromisoformat(result.tls.not_after) < dt.datetime.now(dt.UTC)
    assert "expired" in result.advice[0].text and "renew" in result.advice[0].text


async def test_certificate_for_another_name(
    named: DnsServer, resolver: Resolver, ca: trustme.CA, ca_file: str
) -> None:
    with SmtpPeer(starttls=server_context(ca, "webmail.other-example.org")) as peer:
        settings = lab(peer.port, smtp_ca_file=ca_file)
        result = await probe_smtp(NAME, peer.port, resolver, settings)
    assert result.failure == "tls"
    assert result.tls is not None
    assert result.tls.certificate_error == "name"
    assert result.tls.problems == ["name"]
    assert result.tls.names == ["webmail.other-example.org"]
    assert result.tls.name_checked == NAME
    assert result.tls.version is not None  # the handshake itself worked
    assert "webmail.other-example.org" in result.advice[0].text


async def test_probe_by_address_matches_the_certificate_against_the_ptr(
    named: DnsServer, resolver: Resolver, ca: trustme.CA, ca_file: str
) -> None:
    with SmtpPeer(starttls=server_context(ca, NAME)) as peer:
        result = await probe_smtp(
            "127.0.0.1", peer.port, resolver, lab(peer.port, smtp_ca_file=ca_file)
        )
    assert result.failure is None
    assert result.tls is not None and result.tls.name_checked == NAME


async def test_untrusted_chain(named: DnsServer, resolver: Resolver, ca_file: str) -> None:
    stranger = trustme.CA()  # not in ca_file: like a self-signed certificate
    with SmtpPeer(starttls=server_context(stranger, NAME)) as peer:
        settings = lab(peer.port, smtp_ca_file=ca_file)
        result = await probe_smtp(NAME, peer.port, resolver, settings)
    assert result.failure == "tls"
    assert result.tls is not None
    assert result.tls.certificate_error == "chain"
    assert result.tls.subject is not None  # read on the second, unverified connection
    assert "intermediate" in result.advice[0].text


async def test_implicit_tls(
    named: DnsServer, resolver: Resolver, ca: trustme.CA, ca_file: str
) -> None:
    with SmtpPeer(implicit=server_context(ca, NAME)) as peer:
        settings = lab(peer.port, smtp_ca_file=ca_file, smtp_implicit_tls_ports=(peer.port,))
        result = await probe_smtp(NAME, peer.port, resolver, settings)
    assert result.failure is None, result.summary
    assert result.status == "ok" and result.implicit_tls is True
    assert result.tls is not None and result.tls.certificate_ok is True
    assert [s.name for s in result.steps][:3] == ["connect", "tls", "banner"]
    assert "implicit TLS" in result.summary


async def test_implicit_tls_port_speaking_plain_smtp(resolver: Resolver) -> None:
    async with RawPeer("smtp") as peer:
        settings = lab(peer.port, smtp_implicit_tls_ports=(peer.port,))
        result = await probe_smtp("127.0.0.1", peer.port, resolver, settings)
    assert result.failure == "tls"
    assert result.tls is not None and result.tls.problems == ["handshake"]
    assert result.tls.certificate_ok is None


#: A fatal TLS alert record, "protocol_version" (70): what a server that only speaks
#: TLS 1.0/1.1 answers to our TLS 1.2+ hello.
PROTOCOL_VERSION_ALERT = bytes([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 70])
TLS_OFFERED = {"EHLO": "250-mx.example-mail.net\r\n250 STARTTLS", "STARTTLS": "220 2.0.0 go ahead"}


async def test_no_common_tls_version_is_a_protocol_problem(resolver: Resolver) -> None:
    async with RawPeer("smtp", replies=TLS_OFFERED, after_starttls=PROTOCOL_VERSION_ALERT) as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert result.failure == "tls" and result.status == "fail"
    assert result.tls is not None and result.tls.problems == ["protocol"]
    assert "TLS 1.2" in result.advice[0].text


async def test_handshake_broken_by_the_server(resolver: Resolver) -> None:
    garbage = b"500 this is not TLS at all\r\n"
    async with RawPeer("smtp", replies=TLS_OFFERED, after_starttls=garbage) as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert result.failure == "tls"
    assert result.tls is not None and result.tls.problems == ["handshake"]
    assert result.tls.certificate_ok is None
    assert "TLS fails" in result.advice[0].text


async def test_starttls_offered_but_refused(resolver: Resolver) -> None:
    replies = {
        "EHLO": "250-mx.example-mail.net\r\n250 STARTTLS",
        "STARTTLS": "454 4.7.0 TLS not available due to local problem",
    }
    async with RawPeer("smtp", replies=replies) as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert result.failure == "tls"
    assert result.tls is not None and result.tls.problems == ["starttls_refused"]
    assert "454 4.7.0" in result.summary


def test_certificate_problems_on_port_25_are_a_warning() -> None:
    """Between MTAs TLS is opportunistic; on submission ports clients verify."""
    tls = TlsInfo(problems=["expired"], certificate_ok=False, certificate_error="expired")
    mx = SmtpResult(status="fail", summary="", host="h", address="51.158.10.22", port=25, tls=tls)
    submission = SmtpResult(
        status="fail", summary="", host="h", address="51.158.10.22", port=587, tls=tls
    )
    assert _failure_status("tls", mx) == "warn"
    assert _failure_status("tls", submission) == "fail"
    broken = TlsInfo(problems=["handshake"])
    mx.tls = broken
    assert _failure_status("tls", mx) == "fail"


# ---- failure kinds -----------------------------------------------------------------------


async def test_554_banner_is_rejected_in_the_servers_words(resolver: Resolver) -> None:
    banner = "554 5.7.1 mx.example-mail.net: connections from your address are not accepted"
    async with RawPeer("banner", banner=banner) as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert result.failure == "rejected" and result.status == "fail"
    assert result.banner == banner
    assert "not accepted" in result.summary and "greeting" in result.summary
    assert "connections from your address are not accepted" in result.advice[0].text
    assert peer.received == ["QUIT"]


async def test_421_banner_is_a_temporary_refusal(resolver: Resolver) -> None:
    async with RawPeer("banner", banner="421 4.3.2 Service not available, busy") as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert result.failure == "rejected"
    assert "temporary" in result.advice[0].text


async def test_silent_server_times_out_at_the_banner(resolver: Resolver) -> None:
    """A server that never greets is given up on (one connection, closed by the probe).

    The outcome proves the timeout fired; HANG_GUARD only turns a hang into a failure
    instead of a stuck suite, far above the 0.5 s budget (not a speed figure).
    """
    async with RawPeer("silent") as peer:
        result = await asyncio.wait_for(
            probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port)), HANG_GUARD
        )
        for _ in range(1000):  # the probe's close reaches the peer's loop (liveness)
            if peer.hangups:
                break
            await asyncio.sleep(0.01)
        assert (peer.connections, peer.hangups, peer.received) == (1, 1, [])
    assert result.failure == "timeout" and result.status == "fail"
    assert result.connect_ms is not None  # the connection itself worked
    assert "never sent its greeting" in result.summary
    assert "fell silent" in result.advice[0].text
    assert result.steps[-1].name == "banner" and result.steps[-1].status == "fail"


async def test_server_that_hangs_up(resolver: Resolver) -> None:
    async with RawPeer("close") as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert result.failure == "rejected"
    assert "closed the connection" in result.summary


async def test_closed_port_is_refused(resolver: Resolver) -> None:
    port = closed_port()
    result = await probe_smtp("127.0.0.1", port, resolver, lab(port))
    assert result.failure == "refused" and result.status == "fail"
    assert result.connect_ms is None
    assert "Nothing accepts connections" in result.advice[0].text


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full: the kernel drops further SYNs, like a firewall."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.05)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


async def test_dropped_connection_times_out_and_says_where_it_ran(
    resolver: Resolver, full_backlog: int
) -> None:
    result = await probe_smtp("127.0.0.1", full_backlog, resolver, lab(full_backlog))
    assert result.failure == "timeout"
    assert result.connect_ms is None
    assert result.steps[0].name == "connect"
    assert socket.gethostname() in result.summary
    assert result.probed_from == socket.gethostname()
    assert "outbound port 25" in result.advice[0].text


async def test_not_smtp(resolver: Resolver) -> None:
    async with RawPeer("not_smtp") as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert result.failure == "protocol"
    assert "SSH-2.0" in result.summary


async def test_name_that_does_not_resolve(dns_server: DnsServer, resolver: Resolver) -> None:
    result = await probe_smtp("nowhere.example-mail.net", 25, resolver, lab(25))
    assert result.failure == "dns" and result.status == "error"
    assert "does not exist" in result.summary


async def test_json_has_the_interface_fields(resolver: Resolver) -> None:
    async with RawPeer("banner", banner="554 no") as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    out = json.loads(json.dumps(result.to_json()))
    for key in (
        "status",
        "summary",
        "host",
        "address",
        "port",
        "connect_ms",
        "banner",
        "extensions",
        "starttls",
        "tls",
        "failure",
        "steps",
    ):
        assert key in out
    assert out["failure"] == "rejected"
    assert out["steps"][1]["code"] == 554


# ---- safety ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.1.10", "private"),
        ("100.64.7.1", "carrier-grade NAT"),
        ("169.254.169.254", "metadata"),
        ("169.254.10.1", "link-local"),
        ("224.0.0.5", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "metadata"),
        ("fd12:3456::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:a00:1::1", "private"),  # 6to4 wrapping 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64 wrapping 169.254.169.254
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    reason = address_refusal(address, Settings())
    assert reason is not None and kind in reason


@pytest.mark.parametrize("address", ["51.158.10.22", "2a01:4f8:10a::25"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(address, Settings()) is None


def test_metadata_is_refused_even_in_a_lab() -> None:
    lab_settings = Settings(allow_private_targets=True)
    assert address_refusal("10.1.2.3", lab_settings) is None
    assert address_refusal("169.254.169.254", lab_settings) is not None
    assert address_refusal("fd00:ec2::254", lab_settings) is not None


@pytest.fixture
async def listener() -> RawPeer:
    """A server nothing may reach when the switch is off: its connection count must stay 0."""
    peer = RawPeer("smtp")
    await peer.__aenter__()
    yield peer  # type: ignore[misc]
    await peer.__aexit__(None, None, None)


def strict(port: int) -> Settings:
    return Settings(smtp_ports=(port,), smtp_timeout=0.5, smtp_helo_name=HELO)


async def test_loopback_address_is_refused(resolver: Resolver, listener: RawPeer) -> None:
    result = await probe_smtp("127.0.0.1", listener.port, resolver, strict(listener.port))
    assert result.failure == "forbidden" and result.status == "error"
    assert "loopback" in result.summary
    assert listener.connections == 0


@pytest.mark.parametrize(
    ("records", "kind"),
    [
        (("127.0.0.1",), "loopback"),
        (("169.254.169.254",), "metadata"),
        (("51.158.10.22", "10.20.30.40"), "private"),  # one public, one private
    ],
)
async def test_names_resolving_inside_are_refused(
    dns_server: DnsServer,
    resolver: Resolver,
    listener: RawPeer,
    records: tuple[str, ...],
    kind: str,
) -> None:
    dns_server.add("inside.example-mail.net", "A", *records)
    result = await probe_smtp(
        "inside.example-mail.net", listener.port, resolver, strict(listener.port)
    )
    assert result.failure == "forbidden"
    assert kind in result.summary and "inside.example-mail.net resolves to" in result.summary
    assert listener.connections == 0


async def test_private_aaaa_next_to_public_a_is_refused(
    dns_server: DnsServer, resolver: Resolver, listener: RawPeer
) -> None:
    dns_server.add("dual.example-mail.net", "A", "51.158.10.22")
    dns_server.add("dual.example-mail.net", "AAAA", "::1")
    result = await probe_smtp(
        "dual.example-mail.net", listener.port, resolver, strict(listener.port)
    )
    assert result.failure == "forbidden" and "loopback" in result.summary
    assert listener.connections == 0


@pytest.mark.parametrize("port", [22, 80, 443, 3306, 8025])
async def test_other_ports_are_refused_before_any_lookup(
    dns_server: DnsServer, resolver: Resolver, port: int
) -> None:
    dns_server.add("smtp.shop-example.de", "A", "51.158.10.22")
    result = await probe_smtp("smtp.shop-example.de", port, resolver, Settings())
    assert result.failure == "forbidden"
    assert f"port {port}" in result.summary
    assert dns_server.questions() == []


# ---- per-user cap ------------------------------------------------------------------------


async def test_per_user_cap(resolver: Resolver) -> None:
    limiter = ProbeLimiter(per_user=2)
    async with RawPeer("silent") as peer:
        settings = lab(peer.port, smtp_timeout=0.3)

        async def probe(user: str) -> SmtpResult:
            async with limiter.slot(user):
                return await probe_smtp("127.0.0.1", peer.port, resolver, settings)

        first = asyncio.create_task(probe("U1"))
        second = asyncio.create_task(probe("U1"))
        await asyncio.sleep(0.05)
        assert limiter.running("U1") == 2
        with pytest.raises(ProbeLimitExceeded) as refused:
            await probe("U1")
        assert refused.value.limit == 2 and "U1" in str(refused.value)
        other = await probe("U2")  # another user is not held up
        assert other.failure == "timeout"
        results = await asyncio.gather(first, second)
        assert [r.failure for r in results] == ["timeout", "timeout"]
    assert limiter.running("U1") == 0
    async with limiter.slot("U1"), limiter.slot("U1"):
        assert limiter.running("U1") == 2


async def test_cap_slot_is_released_when_the_probe_raises() -> None:
    limiter = ProbeLimiter(per_user=1)
    with pytest.raises(RuntimeError):
        async with limiter.slot("U1"):
            raise RuntimeError("boom")
    async with limiter.slot("U1"):
        assert limiter.running("U1") == 1


def test_cap_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ProbeLimiter(per_user=0)


async def test_the_facts_say_each_reply_once_and_no_code_is_a_banner_name(
    resolver: Resolver,
) -> None:
    from bot.facts import smtp_lines

    banner = "554 5.7.1 connections from your address are not accepted"
    async with RawPeer("banner", banner=banner) as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert result.banner_host is None  # 5.7.1 is a status code, not a host name
    lines = smtp_lines(result.to_json())
    text = "\n".join(lines)
    assert "554 554" not in text and text.count(banner) == 1
    assert "banner name" not in text
    assert "STARTTLS not offered" not in text  # EHLO never happened
    async with RawPeer("smtp") as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    text = "\n".join(smtp_lines(result.to_json()))
    assert "220 220" not in text and "250 250" not in text
    assert "banner name mx.example-mail.net; the address has no PTR" in text


async def test_a_closed_connection_is_not_a_refusal_at_the_greeting(resolver: Resolver) -> None:
    async with RawPeer("close") as peer:
        result = await probe_smtp("127.0.0.1", peer.port, resolver, lab(peer.port))
    assert "refuses us" not in result.summary
    assert "not an SMTP reply" in result.summary
    assert "without any SMTP reply" in result.advice[0].text
