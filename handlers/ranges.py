"""Blocklists for every address of an IPv4 range: an egress pool is a range, not an address.

Ranges go up to /24 (256 addresses): a /24 over ~30 lists is already ~8,000 questions,
and bigger blocks are better split by whoever owns them. IPv6 ranges are refused, since
an IPv6 /64 alone is 18 quintillion addresses. Every address of the range is checked,
the first and last included: a range an engineer types is usually a slice of a
provider's pool, where those are ordinary hosts, and lists judge each address alone.

All addresses share one resolver, so its global cap, the per-list rate, its cache and
its de-duplication apply to the whole range, and the RFC 5782 self-test of each list is
asked once, not once per address.
"""

from __future__ import annotations

import asyncio
import csv
import inspect
import io
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from handlers.dns.resolver import Resolver
from handlers.dnsbl import DnsblResult, Listing, SelfTestCache, check_dnsbl, prime_selftests
from handlers.numbers import ascii_int
from handlers.results import Advice, CheckResult, Status, rank, worst
from handlers.settings import Settings
from handlers.targets import non_global_reason

log = logging.getLogger(__name__)

#: Smallest prefix length accepted: a /24, 256 addresses.
MIN_PREFIX = 24
MAX_ADDRESSES = 2 ** (32 - MIN_PREFIX)
IPV6_REASON = "an IPv6 /64 has 18 quintillion addresses; check single addresses"

#: Called as addresses finish: (done, total). May be a plain function or a coroutine function.
Progress = Callable[[int, int], Awaitable[object] | object]


class RangeError(ValueError):
    """A range that will not be checked; `str(error)` is one sentence saying why."""


def looks_like_range(word: str) -> bool:
    """True for `ADDRESS/PREFIX`-shaped words (the grammar routes them here)."""
    head, slash, tail = word.partition("/")
    return bool(slash and head and tail)


def parse_range(text: str) -> ipaddress.IPv4Network:
    """`text` (e.g. 51.158.10.0/26) as a network of public IPv4 addresses, /24 to /32.

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
    if network.prefixlen < MIN_PREFIX:
        raise RangeError(
            f"{network} has {network.num_addresses:,} addresses; ranges are checked up to "
            f"/{MIN_PREFIX} ({MAX_ADDRESSES} addresses): split it into /{MIN_PREFIX}s."
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


def _advice(network: str, results: Sequence[tuple[str, DnsblResult]]) -> list[Advice]:
    """One piece of advice per list that names addresses of the range (not one per address)."""
    by_zone: dict[str, list[tuple[str, Listing]]] = {}
    for ip, result in results:
        for item in result.listed:
            by_zone.setdefault(item.zone, []).append((ip, item))
    advice: list[Advice] = []
    ordered = sorted(
        by_zone.values(), key=lambda items: (items[0][1].kind != "reputation", items[0][1].list)
    )
    for items in ordered:
        first = items[0][1]
        ips = [ip for ip, _ in items]
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
            meanings = "; ".join(sorted({m for _, item in items for m in item.meanings}))
            advice.append(
                Advice(
                    f"{first.list} lists {count} of {network} by policy ({meanings}): expected "
                    "for a provider's egress pool, not a sign of bad reputation. Mail from "
                    "these addresses should go through the provider's smarthost with SMTP AUTH.",
                    first.lookup_url,
                )
            )
    # Advice that is about the resolver, not one address (e.g. "Spamhaus refused the resolver").
    seen = set(advice)
    for ip, result in results:
        for piece in result.advice:
            if ip not in piece.text and piece not in seen:
                seen.add(piece)
                advice.append(piece)
    return advice


def summarise(
    network: ipaddress.IPv4Network,
    results: Sequence[tuple[str, DnsblResult]],
    settings: Settings,
) -> RangeResult:
    """Gather per-address blocklist results into the range's result."""
    rows = [_row(ip, result) for ip, result in results]
    listed = [r for r in rows if r.listed]
    unchecked = [r for r in rows if not r.listed and r.unavailable]
    clean = [r for r in rows if not r.listed and not r.unavailable]
    listed.sort(key=lambda r: (-rank(r.status), ipaddress.ip_address(r.address)))
    policy_only = sum(
        1 for _, res in results if res.listed and all(i.kind == "policy" for i in res.listed)
    )
    notes: list[str] = []
    for _, res in results:
        notes.extend(note for note in res.notes if note not in notes)
    lists = sum(1 for zone in settings.catalogue if zone.ipv4 and zone.kind != "allow")
    result = RangeResult(
        status=worst(r.status for r in rows),
        summary="",
        network=str(network),
        addresses=len(rows),
        lists=lists,
        listed=len(listed),
        clean=len(clean),
        unchecked=len(unchecked),
        rows=[*listed, *unchecked, *clean],
        notes=notes,
    )
    result.summary = _summary(result, policy_only)
    result.advice = _advice(str(network), results)
    return result


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


async def check_range(
    network: ipaddress.IPv4Network | str,
    resolver: Resolver,
    settings: Settings,
    progress: Progress | None = None,
    *,
    cache: SelfTestCache | None = None,
) -> RangeResult:
    """Ask every blocklist about every address of `network`; listed addresses first.

    `progress(done, total)` is called with 0 at the start and after each address. All
    addresses start at once: the resolver's cap and per-list rate decide the pace.
    Raises RangeError for a range parse_range refuses.
    """
    net = network if isinstance(network, ipaddress.IPv4Network) else parse_range(network)
    if isinstance(network, ipaddress.IPv4Network):
        parse_range(str(network))  # the same limits, whoever built the network
    addresses = [str(ip) for ip in net]
    total = len(addresses)
    done = 0
    results: dict[str, DnsblResult] = {}
    await _report(progress, 0, total)
    primed = await prime_selftests(4, resolver, settings, cache)

    async def one(ip: str) -> None:
        nonlocal done
        results[ip] = await check_dnsbl(ip, resolver, settings, cache=cache, primed=primed)
        done += 1
        await _report(progress, done, total)

    await asyncio.gather(*(one(ip) for ip in addresses))
    return summarise(net, [(ip, results[ip]) for ip in addresses], settings)
