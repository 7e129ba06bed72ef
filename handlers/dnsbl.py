"""The blocklist (DNSBL) check: is the address on the lists receivers consult?

Every zone of the catalogue is asked at once; a slow list costs nothing beyond its own
timeout. The critical path is two round trips: the A question (with the RFC 5782
self-test asked alongside it), then the TXT of the zones that list the address, because
the TXT usually names the reason. Answers are read strictly: an error answer (Spamhaus
127.255.255.x, DNSWL 127.0.0.255) is never a listing, an answer outside 127.0.0.0/8 or a
zone that lists its negative test point is `unreliable`, and a zone that could not be
asked is never reported as clean.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from handlers.catalogue import Zone
from handlers.dns.resolver import Answer, Resolver
from handlers.i18n import N_, _, ngettext
from handlers.results import Advice, CheckResult, Status
from handlers.settings import Settings

UnavailableReason = Literal["timeout", "error", "resolver_blocked", "bad_key", "unreliable"]

DQS_URL = "https://www.spamhaus.com/product/data-query-service/"

#: The operator's guide on policy listings (Spamhaus PBL and its kind).
POLICY_ADVICE = N_(
    "{list} lists {ip} by policy ({meaning}). That is expected for addresses of a "
    "provider's egress pool and says nothing bad about their reputation: receivers expect "
    "mail from such addresses to be submitted with authentication (SMTP AUTH) through the "
    "provider's smarthost. Send through the smarthost; ask for removal only if a mail server "
    "really is meant to send directly from this address."
)

#: RFC 5782 section 5 test points: (listed, not listed) per address family.
TEST_POINTS: dict[int, tuple[str, str]] = {
    4: ("127.0.0.2", "127.0.0.1"),
    6: ("::ffff:7f00:2", "::ffff:7f00:1"),
}

_LOOPBACK_NET = ipaddress.ip_network("127.0.0.0/8")


def reversed_address(ip: str) -> str:
    """`ip` in DNSBL order: IPv4 octets reversed, IPv6 as reversed nibbles (RFC 5782)."""
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return ".".join(reversed(str(address).split(".")))
    return ".".join(reversed(address.exploded.replace(":", "")))


def query_name(ip: str, zone: str) -> str:
    """The name to ask for `ip` under `zone`, e.g. 22.10.158.51.zen.spamhaus.org."""
    return f"{reversed_address(ip)}.{zone.rstrip('.')}"


# ---- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """One blocklist that lists the address, and what it says about it."""

    zone: str
    list: str
    codes: tuple[str, ...]
    meanings: tuple[str, ...]
    txt: str | None
    lookup_url: str
    removal_url: str
    kind: str
    tier: str

    def to_json(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "list": self.list,
            "codes": list(self.codes),
            "meanings": list(self.meanings),
            "txt": self.txt,
            "lookup_url": self.lookup_url,
            "removal_url": self.removal_url,
            "kind": self.kind,
            "tier": self.tier,
        }


@dataclass(frozen=True)
class Unavailable:
    """A zone that could not give a trustworthy answer (never clean, never listed)."""

    zone: str
    reason: UnavailableReason
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"zone": self.zone, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class AllowHit:
    """An allow-list (DNSWL) that names the address: a good sign, not a listing."""

    zone: str
    list: str
    codes: tuple[str, ...]
    meanings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "list": self.list,
            "codes": list(self.codes),
            "meanings": list(self.meanings),
        }


@dataclass
class DnsblResult(CheckResult):
    """The `dnsbl` check of the report (INTERFACE.md), plus notes and allow-list hits."""

    listed: list[Listing] = field(default_factory=list)
    clean: list[str] = field(default_factory=list)
    unavailable: list[Unavailable] = field(default_factory=list)
    allowed: list[AllowHit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---- RFC 5782 self-test cache ----------------------------------------------------------------


@dataclass(frozen=True)
class SelfTest:
    """What a zone answered for its test points.

    `unreliable`: it lists the negative point (127.0.0.1), so its answers mean nothing.
    `positive`: it lists the positive point (True), does not (False: possibly dormant),
    or we could not tell (None).
    """

    unreliable: bool
    positive: bool | None


class SelfTestCache:
    """Self-test results per resolver, zone and family, kept `ttl` seconds.

    Keyed to the resolver (weakly) because the answer depends on who asks: Spamhaus
    answers a public resolver differently from a private one.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._store: weakref.WeakKeyDictionary[
            Resolver, dict[tuple[str, int], tuple[float, SelfTest]]
        ] = weakref.WeakKeyDictionary()

    def get(self, resolver: Resolver, zone: str, family: int) -> SelfTest | None:
        entry = self._store.get(resolver, {}).get((zone, family))
        if entry is None or self.clock() >= entry[0]:
            return None
        return entry[1]

    def put(self, resolver: Resolver, zone: str, family: int, test: SelfTest, ttl: float) -> None:
        self._store.setdefault(resolver, {})[(zone, family)] = (self.clock() + ttl, test)

    def clear(self) -> None:
        self._store.clear()


