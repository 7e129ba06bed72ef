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
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from handlers import i18n
from handlers.dns.priority import first_wave
from handlers.dns.resolver import Resolver
from handlers.dnsbl import DnsblResult, Listing, SelfTestCache, check_dnsbl, prime_selftests
from handlers.i18n import N_, _, ngettext, pgettext
from handlers.numbers import ascii_int
from handlers.results import Advice, CheckResult, Status, rank, worst
from handlers.settings import Settings
from handlers.targets import non_global_reason, range_phrase, reason_phrase

log = logging.getLogger(__name__)

#: Smallest prefix length accepted by default (Slack): a /24, 256 addresses.
MIN_PREFIX = 24
MAX_ADDRESSES = 2 ** (32 - MIN_PREFIX)
#: The terminal's widest range: a /20, 4,096 addresses.
TERMINAL_MIN_PREFIX = 20
#: Addresses in flight per question the resolver's cap lets through, over the lists:
#: twice what fills the cap, so a slow list's tail never leaves it idle.
WINDOW_FILL = 2
IPV6_REASON = N_("an IPv6 /64 has 18 quintillion addresses; check single addresses")

#: Called as addresses finish: (done, total). May be a plain function or a coroutine function.
Progress = Callable[[int, int], Awaitable[object] | object]


class RangeError(ValueError):
    """A range that will not be checked; `str(error)` is one sentence saying why."""


def looks_like_range(word: str) -> bool:
    """True for `ADDRESS/PREFIX`-shaped words (the grammar routes them here)."""
    head, slash, tail = word.partition("/")
    return bool(slash and head and tail)


def _short(word: str) -> str:
    return word if len(word) <= 60 else word[:57] + "..."


