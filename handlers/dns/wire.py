"""A lean DNS-over-UDP client for the blocklist questions, which are most of the traffic.

A range check asks thousands of "is 22.10.158.51.zen.spamhaus.org listed?" questions.
Through dnspython's resolver each one costs about 1.6 ms of CPU (name and message
objects, a socket per question), which made a /24 CPU-bound. These questions are the
simplest DNS has: one A or TXT question, an answer of a few records. This client
encodes the question by hand, keeps a few UDP sockets per nameserver open and matches
answers by ID and question, and reads only what the blocklist check needs.

Anything unusual (a truncated answer, a CNAME, a name it will not encode) returns None,
and the resolver asks again through dnspython: this is a fast path, not a second resolver.
It trusts nothing it did not ask for: a reply must have QR=1, the ID, question, class and
type asked, records owned by the name asked and well-formed rdata, with nothing after
them. Anything else is `Malformed`, which the resolver reports as an error: a list whose
answer cannot be read is unavailable, never clean and never listed.
"""

from __future__ import annotations

import asyncio
import secrets
import struct
from collections.abc import Sequence
from dataclasses import dataclass

QTYPES = {"A": 1, "TXT": 16}
#: Least seconds before a question without an answer is sent again (if the budget allows).
RETRY_AFTER = 0.25
_A, _CNAME, _SOA, _IN = 1, 5, 6, 1
_QR, _OPCODE, _TC = 0x8000, 0x7800, 0x0200
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
RCODES = {0: "noerror", 2: "servfail", 3: "nxdomain", 5: "refused"}


@dataclass(frozen=True)
class Reply:
    """What the blocklist check needs from an answer."""

    rcode: int
    records: tuple[str, ...]
    ttl: int
    #: min(SOA TTL, SOA minimum) from the authority section, for negative caching.
    negative_ttl: int | None


def encode_question(name: str, qtype: int) -> bytes | None:
    """The question section for `name`, or None for a name this fast path will not encode."""
    labels = name.rstrip(".").split(".")
    out = bytearray()
    for label in labels:
        raw = label.encode("ascii", "strict") if label.isascii() else b""
        if not raw or len(raw) > 63:
            return None
        out.append(len(raw))
        out += raw.lower()
    if len(out) > 254:
        return None
    out += b"\x00" + struct.pack("!HH", qtype, 1)
    return bytes(out)


class NotOurs:
    """A datagram answering some other question (a late reply under a reused ID): ignored."""


NOT_OURS = NotOurs()


@dataclass(frozen=True)
class Malformed:
    """A reply to our question that is not a well-formed answer: never clean, never listed."""

    reason: str


def _read_name(data: bytes, offset: int) -> tuple[bytes, int]:
    """The name at `offset` (lower case, labels joined by dots) and the offset after it.

    Compression pointers must point backwards, so a hostile packet cannot loop; a name
    over 255 bytes, a label running past the end or a reserved label type is a ValueError.
    """
    labels: list[bytes] = []
    end: int | None = None
    size = 0
    while True:
        length = data[offset]
        if length & 0xC0 == 0xC0:
            pointer = (length & 0x3F) << 8 | data[offset + 1]
            if pointer >= offset:
                raise ValueError("a compression pointer that does not point back")
            if end is None:
                end = offset + 2
            offset = pointer
            continue
        if length & 0xC0:
            raise ValueError("a reserved label type")
        if length == 0:
            return b".".join(labels), (offset + 1 if end is None else end)
        label = data[offset + 1 : offset + 1 + length]
        size += 1 + length
        if len(label) != length or size > 255:
            raise ValueError("a name running past the end")
        labels.append(label.lower())
        offset += 1 + length


def _txt(rdata: bytes) -> str:
    """The joined character-strings of a TXT record; ValueError unless they fill it exactly."""
    parts, i = [], 0
    while i < len(rdata):
        n = rdata[i]
        if i + 1 + n > len(rdata):
            raise ValueError("a TXT string longer than its record")
        parts.append(rdata[i + 1 : i + 1 + n])
        i += 1 + n
    if not rdata:
        raise ValueError("an empty TXT record")
    return b"".join(parts).decode("utf-8", "replace")


