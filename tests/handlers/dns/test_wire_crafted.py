"""The lean UDP path trusts nothing it did not ask for.

A raw UDP server on loopback sends exactly the packets a broken or hostile resolver could:
an A record with rdlength 5 (once read as "no data", so the list was reported clean), a
record for an unrelated name and a packet with QR=0 (once read as "listed"), another
class, another type, broken TXT strings, bytes after the last record, a reply under
another ID. None of them may come out as clean or listed.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from handlers.catalogue import Zone
from handlers.dns.resolver import Resolver, classify
from handlers.dnsbl import check_dnsbl
from handlers.settings import Settings

ZONE = Zone(
    zone="bl.example-bl.net",
    name="Example BL",
    kind="reputation",
    tier="secondary",
    lookup_url="https://x/{ip}",
)
IP = "51.158.10.22"
NAME = "22.10.158.51.bl.example-bl.net"
TYPES = {"A": 1, "TXT": 16}


def encode(name: str) -> bytes:
    return b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\x00"


def txt(text: bytes) -> bytes:
    return bytes([len(text)]) + text


GOOD = {1: b"\x7f\x00\x00\x02", 16: txt(b"listed, see https://example-bl.net")}

#: case -> (header flags, owner, rtype (None: the question's), class, rdata (None: good), trailer)
Case = tuple[int, bytes, int | None, int, bytes | None, bytes]
CASES: dict[str, Case] = {
    "well-formed": (0x8180, b"\xc0\x0c", None, 1, None, b""),
    "a 5-byte A record": (0x8180, b"\xc0\x0c", 1, 1, b"\x7f\x00\x00\x02\x00", b""),
    "a 3-byte A record": (0x8180, b"\xc0\x0c", 1, 1, b"\x7f\x00\x00", b""),
    "a record for another name": (0x8180, encode("2.0.0.127.bl.example-bl.net"), None, 1, None, b""),
    "QR=0": (0x0100, b"\xc0\x0c", None, 1, None, b""),
    "an inverse query opcode": (0x8980, b"\xc0\x0c", None, 1, None, b""),
    "class CHAOS": (0x8180, b"\xc0\x0c", None, 3, None, b""),
    "a TXT string longer than its record": (0x8180, b"\xc0\x0c", 16, 1, b"\x09listed", b""),
    "an empty TXT record": (0x8180, b"\xc0\x0c", 16, 1, b"", b""),
    "bytes after the last record": (0x8180, b"\xc0\x0c", None, 1, None, b"\x00\x00junk"),
    "a pointer that loops": (0x8180, b"\xc0\x30", None, 1, None, b""),
}  # fmt: skip
MALFORMED = [case for case in CASES if case != "well-formed"]


def craft(query: bytes, case: Case, *, qid_delta: int = 0) -> bytes:
    """A reply to `query` built byte by byte, broken the way `case` says."""
    flags, owner, rtype, rclass, rdata, trailer = case
    qid = (struct.unpack_from("!H", query)[0] + qid_delta) & 0xFFFF
    question = query[12:]
    qtype = struct.unpack_from("!H", question, len(question) - 4)[0]
    rtype = qtype if rtype is None else rtype
    if rdata is None:
        rdata = GOOD.get(rtype, b"\x00")
    record = owner + struct.pack("!HHIH", rtype, rclass, 60, len(rdata)) + rdata
    return struct.pack("!HHHHHH", qid, flags, 1, 1, 0, 0) + question + record + trailer


class CraftedServer:
    """A raw UDP socket on 127.0.0.1 answering every question with `reply(query)`."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.reply: Callable[[bytes], bytes | None] = lambda query: None
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()
        return str(host), int(port)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                query, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            self.received += 1
            packet = self.reply(query)
            if packet is not None:
                self.sock.sendto(packet, peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.sock.close()


@pytest.fixture
def server() -> Iterator[CraftedServer]:
    crafted = CraftedServer()
    yield crafted
    crafted.close()


def _qname(query: bytes) -> str:
    labels, offset = [], 12
    while query[offset]:
        labels.append(query[offset + 1 : offset + 1 + query[offset]].decode())
        offset += 1 + query[offset]
    return ".".join(labels)


@pytest.mark.parametrize("rdtype", ["A", "TXT"])
@pytest.mark.parametrize("case", list(CASES))
async def test_only_a_well_formed_reply_is_read(
    server: CraftedServer, case: str, rdtype: str
) -> None:
    server.reply = lambda query: craft(query, CASES[case])
    resolver = Resolver([server.address], timeout=0.5)
    try:
        answer = await resolver.lookup(NAME, rdtype, zone=ZONE)
    finally:
        resolver.close()
    if case == "well-formed":
        assert answer.outcome == "answer" and len(answer.records) == 1
        if rdtype == "A":
            assert classify(ZONE, answer) == "listed"
        return
    assert answer.outcome == "error", (case, answer)
    assert answer.detail.startswith("malformed reply"), answer.detail
    assert classify(ZONE, answer) not in ("listed", "clean")


@pytest.mark.parametrize("rdtype", ["A", "TXT"])
async def test_a_reply_under_another_id_is_not_taken(server: CraftedServer, rdtype: str) -> None:
    server.reply = lambda query: craft(query, CASES["well-formed"], qid_delta=1)
    resolver = Resolver([server.address], timeout=0.4)
    try:
        answer = await resolver.lookup(NAME, rdtype, zone=ZONE)
    finally:
        resolver.close()
    assert answer.outcome == "timeout"
    assert server.received >= 1


@pytest.mark.parametrize("case", MALFORMED)
async def test_a_list_sending_broken_replies_is_unavailable(
    server: CraftedServer, case: str
) -> None:
    """End to end: the list's RFC 5782 test points answer correctly, the address does not."""

    def reply(query: bytes) -> bytes | None:
        name = _qname(query).lower()
        if name == "2.0.0.127." + ZONE.zone:
            return craft(query, CASES["well-formed"])
        if name == NAME:
            return craft(query, CASES[case])
        nxdomain = bytearray(query[:12] + query[12:])
        struct.pack_into("!H", nxdomain, 2, 0x8183)
        return bytes(nxdomain)

    server.reply = reply
    resolver = Resolver([server.address], timeout=0.5)
    try:
        result = await check_dnsbl(IP, resolver, Settings(catalogue=(ZONE,)))
    finally:
        resolver.close()
    assert result.listed == [] and result.clean == [], case
    assert [(u.zone, u.reason) for u in result.unavailable] == [(ZONE.zone, "error")], case
