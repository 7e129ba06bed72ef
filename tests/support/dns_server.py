"""A real DNS server on 127.0.0.1 (UDP and TCP) serving whatever zone data a test sets.

Tests and benchmarks talk to it over the wire exactly as the bot talks to a real
resolver. It can misbehave on purpose, per zone suffix: never answer (`timeout`),
answer SERVFAIL or REFUSED, or answer everything under a zone (a dead list). It can
add a delay to every answer (benchmarks) and keeps a log of the questions it got.

Tests that need to know what a client asks *before* it has any answer hold the server
(`hold()`): questions are still logged as they arrive, but no answer leaves until
`release()`. That states "asked all at once" or "answered the user before any DNS" as an
order of events instead of a duration (`wait_questions` polls the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

#: Seconds a question may take where the test DNS server is meant to answer. Generous: the
#: server is a thread of the test process, and on a loaded machine (2 cores, other work
#: running) an answer that is coming can take longer than half a second. A question that
#: does get its answer costs none of this, so the suite is no slower for it.
ANSWER_TIMEOUT = 5.0
#: Seconds for tests whose point is a question never answered: they wait this out.
SILENCE_TIMEOUT = 0.5

Behaviour = Literal["timeout", "servfail", "refused"]


@dataclass(frozen=True)
class Question:
    name: str
    rdtype: str
    transport: str


def _norm(name: str) -> str:
    return name.lower().rstrip(".")


class DnsServer:
    """Authoritative-style test server. Thread-safe setters; start() binds and returns the port."""

    def __init__(self, host: str = "127.0.0.1", delay: float = 0.0) -> None:
        self.host = host
        self.port = 0
        self.delay = delay
        self._records: dict[tuple[str, str], list[tuple[str, int]]] = {}
        self._wildcards: dict[tuple[str, str], list[str]] = {}
        self._behaviours: dict[str, Behaviour] = {}
        self._lock = threading.Lock()
        #: UDP answers already built, by query bytes after the ID; emptied on any change.
        self._answers: dict[bytes, bytes] = {}
        #: Bumped by every change of the data: an answer built before a change is not kept.
        self._generation = 0
        self.log: list[Question] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        #: While True, answers wait at the gate (see hold()); questions are still logged.
        self._held = False
        #: The futures of the answers waiting at the gate, resolved by release().
        self._waiting: list[asyncio.Future[None]] = []
        #: Answers sent (silent questions are not counted).
        self.answered = 0

    # ---- zone data -------------------------------------------------------------------

    def add(self, name: str, rdtype: str, *values: str, ttl: int = 300) -> None:
        """Serve `values` for `name`/`rdtype` (TXT values are plain strings, unquoted)."""
        with self._lock:
            self._answers.clear()
            self._generation += 1
            entry = self._records.setdefault((_norm(name), rdtype.upper()), [])
            entry.extend((v, ttl) for v in values)

    def remove(self, name: str, rdtype: str | None = None) -> None:
        with self._lock:
            self._answers.clear()
            self._generation += 1
            for key in list(self._records):
                if key[0] == _norm(name) and (rdtype is None or key[1] == rdtype.upper()):
                    del self._records[key]

    def answer_everything(self, zone: str, rdtype: str = "A", *values: str) -> None:
        """Every name under `zone` answers `values` (default 127.0.0.2): a dead list."""
        with self._lock:
            self._answers.clear()
            self._generation += 1
            self._wildcards[(_norm(zone), rdtype.upper())] = list(values or ("127.0.0.2",))

    def misbehave(self, suffix: str, behaviour: Behaviour) -> None:
        """Names at or under `suffix` get no answer, SERVFAIL or REFUSED."""
        with self._lock:
            self._answers.clear()
            self._generation += 1
            self._behaviours[_norm(suffix)] = behaviour

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self._generation += 1
            self._records.clear()
            self._wildcards.clear()
            self._behaviours.clear()
            self.log.clear()
        self.release()
        with self._lock:
            self.answered = 0
        self.delay = 0.0

    # ---- the gate --------------------------------------------------------------------

    def hold(self) -> None:
        """From now on answers wait (questions are logged on arrival) until release().

        Takes effect at once for any thread: a question arriving after hold() returns is
        held, whatever the server's own thread was doing.
        """
        with self._lock:
            self._held = True

    def release(self) -> None:
        """Let every held answer go, and answer at once again. Safe from any thread."""
        with self._lock:
            self._held = False
            waiting, self._waiting = self._waiting, []
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for future in waiting:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_resolve, future)

    @property
    def held(self) -> int:
        """Answers waiting at the gate now."""
        with self._lock:
            return len(self._waiting)

    def wait_questions(
        self,
        count: int,
        match: Callable[[Question], bool] = lambda q: True,
        timeout: float = 10.0,
    ) -> list[Question]:
        """Block until at least `count` logged questions match; AssertionError after `timeout`.

        The timeout is a liveness bound for a loaded machine, never a speed figure.
        """
        deadline = time.monotonic() + timeout
        while (found := self._enough(count, match, deadline)) is None:
            time.sleep(0.01)
        return found

    async def until_questions(
        self,
        count: int,
        match: Callable[[Question], bool] = lambda q: True,
        timeout: float = 10.0,
    ) -> list[Question]:
        """`wait_questions` for a test whose client runs on the same event loop."""
        deadline = time.monotonic() + timeout
        while (found := self._enough(count, match, deadline)) is None:
            await asyncio.sleep(0.01)
        return found

    def _enough(
        self, count: int, match: Callable[[Question], bool], deadline: float
    ) -> list[Question] | None:
        """The matching questions once there are `count`; None to wait on; past `deadline`, fail."""
        found = [q for q in self.questions() if match(q)]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} of {count} questions arrived: {found}")
        return None

    async def _gate(self) -> None:
        with self._lock:
            if not self._held:
                return
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(future)
        await future

    def questions(self, name: str | None = None) -> list[Question]:
        with self._lock:
            return [q for q in self.log if name is None or q.name == _norm(name)]

    # ---- serving ---------------------------------------------------------------------

    def _behaviour(self, name: str) -> Behaviour | None:
        best: tuple[int, Behaviour] | None = None
        for suffix, behaviour in self._behaviours.items():
            if (name == suffix or name.endswith("." + suffix)) and (
                best is None or len(suffix) > best[0]
            ):
                best = (len(suffix), behaviour)
        return best[1] if best else None

    def _rrset(self, name: str, rdtype: str, values: Iterable[tuple[str, int]]) -> dns.rrset.RRset:
        values = list(values)
        ttl = min(t for _, t in values)
        rrset = dns.rrset.RRset(
            dns.name.from_text(name), dns.rdataclass.IN, dns.rdatatype.from_text(rdtype)
        )
        rrset.update_ttl(ttl)
        for value, _ in values:
            if rdtype in ("TXT", "SPF"):
                raw = value.encode()
                chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
                rdata: dns.rdata.Rdata = dns.rdtypes.ANY.TXT.TXT(
                    dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), chunks
                )
            else:
                rdata = dns.rdata.from_text(
                    dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), value
                )
            rrset.add(rdata)
        return rrset

    def _soa(self, name: str) -> dns.rrset.RRset:
        zone = ".".join(name.split(".")[-2:]) or "."
        rrset = dns.rrset.RRset(dns.name.from_text(zone), dns.rdataclass.IN, dns.rdatatype.SOA)
        rrset.update_ttl(60)
        origin = "" if zone == "." else f"{zone}."  # the root zone's own SOA is asked too
        rrset.add(
            dns.rdata.from_text("IN", "SOA", f"ns.{origin} hostmaster.{origin} 1 3600 600 86400 60")
        )
        return rrset

    def respond(self, query: dns.message.Message, transport: str) -> dns.message.Message | None:
        """Build the answer to `query`, or None to stay silent."""
        question = query.question[0]
        name = _norm(question.name.to_text())
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self.log.append(Question(name, rdtype, transport))
            behaviour = self._behaviour(name)
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            if behaviour == "timeout":
                return None
            if behaviour == "servfail":
                response.set_rcode(dns.rcode.SERVFAIL)
                return response
            if behaviour == "refused":
                response.set_rcode(dns.rcode.REFUSED)
                return response
            target = name
            for _ in range(8):  # follow CNAMEs inside our own data
                values = self._records.get((target, rdtype))
                if values:
                    response.answer.append(self._rrset(target, rdtype, values))
                    return response
                cname = self._records.get((target, "CNAME"))
                if cname and rdtype != "CNAME":
                    response.answer.append(self._rrset(target, "CNAME", cname))
                    target = _norm(cname[0][0])
                    continue
                break
            for (zone, wtype), wvalues in self._wildcards.items():
                if target.endswith("." + zone) and wtype == rdtype:
                    response.answer.append(self._rrset(target, rdtype, [(v, 300) for v in wvalues]))
                    return response
            exists = any(key[0] == target for key in self._records) or any(
                target.endswith("." + zone) for zone, _ in self._wildcards
            )
            if not exists:
                response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa(target))
            return response

    def _known(self, data: bytes) -> bytes | None:
        """A UDP answer built before for the same question, logged like a fresh one.

        Benchmarks send thousands of identical-looking questions; building each answer
        with dnspython made this server, not the client under test, the bottleneck.
        """
        key = data[2:].lower()
        with self._lock:
            body = self._answers.get(key)
            if body is None:
                return None
            name, offset = [], 12
            while data[offset]:
                name.append(data[offset + 1 : offset + 1 + data[offset]].decode("ascii", "replace"))
                offset += 1 + data[offset]
            qtype = struct.unpack_from("!H", data, offset + 1)[0]
            self.log.append(Question(".".join(name).lower(), dns.rdatatype.to_text(qtype), "udp"))
        return data[:2] + body

    async def _handle(self, data: bytes, transport: str) -> bytes | None:
        wire = await self._answer(data, transport)
        if wire is not None:
            with self._lock:
                self.answered += 1
        return wire

    async def _answer(self, data: bytes, transport: str) -> bytes | None:
        known = self._known(data) if transport == "udp" and len(data) > 12 else None
        if known is not None:
            await self._gate()
            if self.delay:
                await asyncio.sleep(self.delay)
            return known
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return None
        generation = self._generation
        response = self.respond(query, transport)
        await self._gate()
        if self.delay:
            await asyncio.sleep(self.delay)
        if response is None:
            return None
        if transport == "udp":
            limit = query.payload if query.edns >= 0 else 512
            try:
                wire = response.to_wire(max_size=max(limit, 512))
            except dns.exception.TooBig:
                truncated = dns.message.make_response(query)
                truncated.flags |= dns.flags.TC
                return truncated.to_wire()
            with self._lock:
                if generation == self._generation:
                    self._answers[data[2:].lower()] = wire[2:]
            return wire
        # Over TCP the whole answer goes (dnspython would otherwise cap it at the EDNS payload).
        return response.to_wire(max_size=65535)

    async def _serve(self, udp_sock: socket.socket, tcp_sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        server = self
        tasks: set[asyncio.Task[None]] = set()

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                async def reply() -> None:
                    wire = await server._handle(data, "udp")
                    if wire is not None:
                        self.transport.sendto(wire, addr)  # type: ignore[attr-defined]

                task = loop.create_task(reply())
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        async def tcp_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while True:
                    head = await reader.readexactly(2)
                    data = await reader.readexactly(struct.unpack("!H", head)[0])
                    wire = await server._handle(data, "tcp")
                    if wire is None:
                        continue
                    writer.write(struct.pack("!H", len(wire)) + wire)
                    await writer.drain()
            writer.close()

        udp_transport, _ = await loop.create_datagram_endpoint(Udp, sock=udp_sock)
        tcp_server = await asyncio.start_server(tcp_client, sock=tcp_sock)
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        udp_transport.close()
        tcp_server.close()
        for task in list(tasks):
            task.cancel()

    def start(self) -> tuple[str, int]:
        """Bind UDP and TCP on one free port of 127.0.0.1 and serve from a thread."""
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            # A roomy receive buffer, as a real resolver has: bursts of thousands of
            # questions must queue, not be dropped by the kernel (root may force the size).
            with contextlib.suppress(OSError):
                udp.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 8 << 20)
            udp.bind((self.host, self.port))
            port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.host, port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(128)
            udp.setblocking(False)
            tcp.setblocking(False)
            self.port = port
            break
        else:
            raise RuntimeError("no free port for the test DNS server")

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve(udp, tcp))
            self._loop.close()

        self._thread = threading.Thread(target=run, name="test-dns", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        return self.host, self.port

    @property
    def address(self) -> str:
        """`ip:port`, the form SMTPCHECK_NAMESERVERS takes."""
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> DnsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def reverse_name(ip: str, zone: str) -> str:
    """The DNSBL question for `ip` under `zone` (IPv4 reversed octets, IPv6 nibbles)."""
    import ipaddress

    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return ".".join(reversed(ip.split("."))) + "." + zone
    nibbles = address.exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + "." + zone
