"""Blocklists for every address of an IPv4 range: an egress pool is a range, not an address.

Ranges go up to /24 (256 addresses) in Slack, where a person waits in a channel, and up
to /20 (4,096 addresses, ~127,000 questions) in the terminal; monitors take up to /22.
IPv6 ranges are refused, since an IPv6 /64 alone is 18 quintillion addresses. Every address of the range is checked,
the first and last included: a range an engineer types is usually a slice of a
provider's pool, where those are ordinary hosts, and lists judge each address alone.

All addresses share one resolver, so its global cap, the per-list rate, its cache and
its de-duplication apply to the whole range, and the RFC 5782 self-test of each list is
asked once, not once per address, while the first addresses are already being asked.

Memory stays flat whatever the size: a bounded window of addresses is in flight (enough
to keep the resolver's cap full), and each finished address is folded into a small row
and per-list tallies at once; no address's full result is kept. No TXT reason is asked
(the table names lists, not reasons), so the time is predictable: the questions divided
by the cap, times a round trip, and never less than the per-list politeness allows.
"""

from __future__ import annotations

import asyncio
import csv
import inspect
import io
import ipaddress
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from handlers.dns.priority import first_wave
from handlers.dns.resolver import Resolver
from handlers.dnsbl import DnsblResult, Listing, SelfTestCache, check_dnsbl, prime_selftests
from handlers.numbers import ascii_int
from handlers.results import Advice, CheckResult, Status, rank, worst
from handlers.settings import Settings
from handlers.targets import non_global_reason

log = logging.getLogger(__name__)

#: Smallest prefix length accepted by default (Slack): a /24, 256 addresses.
MIN_PREFIX = 24
MAX_ADDRESSES = 2 ** (32 - MIN_PREFIX)
#: The terminal's widest range: a /20, 4,096 addresses.
TERMINAL_MIN_PREFIX = 20
#: Addresses in flight per question the resolver's cap lets through, over the lists:
#: twice what fills the cap, so a slow list's tail never leaves it idle.
WINDOW_FILL = 2
IPV6_REASON = "an IPv6 /64 has 18 quintillion addresses; check single addresses"

#: Called as addresses finish: (done, total). May be a plain function or a coroutine function.
Progress = Callable[[int, int], Awaitable[object] | object]


class RangeError(ValueError):
    """A range that will not be checked; `str(error)` is one sentence saying why."""


def looks_like_range(word: str) -> bool:
    """True for `ADDRESS/PREFIX`-shaped words (the grammar routes them here)."""
    head, slash, tail = word.partition("/")
    return bool(slash and head and tail)


def parse_range(text: str, min_prefix: int = MIN_PREFIX) -> ipaddress.IPv4Network:
    """`text` (e.g. 51.158.10.0/26) as a network of public IPv4 addresses, /`min_prefix` to /32.

    Host bits are allowed (51.158.10.22/26 means 51.158.10.0/26), as people paste an
    address with its prefix. Raises RangeError with the reason otherwise.
    """
    text = text.strip()
    head, slash, prefix = text.partition("/")
    if not slash:
        raise RangeError(
            f"{text} is not an address range: write ADDRESS/PREFIX, e.g. 51.158.10.0/26."
        )
    try:
        address = ipaddress.ip_address(head)
    except ValueError:
        raise RangeError(f"{head} is not a valid IP address, so {text} is not a range.") from None
    if address.version == 6:
        raise RangeError(f"{text} is an IPv6 range: {IPV6_REASON}.")
    length = ascii_int(prefix)
    if length is None or length > 32:
        raise RangeError(f"/{prefix} is not an IPv4 prefix length (0 to 32).")
    network = ipaddress.IPv4Network(f"{address}/{length}", strict=False)
    if network.prefixlen < min_prefix:
        raise RangeError(
            f"{network} has {network.num_addresses:,} addresses; ranges are checked up to "
            f"/{min_prefix} ({2 ** (32 - min_prefix):,} addresses): split it into /{min_prefix}s."
        )
    reasons = {ip: non_global_reason(ip) for ip in network}
    kinds = {reason for reason in reasons.values() if reason}
    if kinds:
        if len(kinds) == 1 and all(reasons.values()):
            kind = kinds.pop()
            raise RangeError(
                f"{network} is a {kind} range: blocklists only mean something for public "
                "internet addresses."
            )
        first = next(ip for ip, reason in reasons.items() if reason)
        raise RangeError(
            f"{network} includes {first}, a {reasons[first]} address: blocklists only mean "
            "something for public internet addresses."
        )
    return network