#: The process-wide cache `check_dnsbl` uses unless given another.
SELFTEST_CACHE = SelfTestCache()


# ---- reading answers -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    """One A answer read against the catalogue: listed codes, or why it is unusable."""

    codes: tuple[str, ...] = ()
    reason: UnavailableReason | None = None
    detail: str = ""


def _read(zone: Zone, answer: Answer) -> _Reading:
    if answer.outcome in ("nxdomain", "nodata"):
        return _Reading()
    if answer.outcome == "timeout":
        return _Reading(reason="timeout", detail=answer.detail or _("no answer"))
    if answer.outcome != "answer":
        detail = {"servfail": "SERVFAIL", "refused": "REFUSED"}.get(answer.outcome, "")
        return _Reading(reason="error", detail=answer.detail or detail or answer.outcome)
    codes = sorted(set(answer.records), key=_sort_key)
    for code in codes:
        if not _in_loopback(code):
            return _Reading(
                reason="unreliable",
                detail=_("answered {code}, outside 127.0.0.0/8: not a blocklist answer").format(
                    code=code
                ),
            )
    for code in codes:
        reason = zone.error_codes.get(code)
        if reason is not None:
            return _Reading(reason=reason, detail=_error_detail(code, reason))
    if zone.strict_codes:
        for code in codes:
            if zone.code(code) is None:
                return _Reading(
                    reason="unreliable",
                    detail=_(
                        "answered {code}, which is not one of the list's documented codes"
                    ).format(code=code),
                )
    return _Reading(codes=tuple(codes))


def _in_loopback(code: str) -> bool:
    try:
        return ipaddress.ip_address(code) in _LOOPBACK_NET
    except ValueError:
        return False


def _sort_key(code: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in code.split("."))
    except ValueError:
        return (1 << 16,)


def _error_detail(code: str, reason: str) -> str:
    if reason == "resolver_blocked":
        return _(
            "answered {code}: the list refuses this resolver "
            "(a public resolver, or over the free query limit)"
        ).format(code=code)
    if reason == "bad_key":
        return _("answered {code}: the Data Query Service key is not valid").format(code=code)
    return _("answered {code}, an error code of the list").format(code=code)


# ---- asking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ZoneOutcome:
    zone: Zone
    reading: _Reading
    txt: str | None
    selftest: SelfTest | None


async def _ask_zone(
    ip: str,
    family: int,
    zone: Zone,
    resolver: Resolver,
    settings: Settings,
    cache: SelfTestCache,
    primed: Primed | None = None,
    reasons: bool = True,
) -> _ZoneOutcome:
    asked = _asked_zone(zone, settings)
    name = query_name(ip, asked)

    async def listing() -> tuple[_Reading, str | None]:
        reading = _read(zone, await resolver.lookup(name, "A", zone=zone))
        if not reading.codes or reading.reason or not reasons:
            return reading, None
        txt = await resolver.lookup(name, "TXT", zone=zone)
        return reading, (" | ".join(txt.records) or None) if txt.outcome == "answer" else None

    if isinstance(primed, asyncio.Future):
        # The self-tests are still in flight: ask about the address meanwhile.
        reading, txt = await listing()
        tests = await primed
        return _ZoneOutcome(zone, reading, txt, tests.get(asked))
    if primed is not None and asked in primed:
        known: SelfTest | None = primed[asked]
    else:
        known = cache.get(resolver, asked, family) if zone.selftest else None
    if known is not None or not zone.selftest or (primed is not None and asked in primed):
        reading, txt = await listing()
        return _ZoneOutcome(zone, reading, txt, known)
    (reading, txt), selftest = await asyncio.gather(
        listing(), _selftest(zone, asked, family, resolver, settings, cache)
    )
    return _ZoneOutcome(zone, reading, txt, selftest)