def parse_range(text: str, min_prefix: int = MIN_PREFIX) -> ipaddress.IPv4Network:
    """`text` (e.g. 51.158.10.0/26) as a network of public IPv4 addresses, /`min_prefix` to /32.

    Host bits are allowed (51.158.10.22/26 means 51.158.10.0/26), as people paste an
    address with its prefix. Raises RangeError with the reason otherwise.
    """
    text = text.strip()
    head, slash, prefix = text.partition("/")
    # What was typed is quoted back shortened, so a long paste cannot flood the reply.
    shown_text, shown_head, shown_prefix = _short(text), _short(head), _short(prefix)
    if not slash:
        raise RangeError(
            _("{text} is not an address range: write ADDRESS/PREFIX, e.g. 51.158.10.0/26.").format(
                text=shown_text
            )
        )
    try:
        address = ipaddress.ip_address(head)
    except ValueError:
        raise RangeError(
            _("{head} is not a valid IP address, so {text} is not a range.").format(
                head=shown_head, text=shown_text
            )
        ) from None
    if address.version == 6:
        raise RangeError(
            _("{text} is an IPv6 range: {why}.").format(text=shown_text, why=_(IPV6_REASON))
        )
    length = ascii_int(prefix)
    if length is None or length > 32:
        raise RangeError(
            _("/{prefix} is not an IPv4 prefix length (0 to 32).").format(prefix=shown_prefix)
        )
    network = ipaddress.IPv4Network(f"{address}/{length}", strict=False)
    if network.prefixlen < min_prefix:
        raise RangeError(
            _(
                "{network} has {n} addresses; ranges are checked up to /{prefix} ({most} "
                "addresses): split it into /{prefix}s."
            ).format(
                network=network,
                n=i18n.number(network.num_addresses),
                prefix=min_prefix,
                most=i18n.number(2 ** (32 - min_prefix)),
            )
        )
    reasons = {ip: non_global_reason(ip) for ip in network}
    kinds = {reason for reason in reasons.values() if reason}
    if kinds:
        if len(kinds) == 1 and all(reasons.values()):
            kind = kinds.pop()
            raise RangeError(
                _(
                    "{network} is {kind}: blocklists only mean something for public internet "
                    "addresses."
                ).format(network=network, kind=range_phrase(kind))
            )
        first = next(ip for ip, reason in reasons.items() if reason)
        raise RangeError(
            _(
                "{network} includes {first}, {kind}: blocklists only mean something for public "
                "internet addresses."
            ).format(network=network, first=first, kind=reason_phrase(str(reasons[first])))
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
        # The headings are for people and follow the language; the cells under "status"
        # and "kind" are keys (ok, fail, policy), English for scripts, as in the CSV.
        address, status = pgettext("range table", "address"), pgettext("range table", "status")
        kind, lists = pgettext("range table", "kind"), pgettext("range table", "lists")
        width = max([len(address), *(len(r.address) for r in self.rows)])
        status_width = max(7, len(status))
        kind_width = max([len(kind), *(len(r.kind) for r in self.rows)])
        lines = [f"{address:<{width}}  {status:<{status_width}} {kind:<{kind_width}} {lists}"]
        for row in self.rows:
            detail = row.codes_text()
            if row.unavailable:
                missing = _("not checked: {lists}").format(lists=", ".join(row.unavailable))
                detail = f"{detail}; {missing}" if detail else missing
            lines.append(
                f"{row.address:<{width}}  {row.status:<{status_width}} {row.kind:<{kind_width}} {detail}".rstrip()
            )
        return "\n".join(lines)


def _addresses(count: int) -> str:
    return ngettext("{n} address", "{n} addresses", count).format(n=count)


def _summary(result: RangeResult, policy_only: int) -> str:
    parts: list[str] = []
    if result.clean:
        parts.append(
            ngettext(
                "{n} address clean on all {lists} lists",
                "{n} addresses clean on all {lists} lists",
                result.clean,
            ).format(n=result.clean, lists=result.lists)
        )
    if result.listed:
        listed = (
            ngettext("{n} listed", "{n} listed", result.listed).format(n=result.listed)
            if parts
            else ngettext(
                "{n} of {total} addresses listed", "{n} of {total} addresses listed", result.listed
            ).format(n=result.listed, total=result.addresses)
        )
        if policy_only:
            listed += " " + _("({n} on policy lists only)").format(n=policy_only)
        parts.append(listed)
    if result.unchecked:
        parts.append(
            ngettext(
                "{n} not fully checked (a list did not answer)",
                "{n} not fully checked (a list did not answer)",
                result.unchecked,
            ).format(n=result.unchecked)
        )
    return "; ".join(parts)


def _row_listing(item: Listing) -> RowListing:
    labels = tuple(
        short_code(c, m, item.list) for c, m in zip(item.codes, item.meanings, strict=True)
    )
    return RowListing(item.list, item.zone, item.codes, labels, severity(item))


def _listings(result: DnsblResult) -> list[RowListing]:
    """The address's listings with their codes, in the order the check found them."""
    return [_row_listing(item) for item in result.listed]


def _row(ip: str, result: DnsblResult) -> RangeRow:
    listings = sorted(_listings(result), key=lambda r: _SEVERITY_ORDER[r.severity])
    return RangeRow(
        address=ip,
        status=result.status,
        lists=tuple(item.list for item in listings),
        unavailable=tuple(u.zone for u in result.unavailable),
        listings=tuple(listings),
    )


#: Addresses whose codes an advice shows; the rest are counted.
SHOWN_IN_ADVICE = 5
_TIER_ORDER = {"major": 0, "secondary": 1, "informational": 2}


@dataclass
class _ZoneTally:
    """What one list says about the range for one kind of listing (reputation, policy, ...)."""

    first: Listing
    severity: Severity
    count: int = 0
    #: The first addresses with their own codes (`127.0.0.2 SBL`), for the advice.
    shown: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)


