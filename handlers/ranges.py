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
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from handlers.dns.resolver import Resolver
from handlers.dnsbl import DnsblResult, Listing, SelfTestCache, check_dnsbl, prime_selftests
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
    if not prefix.isdigit() or int(prefix) > 32:
        raise RangeError(f"/{prefix} is not an IPv4 prefix length (0 to 32).")
    network = ipaddress.IPv4Network(f"{address}/{int(prefix)}", strict=False)
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


#: How bad a listing is, worst first: reputation on a list receivers block on, then policy
#: (the address should send through a smarthost), then lists few receivers block on.
Severity = Literal["reputation", "policy", "informational"]
_SEVERITY_ORDER: dict[str, int] = {"reputation": 0, "policy": 1, "informational": 2}


def severity(item: Listing) -> Severity:
    """What one list's listing of one address means, from that address's own codes."""
    if item.tier == "informational":
        return "informational"
    return "policy" if item.kind == "policy" else "reputation"


def short_code(code: str, meaning: str, list_name: str = "") -> str:
    """`127.0.0.2 SBL`: the code and the sub-list its meaning names, for tables and advice.

    A label that only repeats the list's name (SpamCop's "SpamCop: ...") is left out.
    """
    label = meaning.split(":", 1)[0].strip() if ":" in meaning else ""
    if not label or len(label) > 24 or label.lower() in list_name.lower():
        return code
    return f"{code} {label}"


@dataclass(frozen=True)
class RowListing:
    """One list that lists one address of the range, with that address's own codes."""

    list: str
    zone: str
    codes: tuple[str, ...]
    #: Sub-lists the codes stand for (SBL, XBL, PBL ...), same order as `codes`.
    labels: tuple[str, ...]
    severity: Severity

    def text(self) -> str:
        """`Spamhaus ZEN 127.0.0.2 SBL, 127.0.0.4 XBL`."""
        return f"{self.list} {', '.join(self.labels)}"


@dataclass(frozen=True)
class RangeRow:
    """One address of the range: its blocklist status and the lists that name it."""

    address: str
    status: Status
    #: Names of the lists that list it (e.g. "Spamhaus ZEN").
    lists: tuple[str, ...] = ()
    #: Zones that could not give an answer about it (timeout, refused, ...).
    unavailable: tuple[str, ...] = ()
    #: Each listing with its codes, worst first.
    listings: tuple[RowListing, ...] = ()

    @property
    def listed(self) -> bool:
        return bool(self.lists)

    @property
    def kind(self) -> str:
        """The address's worst listing: reputation, policy, informational; empty when clean."""
        return self.listings[0].severity if self.listings else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "status": self.status,
            "kind": self.kind or None,
            "lists": list(self.lists),
            "unavailable": list(self.unavailable),
            "listings": [asdict(item) for item in self.listings],
        }

    def codes_text(self) -> str:
        """Every listing with its codes: `Spamhaus ZEN 127.0.0.2 SBL; SpamCop 127.0.0.2`."""
        return "; ".join(item.text() for item in self.listings)


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
        """One line per address, listed ones first: address, status, lists, unavailable,
        then the address's worst kind of listing and every listing with its codes."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["address", "status", "lists", "unavailable", "kind", "codes"])
        for row in self.rows:
            writer.writerow(
                [
                    row.address,
                    row.status,
                    "; ".join(row.lists),
                    "; ".join(row.unavailable),
                    row.kind,
                    row.codes_text(),
                ]
            )
        return out.getvalue()

    def table(self) -> str:
        """The rows as aligned plain text, for a terminal: each listing with its codes."""
        width = max([len("address"), *(len(r.address) for r in self.rows)])
        kind_width = max([len("kind"), *(len(r.kind) for r in self.rows)])
        lines = [f"{'address':<{width}}  {'status':<7} {'kind':<{kind_width}} lists"]
        for row in self.rows:
            detail = row.codes_text()
            if row.unavailable:
                missing = f"not checked: {', '.join(row.unavailable)}"
                detail = f"{detail}; {missing}" if detail else missing
            lines.append(
                f"{row.address:<{width}}  {row.status:<7} {row.kind:<{kind_width}} {detail}".rstrip()
            )
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


def _row_listing(item: Listing) -> RowListing:
    labels = tuple(
        short_code(c, m, item.list) for c, m in zip(item.codes, item.meanings, strict=True)
    )
    return RowListing(item.list, item.zone, item.codes, labels, severity(item))


def _row(ip: str, result: DnsblResult) -> RangeRow:
    listings = sorted(
        (_row_listing(item) for item in result.listed),
        key=lambda r: _SEVERITY_ORDER[r.severity],
    )
    return RangeRow(
        address=ip,
        status=result.status,
        lists=tuple(item.list for item in listings),
        unavailable=tuple(u.zone for u in result.unavailable),
        listings=tuple(listings),
    )


def _sample(addresses: Sequence[str], shown: int = 5) -> str:
    if len(addresses) <= shown:
        return ", ".join(addresses)
    return f"{', '.join(addresses[:shown])} and {len(addresses) - shown} more"


def _with_codes(items: Sequence[tuple[str, Listing]], shown: int = 5) -> str:
    """`51.158.10.22: 127.0.0.2 SBL, 127.0.0.4 XBL; 51.158.10.25: 127.0.0.2 SBL`."""
    parts = [f"{ip}: {', '.join(_row_listing(item).labels)}" for ip, item in items[:shown]]
    more = len(items) - shown
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


_TIER_ORDER = {"major": 0, "secondary": 1, "informational": 2}


def _advice(network: str, results: Sequence[tuple[str, DnsblResult]]) -> list[Advice]:
    """One piece of advice per list and kind of listing, worst first.

    Each address is classified by its own codes: on one list, an address with SBL or XBL
    is a reputation problem even when its neighbours are only on the PBL.
    """
    groups: dict[tuple[str, Severity], list[tuple[str, Listing]]] = {}
    for ip, result in results:
        for item in result.listed:
            groups.setdefault((item.zone, severity(item)), []).append((ip, item))
    ordered = sorted(
        groups.items(),
        key=lambda kv: (
            _SEVERITY_ORDER[kv[0][1]],
            _TIER_ORDER.get(kv[1][0][1].tier, 3),
            -len(kv[1]),
            kv[1][0][1].list,
        ),
    )
    advice: list[Advice] = []
    for (_, kind), items in ordered:
        first = items[0][1]
        count = _plural(len(items), "address")
        codes = _with_codes(items)
        if kind == "reputation":
            text = (
                f"{first.list} lists {count} of {network} for bad reputation ({codes}). "
                "Find and fix the cause on each (compromised account or machine, open relay, "
                "unwanted bulk mail), then request removal on the list's page."
            )
            advice.append(Advice(text, first.removal_url))
        elif kind == "policy":
            text = (
                f"{first.list} lists {count} of {network} by policy only ({codes}): expected "
                "for a provider's egress pool, not a sign of bad reputation. Mail from these "
                "addresses should go through the provider's smarthost with SMTP AUTH."
            )
            advice.append(Advice(text, first.lookup_url))
        else:
            text = (
                f"{first.list} lists {count} of {network} ({codes}); few receivers block on "
                "it, so it is worth knowing rather than a cause of bounces on its own."
            )
            advice.append(Advice(text, first.lookup_url))
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
    policy_only = sum(1 for r in listed if r.kind == "policy")
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
