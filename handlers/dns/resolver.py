"""One DNS resolver for every lookup the checks make (blocklists, PTR, SPF, MX).

Why one: the nameservers the user configured apply everywhere (a Spamhaus answer
depends on which resolver asks), answers are cached by their TTL and shared
between checks, identical questions in flight are asked once, and the number of
questions in flight is capped so a big check cannot flood anyone.

`lookup` never raises for DNS outcomes: it returns an `Answer` whose `outcome`
says what happened, so callers match on a value instead of catching exceptions.

dnspython is imported on the first question the lean UDP path cannot take: a blocklist
check over configured nameservers (`smtpcheck bl IP` from cron) never needs it, and
importing it is a large part of the terminal's start-up.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from handlers.dns.politeness import (
    DEFAULT_PER_LIST_BURST,
    DEFAULT_PER_LIST_RATE,
    TOTALS,
    ListRate,
    ListZone,
    QueryStats,
    QuestionOutcome,
)
from handlers.dns.priority import PriorityCap, current_ticket
from handlers.dns.wire import RCODES, Malformed, UdpClient

if TYPE_CHECKING:
    import dns.asyncresolver
    import dns.message
    import dns.name
    import dns.rdata
    import dns.resolver

Outcome = Literal["answer", "nxdomain", "nodata", "timeout", "servfail", "refused", "error"]

#: Outcomes that say something about the name (cacheable, a real answer).
DEFINITE: frozenset[str] = frozenset({"answer", "nxdomain", "nodata"})

DEFAULT_NEGATIVE_TTL = 60
#: The cache shares answers within an incident's burst of checks; it is not a memory of
#: the past, so no answer is kept longer than this, whatever its TTL (a delisting shows
#: within five minutes even to a new command; re-checks and watches use a fresh cache).
MAX_CACHE_TTL = 300
#: Answers kept at most; past it the least recently used goes. A full check asks about 70
#: names, so this holds an incident's burst of checks, and a bot's memory stays flat
#: however many distinct checks it runs.
DEFAULT_CACHE_SIZE = 4096
#: Seconds between sweeps of expired answers (an answer is otherwise only dropped when the
#: same question comes again, and most never do).
SWEEP_EVERY = 30.0
EDNS_PAYLOAD = 1232


class NameserverSpecError(ValueError):
    """A `SMTPCHECK_NAMESERVERS` entry that is not `ip`, `ip:port` or `[ipv6]:port`."""


@dataclass(frozen=True)
class Answer:
    """The outcome of one question, with its records as text.

    `records` holds A/AAAA addresses, names without the trailing dot (PTR, CNAME,
    NS), "PREF NAME" for MX and the joined, decoded strings for TXT.
    `rdata` keeps the raw records for callers that need more (pyspf wants TXT
    strings as bytes).
    """

    name: str
    rdtype: str
    outcome: Outcome
    records: tuple[str, ...] = ()
    ttl: int = 0
    detail: str = ""
    rdata: tuple[dns.rdata.Rdata, ...] = field(default=(), repr=False, compare=False)
    #: The name the records belong to when CNAMEs led there from `name` (DKIM keys often do).
    canonical: str | None = None

    @property
    def definite(self) -> bool:
        """True when the DNS gave an answer about the name (records, NXDOMAIN or no data)."""
        return self.outcome in DEFINITE


def parse_nameservers(spec: str) -> list[tuple[str, int]]:
    """Parse `ip`, `ip:port`, `[ipv6]:port` (comma-separated) into (address, port) pairs."""
    servers: list[tuple[str, int]] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        host, port = item, 53
        if item.startswith("["):
            end = item.find("]")
            if end < 0:
                raise NameserverSpecError(f"{item!r}: missing ']' after an IPv6 address")
            host, rest = item[1:end], item[end + 1 :]
            if rest:
                if not rest.startswith(":"):
                    raise NameserverSpecError(f"{item!r}: expected ':port' after ']'")
                port = _port(item, rest[1:])
        elif item.count(":") == 1:
            host, port_text = item.split(":")
            port = _port(item, port_text)
        try:
            ipaddress.ip_address(host)
        except ValueError as exc:
            raise NameserverSpecError(f"{item!r} is not an IP address") from exc
        servers.append((host, port))
    if not servers:
        raise NameserverSpecError("no nameserver given")
    return servers


def _port(item: str, text: str) -> int:
    # ASCII digits only: str.isdigit() alone accepts '²', which int() refuses.
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and 0 < int(text) < 65536):
        raise NameserverSpecError(f"{item!r}: port must be a number from 1 to 65535")
    return int(text)


def _record_text(rdata: dns.rdata.Rdata) -> str:
    import dns.rdatatype

    kind = dns.rdatatype.to_text(rdata.rdtype)
    if kind in ("A", "AAAA"):
        return str(rdata.address)  # type: ignore[attr-defined]
    if kind in ("TXT", "SPF"):
        strings: Sequence[bytes] = rdata.strings  # type: ignore[attr-defined]
        return b"".join(strings).decode("utf-8", "replace")
    if kind in ("PTR", "CNAME", "NS"):
        return str(rdata.target.to_text(omit_final_dot=True))  # type: ignore[attr-defined]
    if kind == "MX":
        exchange = rdata.exchange.to_text(omit_final_dot=True)  # type: ignore[attr-defined]
        return f"{rdata.preference} {exchange}"  # type: ignore[attr-defined]
    return str(rdata.to_text())


def _negative_ttl(response: dns.message.Message | None) -> int:
    """RFC 2308: the SOA in the authority section bounds how long a negative answer holds."""
    import dns.rdatatype

    if response is None:
        return DEFAULT_NEGATIVE_TTL
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(min(rrset.ttl, rrset[0].minimum))
    return DEFAULT_NEGATIVE_TTL


class Resolver:
    """Async, caching, de-duplicating, capped resolver over `dns.asyncresolver`.

    Use one per event loop. `nameservers` are (address, port) pairs; empty means
    the system's configuration.
    """

    def __init__(
        self,
        nameservers: Sequence[tuple[str, int]] = (),
        timeout: float = 2.0,
        max_in_flight: int = 256,
        clock: Callable[[], float] = time.monotonic,
        per_list_rate: float = DEFAULT_PER_LIST_RATE,
        per_list_burst: int = DEFAULT_PER_LIST_BURST,
        oldest_first: bool = True,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._nameservers = list(nameservers)
        self._full: dns.asyncresolver.Resolver | None = None
        self.timeout = timeout
        #: The cap on questions in flight; the oldest check's questions are let in first.
        self._cap = PriorityCap(max_in_flight, ordered=oldest_first)
        self._clock = clock
        #: (name, type) -> (expiry, answer), least recently used first.
        self._cache: OrderedDict[tuple[str, str], tuple[float, Answer]] = OrderedDict()
        self.cache_size = max(0, cache_size)
        self._next_sweep = clock() + SWEEP_EVERY
        self._in_flight: dict[tuple[str, str], asyncio.Future[Answer]] = {}
        #: Questions actually sent; cache hits and joins are not counted. A count, not the
        #: names: a long-running bot must not keep every name it ever asked.
        self.questions_sent = 0
        #: The same by question type (A, TXT, ...): a handful of keys, whatever is asked.
        self.sent_by_type: Counter[str] = Counter()
        #: Spacing of the questions to each blocklist (see handlers.dns.politeness).
        self.list_rate = ListRate(per_list_rate, per_list_burst, clock)
        #: Questions sent to each blocklist by outcome; also added to the process totals.
        self.stats = QueryStats(parent=TOTALS)
        self._lean: UdpClient | None = None

    @property
    def _dns(self) -> dns.asyncresolver.Resolver:
        """dnspython's resolver, built (and imported) on first use."""
        if self._full is None:
            import dns.asyncresolver
            import dns.nameserver

            full = dns.asyncresolver.Resolver(configure=not self._nameservers)
            if self._nameservers:
                full.nameservers = [
                    dns.nameserver.Do53Nameserver(address, port)
                    for address, port in self._nameservers
                ]
            full.timeout = self.timeout
            full.lifetime = self.timeout
            # EDNS0 with the 1232-byte payload of DNS Flag Day 2020: a 2048-bit DKIM key (and
            # a CNAME before it) fits in one UDP answer instead of costing a TCP retry.
            full.use_edns(0, 0, EDNS_PAYLOAD)
            self._full = full
        return self._full

    def _servers(self) -> list[tuple[str, int]]:
        """(address, port) of every plain-DNS nameserver: the configured ones, else the system's."""
        if self._nameservers:
            return self._nameservers
        import dns.nameserver

        return [
            (ns.address, ns.port)
            for ns in self._dns.nameservers
            if isinstance(ns, dns.nameserver.Do53Nameserver)
        ]

    @property
    def _wire(self) -> UdpClient:
        """The lean UDP path for blocklist questions (see handlers.dns.wire)."""
        if self._lean is None:
            self._lean = UdpClient(self._servers())
        return self._lean

    @property
    def description(self) -> str:
        """The nameservers, for the report's context line."""
        if self._nameservers:
            servers = [_shown(address, port) for address, port in self._nameservers]
        else:
            import dns.nameserver

            servers = [
                _shown(ns.address, ns.port)
                if isinstance(ns, dns.nameserver.Do53Nameserver)
                else str(ns)
                for ns in self._dns.nameservers
            ]
        return ", ".join(servers) or "system resolver"

    def _count(self, rdtype: str, n: int = 1) -> None:
        self.questions_sent += n
        self.sent_by_type[rdtype] += n

    @property
    def cached(self) -> int:
        """Answers in the cache now (at most `cache_size`)."""
        return len(self._cache)

    async def lookup(
        self,
        name: str,
        rdtype: str,
        *,
        zone: ListZone | None = None,
        ticket: int | None = None,
    ) -> Answer:
        """Ask `name`/`rdtype`, answering from the cache or a question already in flight.

        `zone`: the blocklist the question belongs to; its questions are spaced by the
        per-list rate and counted in `stats` by outcome. `ticket`: the check the question
        belongs to, for the order at the cap (None: the calling task's; see
        handlers.dns.priority).
        """
        return await self._lookup(
            name, rdtype, zone, current_ticket() if ticket is None else ticket
        )

    async def _lookup(self, name: str, rdtype: str, zone: ListZone | None, rank: int) -> Answer:
        key = (name.lower().rstrip("."), rdtype.upper())
        cached = self._cache.get(key)
        if cached is not None:
            expires, answer = cached
            if self._clock() < expires:
                self._cache.move_to_end(key)
                return answer
            del self._cache[key]
        pending = self._in_flight.get(key)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._in_flight[key] = pending
            try:
                answer = await self._ask(*key, zone, rank)
            except BaseException as exc:
                pending.set_exception(exc)
                pending.exception()  # mark retrieved: joiners get it, nobody else must
                raise
            finally:
                del self._in_flight[key]
            pending.set_result(answer)
            if answer.definite:
                self._remember(key, answer)
            return answer
        return await asyncio.shield(pending)

    def _remember(self, key: tuple[str, str], answer: Answer) -> None:
        """Cache `answer` by its TTL; drop the least recently used past `cache_size`."""
        now = self._clock()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            for stale in [k for k, (expires, _) in self._cache.items() if expires <= now]:
                del self._cache[stale]
        if self.cache_size == 0:
            return
        self._cache[key] = (now + min(answer.ttl, MAX_CACHE_TTL), answer)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def _ask(
        self, name: str, rdtype: str, zone: ListZone | None = None, rank: int = 0
    ) -> Answer:
        if zone is None:
            return await self._send(name, rdtype, rank)
        # The rate is waited for outside the cap: a list being spaced holds no slot
        # that another list's questions could use.
        await self.list_rate.acquire(zone.zone)
        answer = await self._send_fast(name, rdtype, rank)
        if answer is None:
            answer = await self._send(name, rdtype, rank)
        self.stats.record(zone.zone, classify(zone, answer))
        return answer

    async def _send_fast(self, name: str, rdtype: str, rank: int = 0) -> Answer | None:
        """A blocklist question over the lean UDP path; None to ask through dnspython instead."""
        if not self._wire.servers:
            return None
        await self._cap.acquire(rank)
        try:
            return await self._send_fast_held(name, rdtype)
        finally:
            self._cap.release()

    async def _send_fast_held(self, name: str, rdtype: str) -> Answer | None:
        deadline = asyncio.get_running_loop().time() + self.timeout
        failure: Answer | None = None
        for server in self._wire.servers:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            self._count(rdtype)
            try:
                reply = await self._wire.ask(server, name, rdtype, left)
            except TimeoutError:
                return Answer(
                    name, rdtype, "timeout", detail=f"no answer within {self.timeout:g} s"
                )
            except OSError as exc:
                failure = Answer(name, rdtype, "error", detail=f"network error: {exc}")
                continue
            if reply is None:
                self._count(rdtype, -1)  # asked again, and counted, by dnspython
                return None
            if isinstance(reply, Malformed):
                failure = Answer(name, rdtype, "error", detail=f"malformed reply: {reply.reason}")
                continue
            rcode = RCODES.get(reply.rcode)
            if rcode == "nxdomain":
                return Answer(name, rdtype, "nxdomain", ttl=_neg(reply.negative_ttl))
            if rcode == "noerror":
                if reply.records:
                    return Answer(name, rdtype, "answer", records=reply.records, ttl=reply.ttl)
                return Answer(name, rdtype, "nodata", ttl=_neg(reply.negative_ttl))
            if rcode == "refused":
                failure = Answer(
                    name, rdtype, "refused", detail="the nameserver refused the question"
                )
            elif rcode == "servfail":
                failure = Answer(
                    name, rdtype, "servfail", detail="the nameserver answered SERVFAIL"
                )
            else:
                failure = Answer(
                    name, rdtype, "error", detail=f"the nameserver answered rcode {reply.rcode}"
                )
        return failure or Answer(
            name, rdtype, "timeout", detail=f"no answer within {self.timeout:g} s"
        )

    def close(self) -> None:
        """Close the lean path's sockets (they also close with their event loop)."""
        if self._lean is not None:
            self._lean.close()

    async def _send(self, name: str, rdtype: str, rank: int = 0) -> Answer:
        await self._cap.acquire(rank)
        try:
            return await self._send_held(name, rdtype)
        finally:
            self._cap.release()

    async def _send_held(self, name: str, rdtype: str) -> Answer:
        import dns.exception
        import dns.name
        import dns.resolver

        self._count(rdtype)
        try:
            result = await self._dns.resolve(name, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN as exc:
            response = exc.responses().get(dns.name.from_text(name)) if exc.kwargs else None  # type: ignore[no-untyped-call]
            try:
                target = _moved(name, exc.canonical_name)
            except Exception:  # dnspython cannot tell without its responses
                target = None
            return Answer(name, rdtype, "nxdomain", ttl=_negative_ttl(response), canonical=target)
        except dns.resolver.LifetimeTimeout:
            return Answer(name, rdtype, "timeout", detail=f"no answer within {self.timeout:g} s")
        except dns.resolver.NoNameservers as exc:
            return _failure(name, rdtype, exc)
        except dns.exception.DNSException as exc:
            return Answer(name, rdtype, "error", detail=str(exc) or type(exc).__name__)
        except OSError as exc:
            return Answer(name, rdtype, "error", detail=f"network error: {exc}")
        if result.rrset is None:
            return Answer(
                name,
                rdtype,
                "nodata",
                ttl=_negative_ttl(result.response),
                canonical=_moved(name, result.canonical_name),
            )
        rdatas = tuple(result.rrset)
        return Answer(
            name,
            rdtype,
            "answer",
            records=tuple(_record_text(r) for r in rdatas),
            ttl=int(result.rrset.ttl),
            rdata=rdatas,
            canonical=_moved(name, result.canonical_name),
        )


def _moved(name: str, canonical: dns.name.Name) -> str | None:
    """Where CNAMEs led from `name` (without the trailing dot), or None when nowhere."""
    text = canonical.to_text(omit_final_dot=True).lower()
    return text if text != name.lower().rstrip(".") else None


def _shown(address: str, port: int) -> str:
    shown = f"[{address}]" if ":" in address else address
    return shown if port == 53 else f"{shown}:{port}"


def _neg(ttl: int | None) -> int:
    return DEFAULT_NEGATIVE_TTL if ttl is None else ttl


def _failure(name: str, rdtype: str, exc: dns.resolver.NoNameservers) -> Answer:
    """SERVFAIL and REFUSED told apart: a refused resolver is not a broken zone."""
    import dns.message
    import dns.rcode

    errors = exc.kwargs.get("errors", []) if exc.kwargs else []
    rcodes = set()
    for error in errors:
        response = error[4] if len(error) > 4 else None
        if isinstance(response, dns.message.Message):
            rcodes.add(response.rcode())
    if dns.rcode.REFUSED in rcodes:
        return Answer(name, rdtype, "refused", detail="the nameserver refused the question")
    if dns.rcode.SERVFAIL in rcodes:
        return Answer(name, rdtype, "servfail", detail="the nameserver answered SERVFAIL")
    return Answer(name, rdtype, "error", detail=str(exc))


def classify(zone: ListZone, answer: Answer) -> QuestionOutcome:
    """What a list's answer to one question says, for counting (not for judging a listing).

    Error codes such as Spamhaus 127.255.255.254 ("your resolver is refused") are
    `blocked`, not listings; anything outside 127.0.0.0/8 is an `error` of the list.
    """
    if answer.outcome == "timeout":
        return "timeout"
    if answer.outcome not in ("answer", "nxdomain", "nodata"):
        return "error"
    if answer.rdtype != "A":
        return "listed"  # the TXT reason of a listing, whether or not the list gives one
    if answer.outcome != "answer":
        return "clean"
    for record in answer.records:
        reason = zone.error_codes.get(record)
        if reason in ("resolver_blocked", "bad_key"):
            return "blocked"
        if reason is not None or not record.startswith("127."):
            return "error"
    return "listed"