def parse_reply(data: bytes, question: bytes, qtype: int) -> Reply | Malformed | NotOurs | None:
    """Read an answer to `question`.

    None: the answer is truncated or holds a CNAME, so the full resolver must ask.
    NOT_OURS: it answers another question. Malformed: anything a well-formed reply to our
    question would not be (QR=0, another opcode or class, a record for another name, an
    A record that is not 4 bytes, broken TXT strings, bytes past the last record).
    """
    if len(data) < _HEADER.size + len(question):
        return Malformed("shorter than a DNS reply")
    _, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    end = _HEADER.size + len(question)
    if qdcount != 1 or data[_HEADER.size : end].lower() != question:
        return NOT_OURS
    if not flags & _QR:
        return Malformed("a query, not a reply (QR=0)")
    if flags & _OPCODE:
        return Malformed(f"opcode {(flags & _OPCODE) >> 11}, not a standard query")
    if flags & _TC:  # the whole answer is only over TCP
        return None
    qname, _ = _read_name(question, 0)
    offset, records, ttls = end, [], []
    negative: int | None = None
    try:
        for n in range(ancount + nscount + arcount):
            owner, offset = _read_name(data, offset)
            rtype, rclass, ttl, length = _RR.unpack_from(data, offset)
            offset += _RR.size
            rdata = data[offset : offset + length]
            offset += length
            if len(rdata) != length:
                return Malformed("a record running past the end")
            if n < ancount:
                if owner != qname:
                    return Malformed(f"a record for another name ({_show(owner)})")
                if rclass != _IN:
                    return Malformed(f"a record of class {rclass}, not IN")
                if rtype == _CNAME:
                    return None
                if rtype != qtype:
                    return Malformed(f"a record of type {rtype} answering type {qtype}")
                if qtype == _A:
                    if length != 4:
                        return Malformed(f"an A record of {length} bytes")
                    records.append(f"{rdata[0]}.{rdata[1]}.{rdata[2]}.{rdata[3]}")
                else:
                    records.append(_txt(rdata))
                ttls.append(ttl)
            elif n < ancount + nscount and rtype == _SOA and length >= 22:
                negative = min(ttl, struct.unpack_from("!I", rdata, length - 4)[0])
    except (IndexError, struct.error, ValueError) as exc:
        return Malformed(str(exc) or "unreadable records")
    if offset != len(data):
        return Malformed(f"{len(data) - offset} bytes after the last record")
    return Reply(flags & 0x000F, tuple(records), min(ttls) if ttls else 0, negative)


def _show(name: bytes) -> str:
    text = name.decode("ascii", "replace")
    return text if len(text) <= 80 else text[:77] + "..."


#: What one question over the lean path ends with.
Answered = Reply | Malformed | None


class _Socket(asyncio.DatagramProtocol):
    """One connected UDP socket; answers go to the question waiting under their ID."""

    def __init__(self) -> None:
        self.pending: dict[int, tuple[bytes, int, asyncio.Future[Answered]]] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if len(data) < 2:
            return
        waiting = self.pending.get(int.from_bytes(data[:2], "big"))
        if waiting is None:
            return
        question, qtype, future = waiting
        reply = parse_reply(data, question, qtype)
        if isinstance(reply, NotOurs):
            return  # an answer to some other question: keep waiting for ours
        if not future.done():
            future.set_result(reply)

    def error_received(self, exc: Exception) -> None:
        for _, _, future in self.pending.values():
            if not future.done():
                future.set_exception(exc)


class UdpClient:
    """A few UDP sockets per nameserver, created on first use in the running loop."""

    def __init__(self, servers: Sequence[tuple[str, int]], sockets_per_server: int = 4) -> None:
        self.servers = list(servers)
        self.per_server = sockets_per_server
        self._sockets: dict[tuple[str, int], list[_Socket]] = {}
        self._opening: dict[tuple[str, int], asyncio.Lock] = {}

    async def _pick(self, server: tuple[str, int]) -> _Socket:
        sockets = self._sockets.get(server)
        if sockets is None:
            lock = self._opening.setdefault(server, asyncio.Lock())
            async with lock:
                sockets = self._sockets.get(server)
                if sockets is None:
                    loop = asyncio.get_running_loop()
                    sockets = []
                    for _ in range(self.per_server):
                        _, protocol = await loop.create_datagram_endpoint(
                            _Socket, remote_addr=server
                        )
                        sockets.append(protocol)
                    self._sockets[server] = sockets
        return sockets[secrets.randbelow(len(sockets))]

    async def ask(
        self, server: tuple[str, int], name: str, rdtype: str, timeout: float
    ) -> Answered:
        """Ask one server; None when the fast path cannot answer (the caller falls back),
        Malformed when the server's reply is not a well-formed answer to the question.

        Raises TimeoutError when no answer came within `timeout`, OSError on network errors.
        """
        qtype = QTYPES.get(rdtype)
        question = encode_question(name, qtype) if qtype else None
        if question is None or qtype is None:
            return None
        sock = await self._pick(server)
        if sock.transport is None:
            return None
        for _ in range(8):
            qid = secrets.randbelow(65536)
            if qid not in sock.pending:
                break
        else:
            return None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answered] = loop.create_future()
        sock.pending[qid] = (question, qtype, future)
        packet = _HEADER.pack(qid, 0x0100, 1, 0, 0, 0) + question
        deadline = loop.time() + timeout
        # UDP loses datagrams (a busy server's full receive buffer): send again, like any
        # stub resolver, a third of the budget later, at most three times in all.
        interval = max(RETRY_AFTER, timeout / 3)
        try:
            while True:
                sock.transport.sendto(packet)
                wait = min(interval, deadline - loop.time())
                done, _ = await asyncio.wait([future], timeout=wait)
                if done:
                    return future.result()
                if loop.time() >= deadline:
                    raise TimeoutError
        finally:
            del sock.pending[qid]
            if not future.done():
                future.cancel()

    def close(self) -> None:
        for sockets in self._sockets.values():
            for sock in sockets:
                if sock.transport is not None:
                    sock.transport.close()
        self._sockets.clear()
