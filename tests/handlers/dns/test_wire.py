"""The lean UDP path for blocklist questions: its reading of answers and its fallbacks."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rrset
import pytest

from handlers.catalogue import Zone
from handlers.dns.resolver import Resolver
from handlers.dns.wire import NOT_OURS, UdpClient, encode_question, parse_reply
from tests.support.dns_server import ANSWER_TIMEOUT, DnsServer

ZONE = Zone(
    zone="bl.example-bl.net",
    name="Example BL",
    kind="reputation",
    tier="secondary",
    lookup_url="https://x/{ip}",
)
NAME = "22.10.158.51.bl.example-bl.net"


def wire_answer(
    query_name: str, rdtype: str, *records: str, tc: bool = False, cname: bool = False
) -> tuple[bytes, bytes]:
    query = dns.message.make_query(query_name, rdtype)
    query.use_edns(False)
    response = dns.message.make_response(query)
    if cname:
        response.answer.append(
            dns.rrset.from_text(query_name + ".", 60, "IN", "CNAME", "elsewhere.example-bl.net.")
        )
    if records:
        response.answer.append(dns.rrset.from_text(query_name + ".", 120, "IN", rdtype, *records))
    if tc:
        response.flags |= dns.flags.TC
    question = encode_question(query_name, 1 if rdtype == "A" else 16)
    assert question is not None
    return response.to_wire(), question


def test_reads_a_and_txt_answers() -> None:
    data, question = wire_answer(NAME, "A", "127.0.0.2", "127.0.0.4")
    reply = parse_reply(data, question, 1)
    assert reply is not None and sorted(reply.records) == ["127.0.0.2", "127.0.0.4"]
    assert reply.ttl == 120
    data, question = wire_answer(NAME, "TXT", '"listed: " "see https://example-bl.net"')
    reply = parse_reply(data, question, 16)
    assert reply is not None and reply.records == ("listed: see https://example-bl.net",)


def test_truncated_and_cname_answers_go_to_the_full_resolver() -> None:
    data, question = wire_answer(NAME, "TXT", '"x"', tc=True)
    assert parse_reply(data, question, 16) is None
    data, question = wire_answer(NAME, "A", cname=True)
    assert parse_reply(data, question, 1) is None


def test_answer_to_another_question_is_not_taken() -> None:
    data, _ = wire_answer("1.0.0.127.bl.example-bl.net", "A", "127.0.0.2")
    _, question = wire_answer(NAME, "A")
    assert parse_reply(data, question, 1) is NOT_OURS


@pytest.mark.parametrize("name", ["bad..name.example", "x" * 64 + ".example", "bücher.example"])
def test_names_it_will_not_encode(name: str) -> None:
    assert encode_question(name, 1) is None


async def test_negative_ttl_from_the_soa(resolver: Resolver, dns_server: DnsServer) -> None:
    answer = await resolver.lookup(NAME, "A", zone=ZONE)
    assert answer.outcome == "nxdomain" and answer.ttl == 60  # the test server's SOA minimum
    assert [q.transport for q in dns_server.questions(NAME)] == ["udp"]


async def test_long_txt_falls_back_to_tcp(resolver: Resolver, dns_server: DnsServer) -> None:
    reason = "listed because " + "x" * 1500  # over the 1232-byte EDNS payload too
    dns_server.add(NAME, "TXT", reason)
    answer = await resolver.lookup(NAME, "TXT", zone=ZONE)
    assert answer.records == (reason,)
    assert [q.transport for q in dns_server.questions(NAME)] == ["udp", "udp", "tcp"]


@pytest.fixture
def lossy_server() -> Iterator[tuple[str, int]]:
    """Drops the first datagram of every question, answers the second (a lost packet)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    seen: set[bytes] = set()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except OSError:
                continue
            if data[2:] not in seen:
                seen.add(data[2:])
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            response.answer.append(
                dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "127.0.0.2")
            )
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()
    stop.set()
    thread.join(1)
    sock.close()


async def test_a_lost_datagram_is_sent_again(lossy_server: tuple[str, int]) -> None:
    resolver = Resolver([lossy_server], timeout=1.5)
    answer = await resolver.lookup(NAME, "A", zone=ZONE)
    assert answer.records == ("127.0.0.2",)
    resolver.close()


async def test_client_matches_answers_by_id_among_many(dns_server: DnsServer) -> None:
    for n in range(50):
        dns_server.add(f"{n}.10.158.51.bl.example-bl.net", "A", f"127.0.0.{n + 2}")
    client = UdpClient([(dns_server.host, dns_server.port)], sockets_per_server=2)
    replies = await asyncio.gather(
        *(
            client.ask(
                (dns_server.host, dns_server.port), f"{n}.10.158.51.bl.example-bl.net", "A", 2
            )
            for n in range(50)
        )
    )
    assert [r.records for r in replies if r] == [(f"127.0.0.{n + 2}",) for n in range(50)]
    client.close()


def test_header_flags_ask_for_recursion() -> None:
    question = encode_question(NAME, 1)
    assert question is not None
    header = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
    parsed = dns.message.from_wire(header + question)
    assert parsed.flags & dns.flags.RD and str(parsed.question[0].name) == NAME + "."


def _open_fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd"))


async def test_closing_a_resolver_releases_its_sockets(dns_server: DnsServer) -> None:
    """Re-checks and watch runs use a fresh resolver each time: it must not leak sockets."""
    before = _open_fds()
    for _ in range(20):
        resolver = Resolver([(dns_server.host, dns_server.port)], timeout=ANSWER_TIMEOUT)
        await resolver.lookup(NAME, "A", zone=ZONE)
        resolver.close()
    await asyncio.sleep(0)  # transports finish closing on the next loop turn
    assert _open_fds() - before < 4