#: Self-test results by asked zone, or the task that will have them (see prime_selftests).
Primed = Mapping[str, SelfTest | None] | asyncio.Future[dict[str, SelfTest | None]]


async def prime_selftests(
    family: int, resolver: Resolver, settings: Settings, cache: SelfTestCache | None = None
) -> dict[str, SelfTest | None]:
    """Run every zone's RFC 5782 self-test once, for many checks to share (`primed=`).

    A range check starts this as a task and passes the task as `primed`: its addresses are
    asked while the test points are in flight, and each judges its answers once the tests
    are in, instead of hundreds of checks each joining the same self-test questions, or
    asking again a list that refused the test points.
    """
    cache = cache if cache is not None else SELFTEST_CACHE
    zones = [z for z in settings.catalogue if (z.ipv4 if family == 4 else z.ipv6)]
    asked = [_asked_zone(z, settings) for z in zones]
    tests = await asyncio.gather(
        *(
            _selftest(z, a, family, resolver, settings, cache)
            for z, a in zip(zones, asked, strict=True)
        )
    )
    return dict(zip(asked, tests, strict=True))


def _asked_zone(zone: Zone, settings: Settings) -> str:
    """The zone actually asked: `KEY.<dqs_zone>` with a DQS key, else the public zone."""
    if settings.dqs_key and zone.dqs_zone:
        return f"{settings.dqs_key}.{zone.dqs_zone}"
    return zone.zone


async def _selftest(
    zone: Zone,
    asked: str,
    family: int,
    resolver: Resolver,
    settings: Settings,
    cache: SelfTestCache,
) -> SelfTest | None:
    if not zone.selftest:
        return None
    cached = cache.get(resolver, asked, family)
    if cached is not None:
        return cached
    positive_point, negative_point = TEST_POINTS[family]
    positive, negative = await asyncio.gather(
        resolver.lookup(query_name(positive_point, asked), "A", zone=zone),
        resolver.lookup(query_name(negative_point, asked), "A", zone=zone),
    )
    negative_reading = _read(zone, negative)
    unreliable = negative.outcome == "answer" and negative_reading.reason not in (
        "resolver_blocked",
        "bad_key",
        "error",
    )
    positive_reading = _read(zone, positive)
    listed: bool | None = None
    if positive.outcome in ("nxdomain", "nodata"):
        listed = False
    elif positive_reading.codes and not positive_reading.reason:
        listed = True
    test = SelfTest(unreliable=unreliable, positive=listed)
    if (
        positive.definite
        and negative.definite
        and not (
            negative_reading.reason in ("resolver_blocked", "bad_key")
            or positive_reading.reason in ("resolver_blocked", "bad_key")
        )
    ):
        cache.put(resolver, asked, family, test, settings.selftest_ttl)
    return test


# ---- the check -------------------------------------------------------------------------------


async def check_dnsbl(
    ip: str,
    resolver: Resolver,
    settings: Settings,
    *,
    cache: SelfTestCache | None = None,
    primed: Primed | None = None,
    reasons: bool = True,
) -> DnsblResult:
    """Ask every catalogue zone about `ip` (IPv4 or IPv6) and judge the answers.

    `reasons=False` skips the TXT question of each listing: a range's table shows which
    lists name an address, not why, and those questions were a third of a listed range's.
    Raises ValueError when `ip` is not an IP address; callers refuse bad input first.
    """
    address = ipaddress.ip_address(ip)
    ip = str(address)
    family = address.version
    cache = cache if cache is not None else SELFTEST_CACHE
    zones = [z for z in settings.catalogue if (z.ipv4 if family == 4 else z.ipv6)]
    skipped = [
        z
        for z in settings.catalogue
        if not (z.ipv4 if family == 4 else z.ipv6) and z.kind != "allow"
    ]
    outcomes = await asyncio.gather(
        *(_ask_zone(ip, family, z, resolver, settings, cache, primed, reasons) for z in zones)
    )
    result = _judge(ip, outcomes, settings, resolver)
    if skipped:
        other, this = ("IPv4", "IPv6") if family == 6 else ("IPv6", "IPv4")
        result.notes.append(
            ngettext(
                "{n} blocklist answers only for {other}: not asked about this {this} address.",
                "{n} blocklists answer only for {other}: not asked about this {this} address.",
                len(skipped),
            ).format(n=len(skipped), other=other, this=this)
        )
    if settings.dqs_key and any(z.dqs_zone for z in zones):
        result.notes.append(
            _("Spamhaus was asked through its Data Query Service (DQS); the key is not shown.")
        )
    return _sanitized(result, settings.dqs_key)