def range_addresses(text: str) -> list[str]:
    """Every address of the range `text` (see parse_range), in order."""
    return [str(ip) for ip in parse_range(text)]


# ---- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RangeRow:
    """One address of the range: its blocklist status and the lists that name it."""

    address: str
    status: Status
    #: Names of the lists that list it (e.g. "Spamhaus ZEN").
    lists: tuple[str, ...] = ()
    #: Zones that could not give an answer about it (timeout, refused, ...).
    unavailable: tuple[str, ...] = ()

    @property
    def listed(self) -> bool:
        return bool(self.lists)


@dataclass
class RangeResult(CheckResult):
    """The `range` check: counts, one row per address (listed first) and a CSV of them."""

    network: str = ""
    addresses: int = 0
    #: Blocklists asked about each address.
    lists: int = 0
    listed: int = 0
    clean: int = 0
    #: Addresses not listed anywhere, but that some list could not vouch for.
    unchecked: int = 0
    rows: list[RangeRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_csv(self) -> str:
        """address,status,lists,unavailable, one line per address, listed ones first."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["address", "status", "lists", "unavailable"])
        for row in self.rows:
            writer.writerow(
                [row.address, row.status, "; ".join(row.lists), "; ".join(row.unavailable)]
            )
        return out.getvalue()

    def table(self) -> str:
        """The rows as aligned plain text, for a terminal."""
        width = max([len("address"), *(len(r.address) for r in self.rows)])
        lines = [f"{'address':<{width}}  {'status':<7} lists"]
        for row in self.rows:
            detail = ", ".join(row.lists)
            if row.unavailable:
                missing = f"not checked: {', '.join(row.unavailable)}"
                detail = f"{detail}; {missing}" if detail else missing
            lines.append(f"{row.address:<{width}}  {row.status:<7} {detail}".rstrip())
        return "\n".join(lines)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 'es' if word.endswith('ss') else 's'}"


def _summary(result: RangeResult, policy_only: int) -> str:
    parts: list[str] = []
    if result.clean:
        parts.append(f"{_plural(result.clean, 'address')} clean on all {result.lists} lists")
    if result.listed:
        listed = (
            f"{result.listed} listed"
            if parts
            else (f"{result.listed} of {_plural(result.addresses, 'address')} listed")
        )
        if policy_only:
            listed += f" ({policy_only} on policy lists only)"
        parts.append(listed)
    if result.unchecked:
        parts.append(f"{result.unchecked} not fully checked (a list did not answer)")
    return "; ".join(parts)


def _row(ip: str, result: DnsblResult) -> RangeRow:
    return RangeRow(
        address=ip,
        status=result.status,
        lists=tuple(item.list for item in result.listed),
        unavailable=tuple(u.zone for u in result.unavailable),
    )


def _sample(addresses: Sequence[str], shown: int = 5) -> str:
    if len(addresses) <= shown:
        return ", ".join(addresses)
    return f"{', '.join(addresses[:shown])} and {len(addresses) - shown} more"


@dataclass
class _ZoneTally:
    """What one list says about the range: its first listing, the addresses, the meanings."""

    first: Listing
    addresses: list[str] = field(default_factory=list)
    meanings: set[str] = field(default_factory=set)


class RangeTally:
    """Per-address results folded in as they finish, so none has to be kept whole."""

    def __init__(self) -> None:
        self.rows: list[RangeRow] = []
        self.by_zone: dict[str, _ZoneTally] = {}
        self.policy_only = 0
        self.notes: list[str] = []
        self._resolver_advice: list[Advice] = []

    def add(self, ip: str, result: DnsblResult) -> RangeRow:
        row = _row(ip, result)
        self.rows.append(row)
        for item in result.listed:
            tally = self.by_zone.setdefault(item.zone, _ZoneTally(item))
            tally.addresses.append(ip)
            tally.meanings.update(item.meanings)
        if result.listed and all(i.kind == "policy" for i in result.listed):
            self.policy_only += 1
        self.notes.extend(note for note in result.notes if note not in self.notes)
        # Advice about the resolver, not one address (e.g. "Spamhaus refused the resolver").
        for piece in result.advice:
            if ip not in piece.text and piece not in self._resolver_advice:
                self._resolver_advice.append(piece)
        return row

    def advice(self, network: str) -> list[Advice]:
        """One piece of advice per list that names addresses of the range (not one per address)."""
        advice: list[Advice] = []
        ordered = sorted(
            self.by_zone.values(), key=lambda t: (t.first.kind != "reputation", t.first.list)
        )
        for tally in ordered:
            first, ips = tally.first, sorted(tally.addresses, key=ipaddress.IPv4Address)
            count = _plural(len(ips), "address")
            if first.kind == "reputation":
                advice.append(
                    Advice(
                        f"{first.list} lists {count} of {network} ({_sample(ips)}). Find and fix "
                        "the cause on each (compromised account or machine, open relay, unwanted "
                        "bulk mail), then request removal on the list's page.",
                        first.removal_url,
                    )
                )
            else:
                meanings = "; ".join(sorted(tally.meanings))
                advice.append(
                    Advice(
                        f"{first.list} lists {count} of {network} by policy ({meanings}): "
                        "expected for a provider's egress pool, not a sign of bad reputation. "
                        "Mail from these addresses should go through the provider's smarthost "
                        "with SMTP AUTH.",
                        first.lookup_url,
                    )
                )
        seen = set(advice)
        advice.extend(piece for piece in self._resolver_advice if piece not in seen)
        return advice

    def result(self, network: str, settings: Settings) -> RangeResult:
        """The range's result: listed addresses first (worst first), then unchecked, then clean."""
        rows = sorted(self.rows, key=lambda r: ipaddress.IPv4Address(r.address))
        listed = [r for r in rows if r.listed]
        unchecked = [r for r in rows if not r.listed and r.unavailable]
        clean = [r for r in rows if not r.listed and not r.unavailable]
        listed.sort(key=lambda r: -rank(r.status))  # stable: address order within a status
        result = RangeResult(
            status=worst(r.status for r in rows),
            summary="",
            network=network,
            addresses=len(rows),
            lists=list_count(settings),
            listed=len(listed),
            clean=len(clean),
            unchecked=len(unchecked),
            rows=[*listed, *unchecked, *clean],
            notes=list(self.notes),
        )
        result.summary = _summary(result, self.policy_only)
        result.advice = self.advice(network)
        return result


def list_count(settings: Settings) -> int:
    """Blocklists asked about each IPv4 address (allow-lists are not blocklists)."""
    return sum(1 for zone in settings.catalogue if zone.ipv4 and zone.kind != "allow")


def summarise(
    network: ipaddress.IPv4Network,
    results: Sequence[tuple[str, DnsblResult]],
    settings: Settings,
) -> RangeResult:
    """Gather per-address blocklist results into the range's result."""
    tally = RangeTally()
    for ip, result in results:
        tally.add(ip, result)
    return tally.result(str(network), settings)


# ---- pace -----------------------------------------------------------------------------------


def window_size(settings: Settings) -> int:
    """Addresses in flight at once: enough to keep the resolver's cap full, and no more."""
    lists = max(1, sum(1 for zone in settings.catalogue if zone.ipv4))
    return max(4, math.ceil(WINDOW_FILL * settings.max_in_flight / lists))


def questions_for(addresses: int, settings: Settings) -> int:
    """Questions a range asks: one A per list and address, and each list's two test points."""
    zones = sum(1 for zone in settings.catalogue if zone.ipv4)
    tests = sum(2 for zone in settings.catalogue if zone.ipv4 and zone.selftest)
    return addresses * zones + tests


def least_seconds(addresses: int, settings: Settings, round_trip: float = 0.0) -> float:
    """The least time a range can take: the per-list rate, or the cap over `round_trip`.

    Each list gets one question per address and at most `per_list_rate` a second (after a
    short burst), so a range cannot be quicker than addresses / rate, however fast the
    resolver; over a resolver `round_trip` seconds away, the cap bounds it instead.
    """
    by_rate = addresses / settings.per_list_rate if settings.per_list_rate > 0 else 0.0
    by_cap = questions_for(addresses, settings) / settings.max_in_flight * round_trip
    return max(by_rate, by_cap)


def forecast(addresses: int, settings: Settings) -> str:
    """One sentence, before a range starts, on how long it will take at least."""
    questions = questions_for(addresses, settings)
    seconds = least_seconds(addresses, settings)
    lists = sum(1 for zone in settings.catalogue if zone.ipv4)
    pace = (
        f"at most {settings.per_list_rate:g} questions a second to each list"
        if settings.per_list_rate > 0
        else f"at most {settings.max_in_flight} questions in flight"
    )
    return (
        f"Checking {addresses:,} address{'' if addresses == 1 else 'es'} on {lists} lists: {questions:,} questions, "
        f"{pace}, so {_duration(seconds)} at least (more over a slow resolver)."
    )


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, math.ceil(seconds))} s"
    minutes, rest = divmod(math.ceil(seconds), 60)
    return f"{minutes} min {rest:02d} s"