class RangeTally:
    """Per-address results folded in as they finish, so none has to be kept whole.

    Each address is classified by its own codes: on one list, an address with SBL or XBL
    is a reputation problem even when its neighbours are only on the PBL.
    """

    def __init__(self) -> None:
        self.rows: list[RangeRow] = []
        self.by_zone: dict[tuple[str, Severity], _ZoneTally] = {}
        self.policy_only = 0
        self.notes: list[str] = []
        self._resolver_advice: list[Advice] = []

    def add(self, ip: str, result: DnsblResult) -> RangeRow:
        row = _row(ip, result)
        self.rows.append(row)
        for item, listing in zip(result.listed, _listings(result), strict=True):
            key = (item.zone, listing.severity)
            tally = self.by_zone.setdefault(key, _ZoneTally(item, listing.severity))
            if ipaddress.IPv4Address(ip) < ipaddress.IPv4Address(
                tally.shown[0][0] if tally.shown else ip
            ):
                tally.first = item  # its pages are the lowest address's, whatever finished first
            tally.count += 1
            tally.shown.append((ip, listing.labels))
            tally.shown.sort(key=lambda x: ipaddress.IPv4Address(x[0]))
            del tally.shown[SHOWN_IN_ADVICE:]
        if row.kind == "policy":
            self.policy_only += 1
        self.notes.extend(note for note in result.notes if note not in self.notes)
        # Advice about the resolver, not one address (e.g. "Spamhaus refused the resolver").
        for piece in result.advice:
            if ip not in piece.text and piece not in self._resolver_advice:
                self._resolver_advice.append(piece)
        return row

    def advice(self, network: str) -> list[Advice]:
        """One piece of advice per list and kind of listing, worst first (not alphabetical)."""
        advice: list[Advice] = []
        ordered = sorted(
            self.by_zone.values(),
            key=lambda t: (
                _SEVERITY_ORDER[t.severity],
                _TIER_ORDER.get(t.first.tier, 3),
                -t.count,
                t.first.list,
            ),
        )
        for tally in ordered:
            first = tally.first
            count = _addresses(tally.count)
            shown = sorted(tally.shown, key=lambda x: ipaddress.IPv4Address(x[0]))
            codes = "; ".join(f"{ip}: {', '.join(labels)}" for ip, labels in shown)
            if tally.count > len(shown):
                codes += "; " + _("and {n} more").format(n=tally.count - len(shown))
            if tally.severity == "reputation":
                text = _(
                    "{list} lists {count} of {network} for bad reputation ({codes}). Find and "
                    "fix the cause on each (compromised account or machine, open relay, unwanted "
                    "bulk mail), then request removal on the list's page."
                ).format(list=first.list, count=count, network=network, codes=codes)
                advice.append(Advice(text, first.removal_url))
            elif tally.severity == "policy":
                text = _(
                    "{list} lists {count} of {network} by policy only ({codes}): expected for a "
                    "provider's egress pool, not a sign of bad reputation. Mail from these "
                    "addresses should go through the provider's smarthost with SMTP AUTH."
                ).format(list=first.list, count=count, network=network, codes=codes)
                advice.append(Advice(text, first.lookup_url))
            else:
                text = _(
                    "{list} lists {count} of {network} ({codes}); few receivers block on it, so "
                    "it is worth knowing rather than a cause of bounces on its own."
                ).format(list=first.list, count=count, network=network, codes=codes)
                advice.append(Advice(text, first.lookup_url))
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
        _("at most {n} questions a second to each list").format(n=f"{settings.per_list_rate:g}")
        if settings.per_list_rate > 0
        else _("at most {n} questions in flight").format(n=settings.max_in_flight)
    )
    return ngettext(
        "Checking {n} address on {lists} lists: {questions} questions, {pace}, so {duration} "
        "at least (more over a slow resolver).",
        "Checking {n} addresses on {lists} lists: {questions} questions, {pace}, so {duration} "
        "at least (more over a slow resolver).",
        addresses,
    ).format(
        n=i18n.number(addresses),
        lists=lists,
        questions=i18n.number(questions),
        pace=pace,
        duration=_duration(seconds),
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
            first_wave()  # a new address: it queues behind the checks started before it
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