def _judge(
    ip: str, outcomes: list[_ZoneOutcome], settings: Settings, resolver: Resolver
) -> DnsblResult:
    result = DnsblResult(status="ok", summary="")
    advice: list[Advice] = []
    dormant: list[str] = []
    for outcome in outcomes:
        zone, reading, test = outcome.zone, outcome.reading, outcome.selftest
        if reading.reason is not None:
            result.unavailable.append(Unavailable(zone.zone, reading.reason, reading.detail))
            advice.extend(_refusal_advice(zone, reading.reason, resolver))
            continue
        if test is not None and test.unreliable:
            result.unavailable.append(
                Unavailable(
                    zone.zone,
                    "unreliable",
                    _(
                        "the zone lists the RFC 5782 negative test point 127.0.0.1 "
                        "(it answers everything); its answers are ignored"
                    ),
                )
            )
            continue
        if test is not None and test.positive is False and zone.kind != "allow":
            dormant.append(zone.zone)
        meanings = tuple(_(zone.meaning(c)) for c in reading.codes)
        if zone.kind == "allow":
            if reading.codes:
                result.allowed.append(AllowHit(zone.zone, zone.name, reading.codes, meanings))
                result.notes.append(
                    _(
                        "{list} lists the address as a known legitimate sender "
                        "({meanings}): a good sign, not a listing."
                    ).format(list=zone.name, meanings="; ".join(meanings))
                )
            continue
        if not reading.codes:
            result.clean.append(zone.zone)
            continue
        policy_only = all(zone.code_kind(c) == "policy" for c in reading.codes)
        result.listed.append(
            Listing(
                zone=zone.zone,
                list=zone.name,
                codes=reading.codes,
                meanings=meanings,
                txt=outcome.txt,
                lookup_url=zone.lookup_for(ip),
                removal_url=zone.removal_for(ip),
                kind="policy" if policy_only else "reputation",
                tier=zone.tier,
            )
        )
    by_zone = {o.zone.zone: o.zone for o in outcomes}
    blocklists = [o.zone for o in outcomes if o.zone.kind != "allow"]
    down = [u for u in result.unavailable if by_zone[u.zone].kind != "allow"]
    blocking = [item for item in result.listed if item.tier != "informational"]
    reputation = [item for item in blocking if item.kind == "reputation"]
    informational = [item for item in result.listed if item.tier == "informational"]

    for item in reputation:
        advice.append(
            Advice(
                _(
                    "{list} lists {ip} ({meanings}). Find and fix the cause "
                    "(compromised account or machine, open relay, unwanted bulk mail), then "
                    "request removal on the list's page."
                ).format(list=item.list, ip=ip, meanings="; ".join(item.meanings)),
                item.removal_url,
            )
        )
    for item in blocking:
        if item.kind != "policy":
            continue
        # One piece of advice per list, whatever the number of policy codes (PBL's 127.0.0.10
        # and 127.0.0.11 mean the same thing to the sender); a code's own advice wins.
        zone = by_zone[item.zone]
        own = [zone.code(code) for code in item.codes]
        texts = [_(c.advice) for c in own if c is not None and c.advice]
        meaning = "; ".join(dict.fromkeys(item.meanings))
        text = (
            texts[0] if texts else _(POLICY_ADVICE).format(list=item.list, ip=ip, meaning=meaning)
        )
        advice.append(Advice(text, item.lookup_url))
    if dormant:
        result.notes.append(
            ngettext(
                "{zones} does not list the RFC 5782 test point 127.0.0.2: possibly dormant "
                "(its answer is still used).",
                "{zones} do not list the RFC 5782 test point 127.0.0.2: possibly dormant "
                "(their answers are still used).",
                len(dormant),
            ).format(zones=", ".join(dormant))
        )
    if informational:
        names = ", ".join(item.list for item in informational)
        result.notes.append(
            _(
                "Listed on informational lists only few receivers block on ({names}); "
                "worth knowing, not a cause of bounces on its own."
            ).format(names=names)
        )

    major_down = [u for u in down if by_zone[u.zone].tier == "major"]
    status: Status
    if reputation:
        status = "fail"
    elif blocking:
        status = "warn"
    elif len(down) == len(blocklists):  # every list unavailable, or none applies
        status = "error"
    elif major_down:
        status = "warn"
        names = ", ".join(by_zone[u.zone].name for u in major_down)
        result.notes.append(
            _("Could not vouch for the address: {names} could not be checked.").format(names=names)
        )
    else:
        status = "ok"
    result.status = status
    result.summary = _summary(result, len(blocklists), len(down), blocking, reputation)
    result.advice = _unique(advice)
    return result