async def _report(progress: Progress | None, done: int, total: int) -> None:
    """Tell the caller how far the range is; a failing progress display never stops the check."""
    if progress is None:
        return
    try:
        outcome = progress(done, total)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception:
        log.warning("range progress callback failed at %d/%d", done, total, exc_info=True)


RowSink = Callable[[RangeRow], object]


async def check_addresses(
    addresses: Iterable[str],
    total: int,
    resolver: Resolver,
    settings: Settings,
    progress: Progress | None = None,
    *,
    cache: SelfTestCache | None = None,
    on_row: RowSink | None = None,
) -> RangeTally:
    """Blocklists for each of `addresses` (IPv4, `total` of them), a bounded window at a time.

    The self-tests start first and the addresses do not wait for them; `on_row` gets each
    address's row as it finishes (in the order they finish), `progress(done, total)` is
    called with 0 at the start and after each address.
    """
    tally = RangeTally()
    done = 0
    await _report(progress, 0, total)
    selftests = asyncio.ensure_future(prime_selftests(4, resolver, settings, cache))
    queue: Iterator[str] = iter(addresses)

    async def worker() -> None:
        nonlocal done
        for ip in queue:  # one shared iterator: each address is taken by one worker
            first_wave()  # a new address is new work, not a follow-up of the last one
            result = await check_dnsbl(
                ip, resolver, settings, cache=cache, primed=selftests, reasons=False
            )
            row = tally.add(ip, result)
            del result
            if on_row is not None:
                on_row(row)
            done += 1
            await _report(progress, done, total)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(window_size(settings), max(total, 1))):
                group.create_task(worker())
        await selftests
    except ExceptionGroup as failed:  # callers expect the error itself, as from gather
        raise failed.exceptions[0] from None
    finally:
        if not selftests.done():
            selftests.cancel()
    return tally


async def check_range(
    network: ipaddress.IPv4Network | str,
    resolver: Resolver,
    settings: Settings,
    progress: Progress | None = None,
    *,
    cache: SelfTestCache | None = None,
    min_prefix: int = MIN_PREFIX,
    on_row: RowSink | None = None,
) -> RangeResult:
    """Ask every blocklist about every address of `network`; listed addresses first.

    `progress(done, total)` is called with 0 at the start and after each address.
    Raises RangeError for a range parse_range refuses (wider than /`min_prefix`).
    """
    net = (
        network if isinstance(network, ipaddress.IPv4Network) else parse_range(network, min_prefix)
    )
    if isinstance(network, ipaddress.IPv4Network):
        parse_range(str(network), min_prefix)  # the same limits, whoever built the network
    tally = await check_addresses(
        (str(ip) for ip in net),
        net.num_addresses,
        resolver,
        settings,
        progress,
        cache=cache,
        on_row=on_row,
    )
    return tally.result(str(net), settings)