def _summary(
    result: DnsblResult,
    total: int,
    down: int,
    blocking: list[Listing],
    reputation: list[Listing],
) -> str:
    if not total:
        return _("No blocklist in the catalogue answers for this kind of address")
    if down == total and not result.listed:
        return _("No blocklist could be checked ({down} of {total} unavailable)").format(
            down=down, total=total
        )
    if not result.listed:
        said = ngettext(
            "Clean on {n} of {total} blocklists",
            "Clean on {n} of {total} blocklists",
            len(result.clean),
        ).format(n=len(result.clean), total=total)
    elif blocking and not reputation:
        said = ngettext(
            "Listed on {n} of {total} blocklists, policy listings only",
            "Listed on {n} of {total} blocklists, policy listings only",
            len(result.listed),
        ).format(n=len(result.listed), total=total)
    elif not blocking:
        said = ngettext(
            "Listed on {n} of {total} blocklists, informational lists only",
            "Listed on {n} of {total} blocklists, informational lists only",
            len(result.listed),
        ).format(n=len(result.listed), total=total)
    else:
        said = ngettext(
            "Listed on {n} of {total} blocklists",
            "Listed on {n} of {total} blocklists",
            len(result.listed),
        ).format(n=len(result.listed), total=total)
    if down:
        said += " " + _("({n} could not be checked)").format(n=down)
    return said


def _refusal_advice(zone: Zone, reason: str, resolver: Resolver) -> list[Advice]:
    if reason == "resolver_blocked" and zone.dqs_zone:
        return [
            Advice(
                _(
                    "{list} refused the resolver ({resolver}): Spamhaus does not answer public "
                    "resolvers or those over the free limit. Use a private (non-public) resolver "
                    "of your own, or set SPAMHAUS_DQS_KEY to a free Data Query Service key."
                ).format(list=zone.name, resolver=resolver.description),
                DQS_URL,
            )
        ]
    if reason == "resolver_blocked":
        return [
            Advice(
                _(
                    "{list} refused the resolver ({resolver}) as public or over its query "
                    "limit: use a private (non-public) resolver of your own."
                ).format(list=zone.name, resolver=resolver.description),
                None,
            )
        ]
    if reason == "bad_key":
        return [
            Advice(
                _(
                    "{list} rejected the Data Query Service key: check SPAMHAUS_DQS_KEY "
                    "against the key in your Spamhaus account."
                ).format(list=zone.name),
                DQS_URL,
            )
        ]
    return []


def _unique(items: list[Advice]) -> list[Advice]:
    seen: set[Advice] = set()
    out: list[Advice] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _sanitized(result: DnsblResult, key: str | None) -> DnsblResult:
    """The result with the DQS key scrubbed from every text that could have carried it."""
    if not key:
        return result
    pattern = re.compile(re.escape(key), re.IGNORECASE)

    def scrub(text: str) -> str:
        return pattern.sub("[DQS key]", text)

    result.summary = scrub(result.summary)
    result.notes = [scrub(n) for n in result.notes]
    result.unavailable = [
        Unavailable(u.zone, u.reason, scrub(u.detail)) for u in result.unavailable
    ]
    result.listed = [
        Listing(
            zone=item.zone,
            list=item.list,
            codes=item.codes,
            meanings=item.meanings,
            txt=None if item.txt is None else scrub(item.txt),
            lookup_url=item.lookup_url,
            removal_url=item.removal_url,
            kind=item.kind,
            tier=item.tier,
        )
        for item in result.listed
    ]
    result.advice = [Advice(scrub(a.text), a.url) for a in result.advice]
    return result
