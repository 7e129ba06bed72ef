"""Explain a pasted bounce: who refused the mail, why, and which sending address to check.

Pure text analysis with no DNS: the bot runs the real blocklist, PTR and SPF checks on
the addresses found here. What is recognised (receivers, named lists, reasons) lives in
`bounce_patterns.toml` beside this module. The input is capped and every pattern is
bounded, so hostile or huge pastes cannot make this slow, and nothing from the pasted
text is copied into `summary` or `explanation` except validated addresses, codes and
names from the pattern file (zones only when they are plain host names).
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from handlers.i18n import N_, _
from handlers.results import Advice, CheckResult, Status

Kind = Literal[
    "blocklist",
    "ptr",
    "spf",
    "dkim",
    "dmarc",
    "tls",
    "reputation",
    "policy",
    "recipient",
    "receiver_fault",
    "unknown",
]
IpSource = Literal["rejection", "received_headers"]

#: Only this much of a paste is read; a bounce's facts are at its start.
MAX_SCAN = 100_000
#: Phrases (receiver, lists, reason) are looked for in this much of the rejection text.
PHRASE_SCAN = 32_000
#: At most this many sending addresses are reported.
MAX_IPS = 20
#: At most this many address-shaped tokens are examined (a real bounce has a few dozen).
MAX_CANDIDATES = 500
GMAIL_GUIDELINES = "https://support.google.com/a/answer/81126"
_DKIM_SIGNATURE = re.compile(r"^[ \t>|]{0,8}DKIM-Signature:", re.IGNORECASE)
_FOLDED = re.compile(r"^[ \t>|]{0,8}[ \t]")
_DKIM_TAG = re.compile(
    r"(?:^|;)\s{0,20}([ds])\s{0,20}=\s{0,20}([A-Za-z0-9._-]{1,253})\s{0,20}(?=;|$)", re.I
)
MAX_SIGNATURES = 5
#: Where a rejection names the sender's mail domain, most telling first; group 1 is the name.
_NAMED_DOMAIN = tuple(
    re.compile(p, re.IGNORECASE | re.ASCII)
    for p in (
        r"sending domain \[?([a-z0-9][a-z0-9.-]{0,252})\]?",
        r"Unauthenticated email from ([a-z0-9][a-z0-9.-]{0,252}) is not accepted",
        r"\bSPF \[([a-z0-9][a-z0-9.-]{0,252})\] with ip",
        r"SPF check for \[?([a-z0-9][a-z0-9.-]{0,252})",
        r"\bfrom=<[^<>@\s]{1,64}@([a-z0-9][a-z0-9.-]{0,252})>",
    )
)
_DOMAIN_SHAPE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
#: The summary for text with no address and no known rejection (INTERFACE.md).
NOT_FOUND = N_("I could not find an address or a known rejection in this")

_F = re.IGNORECASE | re.ASCII
_KIND_ORDER: tuple[Kind, ...] = (
    "receiver_fault",
    "ptr",
    "tls",
    "dkim",
    "dmarc",
    "spf",
    "policy",
    "blocklist",
    "recipient",
    "reputation",
)


@dataclass
class BounceResult(CheckResult):
    """What a pasted bounce says. `found` is false when nothing useful was recognised."""

    ips: list[str] = field(default_factory=list)
    reply_code: str | None = None
    enhanced_code: str | None = None
    receiver: str | None = None
    blocklists: list[str] = field(default_factory=list)
    kind: Kind = "unknown"
    explanation: str = ""
    #: The pieces of `explanation` that come from the bounce itself (the receiver, the
    #: lists, domain and addresses it names): a chat shows them quoted, the rest is ours.
    quoted: list[str] = field(default_factory=list)
    #: DNS zones the text names (e.g. zen.spamhaus.org), lower case.
    zones: list[str] = field(default_factory=list)
    #: Where `ips` came from: the rejection itself, or (weaker) the Received headers.
    ip_source: IpSource | None = None
    #: Lists the bounce names that the live check finds clean now ("listed then, clean now").
    clean_now: list[str] = field(default_factory=list)
    found: bool = False
    #: DKIM selectors (s=) of the DKIM-Signature headers pasted with the bounce, with the
    #: signing domain (d=) of each: the DKIM check looks them up instead of guessing.
    dkim_signatures: list[tuple[str, str]] = field(default_factory=list)
    #: The mail domain the bounce names (envelope sender, `from=<...>`, "sending domain [x]",
    #: "SPF check for [domain]", a returned message's Return-Path), lower case, or None.
    domain: str | None = None

    def selectors_for(self, domain: str) -> list[str]:
        """The pasted signatures' selectors for `domain` (its own d=, or a parent's)."""
        domain = domain.lower()
        return [s for d, s in self.dkim_signatures if d == domain or domain.endswith("." + d)]


# --- the pattern file ---------------------------------------------------------------


@dataclass(frozen=True)
class _Receiver:
    name: str
    strong: tuple[re.Pattern[str], ...]
    weak: tuple[re.Pattern[str], ...]
    delist_url: str | None


@dataclass(frozen=True)
class _List:
    name: str
    patterns: tuple[re.Pattern[str], ...]
    lookup_url: str | None
    dead: str | None


@dataclass(frozen=True)
class _Patterns:
    receivers: tuple[_Receiver, ...]
    lists: tuple[_List, ...]
    kinds: dict[Kind, tuple[re.Pattern[str], ...]]
    #: Enhanced status codes that decide the kind on their own.
    kind_codes: dict[str, Kind]
    #: Where the mail domain is named, most telling first; group 1 is a domain or an address.
    sender_domain: tuple[re.Pattern[str], ...]
    #: Where a DSN or log names the host that refused the mail; group 1 is its name.
    remote_mta: tuple[re.Pattern[str], ...]
    #: Local parts of addresses that are the bounce's own, never the sender's.
    not_senders: frozenset[str]


def _compile(items: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, _F) for p in items)


@lru_cache(maxsize=1)
def _patterns() -> _Patterns:
    """Load and compile `bounce_patterns.toml` once."""
    raw = resources.files("handlers").joinpath("bounce_patterns.toml").read_text("utf-8")
    data: dict[str, Any] = tomllib.loads(raw)
    receivers = tuple(
        _Receiver(
            name=r["name"],
            strong=_compile(r.get("strong", [])),
            weak=_compile(r.get("weak", [])),
            delist_url=r.get("delist_url"),
        )
        for r in data["receiver"]
    )
    lists = tuple(
        _List(
            name=b["name"],
            patterns=_compile(b["patterns"]),
            lookup_url=b.get("lookup_url"),
            dead=b.get("dead"),
        )
        for b in data["blocklist"]
    )
    kinds = {k: _compile(data["kinds"][k]) for k in _KIND_ORDER}
    kind_codes: dict[str, Kind] = {}
    for code, kind in data.get("kind_codes", {}).items():
        if kind not in _KIND_ORDER:
            raise ValueError(f"bounce_patterns.toml: kind_codes {code!r}: unknown kind {kind!r}")
        kind_codes[code] = kind
    domain = data["sender_domain"]
    return _Patterns(
        receivers,
        lists,
        kinds,
        kind_codes,
        sender_domain=tuple(re.compile(p, _F | re.MULTILINE) for p in domain["patterns"]),
        remote_mta=tuple(re.compile(p, _F | re.MULTILINE) for p in data["remote_mta"]["patterns"]),
        not_senders=frozenset(x.lower() for x in domain["not_senders"]),
    )


# --- splitting the paste --------------------------------------------------------------

# Where the returned original message starts: what follows is the sender's own mail.
_RETURNED = re.compile(
    r"^[ \t>|-]*(?:-{2,} ?)?(?:This is a copy of the message|Below this line is a copy"
    r"|Original message headers:|Undelivered Message Headers"
    r"|Content-Type: ?(?:message/rfc822|text/rfc822-headers))",
    _F | re.MULTILINE,
)
_RECEIVED = re.compile(r"^[ \t>|-]{0,8}Received:", _F)
_CONTINUATION = re.compile(r"^[ \t>|-]{0,8}[ \t]+\S")
_HEADER_START = re.compile(r"^[ \t>|-]{0,8}[A-Za-z][A-Za-z0-9-]{0,40}:")
_AUTHENTICATED_HOP = re.compile(
    r"esmtpsa|esmtpa|\bauthenticated\b|with (?:http|mapi|local|lmtp)\b|\blocalhost\b"
    r"|from userid",
    _F,
)


def _received_headers(text: str) -> tuple[str, list[str]]:
    """The text with Received headers blanked out, and those headers (in order).

    Received headers describe the sender's own path, not the rejection, so they are
    kept apart and only used when the rejection itself names no address.
    """
    lines = text.split("\n")
    headers: list[str] = []
    current: list[str] | None = None
    for i, line in enumerate(lines):
        if _RECEIVED.match(line):
            if current is not None:
                headers[-1] = " ".join(current)
            current = [line]
            headers.append("")
            lines[i] = ""
        elif (
            current is not None
            and len(current) < 8
            and _CONTINUATION.match(line)
            and not _HEADER_START.match(line)
        ):
            current.append(line)
            lines[i] = ""
        else:
            if current is not None:
                headers[-1] = " ".join(current)
            current = None
    if current is not None:
        headers[-1] = " ".join(current)
    return "\n".join(lines), headers


_CONTINUATION_CODE = re.compile(r"(?<=\S) [45][0-9]{2}[ -][245]\.[0-9]{1,3}\.[0-9]{1,3} ")


def _flatten(text: str) -> str:
    """Whitespace collapsed and Gmail-style `550-5.7.1` line prefixes removed, for phrases."""
    flat = " ".join(text.split())
    return _CONTINUATION_CODE.sub(" ", flat)


# --- codes ----------------------------------------------------------------------------

_REPLY = r"(?:42[01]|45[0-5]|47[0-9]|5[05][0-9]|53[0-9]|57[0-9])"
_PAIR = re.compile(
    rf"(?<![\w.:/=+-])({_REPLY})[ \t-]{{1,3}}#?([45]\.[0-9]{{1,3}}\.[0-9]{{1,3}})(?![0-9]|\.[0-9])",
    _F,
)
_CODE_ALONE = re.compile(rf"(?<![\w.:/=+-])({_REPLY})(?=[ \t-]{{1,3}}[^\s0-9])", _F)
_ENHANCED_FIELD = re.compile(
    r"(?:Status: ?|dsn=|#|\()([45]\.[0-9]{1,3}\.[0-9]{1,3})(?![0-9]|\.[0-9])", _F
)
_ENHANCED_ALONE = re.compile(r"(?<![\w.])([45]\.[0-7]\.[0-9]{1,3})(?![0-9]|\.[0-9])", _F)


def _codes(text: str) -> tuple[str | None, str | None]:
    """The receiver's reply code and enhanced status code, the first ones that agree."""
    for m in _PAIR.finditer(text):
        if m.group(1)[0] == m.group(2)[0]:
            return m.group(1), m.group(2)
    alone = _CODE_ALONE.search(text)
    reply = alone.group(1) if alone else None
    enhanced_match = _ENHANCED_FIELD.search(text) or _ENHANCED_ALONE.search(text)
    enhanced = enhanced_match.group(1) if enhanced_match else None
    if reply and enhanced and reply[0] != enhanced[0]:
        enhanced = None
    return reply, enhanced


# --- addresses ------------------------------------------------------------------------

_IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])")
_IPV6 = re.compile(
    r"(?<![0-9A-Za-z:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
    r"(?:(?<=:)[0-9]{1,3}(?:\.[0-9]{1,3}){3})?(?![0-9A-Za-z:])"
)
# Just before an address that belongs to the receiver (or its resolver).
_RECEIVER_PRE = re.compile(
    r"(?:(?<![\w.-])(?<!client )host:? (?:[\w.-]+\.? ?)?[\[(]|\brelay=[\w.-]+\[|\bconnected to "
    r"|\bconnect to [\w.-]+\[|returnc/\w{1,10}/|while talking to [\w.-]+\.?:? ?\[?)\Z",
    _F,
)
_EXIM_HOST_PRE = re.compile(r"\bH=(?:[\w.-]+ ?)?(?:\([^()\n]{0,80}\) ?)?\[\Z", _F)
_EXIM_DELIVERY_LINE = re.compile(r"\bT=\S|\s(?:\*\*|==|=>|->)\s", _F)
# Just before an address the rejection is about.
_SENDER_PRE = re.compile(
    r"(?:[\[(]|\b(?:ip(?: address)?|address|client(?: host)?|from|because|sender|source"
    r"|server|mta) ?[:=]? ?(?:[\w.-]+ ?)?[\[(]?|[?&](?:ip|ipr|query|searchterm)="
    r"|/ip/|\?\\?)\Z",
    _F,
)
# Just after an address the rejection is about.
_SENDER_POST = re.compile(
    r"\A\]?(?::[0-9]{1,5})? (?:is (?:not (?:yet )?(?:allowed|authorized)|in an? |listed"
    r"|blocked|blacklisted)|address has|was (?:blocked|rejected))",
    _F,
)

Context = Literal["receiver", "sender", "none"]


def _valid_ip(candidate: str) -> str | None:
    """The canonical form of a public address, or None (invalid, private, reserved...)."""
    try:
        ip = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    return str(ip) if ip.is_global and not ip.is_multicast else None


def _candidates(text: str) -> list[tuple[int, int, str]]:
    found = [(m.start(), m.end(), m.group()) for m in _IPV4.finditer(text)]
    found += [(m.start(), m.end(), m.group()) for m in _IPV6.finditer(text) if ":" in m.group()]
    found.sort()
    return found[:MAX_CANDIDATES]


def _context(text: str, start: int, end: int) -> Context:
    pre_tail = re.sub(r"\s+", " ", text[max(0, start - 100) : start])
    if _RECEIVER_PRE.search(pre_tail):
        return "receiver"
    if _EXIM_HOST_PRE.search(pre_tail):
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line = text[line_start : line_end if line_end != -1 else len(text)][:2000]
        return "receiver" if _EXIM_DELIVERY_LINE.search(line) else "sender"
    post = re.sub(r"\s+", " ", text[end : end + 60])
    if _SENDER_PRE.search(pre_tail) or _SENDER_POST.search(post):
        return "sender"
    return "none"


#: How far after a reply code the rejection sentence reaches (a wrapped DSN line or two).
_REJECTION_REACH = 400


def _rejection_spans(text: str) -> list[tuple[int, int]]:
    """Where the receiver's own words are: from each reply code to the end of its paragraph."""
    spans: list[tuple[int, int]] = []
    for m in (*_PAIR.finditer(text), *_CODE_ALONE.finditer(text)):
        limit = m.start() + _REJECTION_REACH
        end = text.find("\n\n", m.start(), limit)
        spans.append((m.start(), limit if end == -1 else end))
    return spans


def _sending_ips(text: str) -> tuple[list[str], set[str]]:
    """Public addresses the rejection is about, and the receiver's own addresses.

    An address with a word before or after it that says whose it is goes where that word
    says. One with no such word counts as the sender's when it stands in the rejection
    itself (after the reply code): a receiver names the client it refuses far more often
    than itself, and marks its own address when it does (`host X[...] said`).
    """
    receiver: set[str] = set()
    sender: list[str] = []
    unmarked: list[str] = []
    spans: list[tuple[int, int]] | None = None
    for start, end, raw in _candidates(text):
        ip = _valid_ip(raw)
        if ip is None:
            continue
        where = _context(text, start, end)
        if where == "receiver":
            receiver.add(ip)
        elif where == "sender" and ip not in sender:
            sender.append(ip)
        elif where == "none" and not sender and ip not in unmarked:
            spans = _rejection_spans(text) if spans is None else spans
            if any(a <= start < b for a, b in spans):
                unmarked.append(ip)
    chosen = sender or unmarked
    return [ip for ip in chosen if ip not in receiver][:MAX_IPS], receiver


def _received_ips(headers: Sequence[str], exclude: set[str]) -> list[str]:
    """Public addresses in the `from` part of unauthenticated Received hops, top first."""
    out: list[str] = []
    for header in headers:
        if _AUTHENTICATED_HOP.search(header):
            continue
        from_part = re.split(r"\bby\b", header, maxsplit=1, flags=_F)[0]
        for _start, _end, raw in _candidates(from_part):
            ip = _valid_ip(raw)
            if ip and ip not in exclude and ip not in out:
                out.append(ip)
    return out[:MAX_IPS]


# --- what the text names --------------------------------------------------------------

_ZONE = r"([a-z0-9][a-z0-9-]{0,62}(?:\.[a-z0-9-]{1,63}){1,6}\.[a-z]{2,24})"
_ZONE_CONTEXTS = (
    re.compile(rf"blocked using {_ZONE}", _F),
    re.compile(rf"black ?list at {_ZONE}", _F),
    re.compile(rf"listed (?:in|on|at|by) {_ZONE}", _F),
    re.compile(rf"black ?list server '?{_ZONE}", _F),
    re.compile(rf"\bin an RBL(?: on)?:? {_ZONE}", _F),
    re.compile(r"\b((?:zen|sbl|xbl|pbl|sbl-xbl|dbl)\.spamhaus\.org)\b", _F),
    re.compile(r"\b(b\.barracudacentral\.org|bl\.spamcop\.net|cbl\.abuseat\.org)\b", _F),
    re.compile(r"\b(dnsbl-[123]\.uceprotect\.net|dnsbl\.sorbs\.net)\b", _F),
)


def _zones(flat: str) -> list[str]:
    out: list[str] = []
    for pattern in _ZONE_CONTEXTS:
        for m in pattern.finditer(flat):
            zone = m.group(1).lower().rstrip(".")
            if _valid_ip(zone) is None and not re.fullmatch(r"[0-9.]+", zone) and zone not in out:
                out.append(zone)
    return out


def _receiver(flat: str, strong: _Receiver | None = None) -> _Receiver | None:
    """The system named by its own wording (strong), else by a hint such as a domain (weak)."""
    strong = strong or _strong_receiver(flat)
    if strong is not None:
        return strong
    for r in _patterns().receivers:
        if any(p.search(flat) for p in r.weak):
            return r
    return None


def _strong_receiver(flat: str) -> _Receiver | None:
    for r in _patterns().receivers:
        if any(p.search(flat) for p in r.strong):
            return r
    return None


_HOST_NAME = re.compile(r"(?=.{4,253}\Z)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", _F)


def _remote_mta(text: str) -> str | None:
    """The host that refused the mail, as a DSN or log names it (Remote-MTA, `host X said`).

    The Reporting-MTA is the sender's own server and is never the answer.
    """
    for pattern in _patterns().remote_mta:
        for m in pattern.finditer(text[:PHRASE_SCAN]):
            name = m.group(1).lower().rstrip(".")
            if _HOST_NAME.fullmatch(name):
                return name
    return None


def _who(head: str, strong: _Receiver | None, fallback: _Receiver | None) -> str | None:
    """The receiver's name: its vendor when its wording shows it, else the remote host.

    MTA software (Postfix, Exim) names the receiver only when nothing says which host it
    was: in a DSN the sender's own MTA writes the report, and its wording must not be
    taken for the receiver.
    """
    if strong is not None and strong.name not in _SOFTWARE:
        return strong.name
    remote = _remote_mta(head)
    if remote is not None:
        return remote
    return fallback.name if fallback else None


_MAIL_DOMAIN = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]", _F
)


def _mail_domain(head: str, text: str) -> str | None:
    """The sender's mail domain the bounce names, in the order the pattern file gives.

    The rejection itself is read first, then the whole paste (a returned message's
    Return-Path or From). A null sender (`<>`) and the bounce's own addresses
    (MAILER-DAEMON@...) are not the sender.
    """
    patterns = _patterns()
    first, whole = head[:PHRASE_SCAN], text[:PHRASE_SCAN]
    for source in (first, whole) if whole != first else (first,):
        for pattern in patterns.sender_domain:
            for m in pattern.finditer(source):
                found = m.group(1).strip().strip("<>[]\"'").rstrip(".")
                local, at, domain = found.rpartition("@")
                if at and local.lower() in patterns.not_senders:
                    continue
                domain = domain.lower()
                if len(domain) <= 253 and _MAIL_DOMAIN.fullmatch(domain) and "." in domain:
                    return domain
    return None


def _lists(flat: str, zones: Sequence[str]) -> tuple[list[_List], list[str]]:
    """Named lists, and the names to report (unknown zones are reported as themselves)."""
    named = [b for b in _patterns().lists if any(p.search(flat) for p in b.patterns)]
    names = [b.name for b in named]
    for zone in zones:
        known = any(any(p.search(zone) for p in b.patterns) for b in _patterns().lists)
        if not known and zone not in names:
            names.append(zone)
    return named, names


#: Enhanced codes about the sender's own address (RFC 3463 X.1.7, X.1.8), not the recipient.
_SENDER_ADDRESS_CODES = re.compile(r"[45]\.1\.[78]\Z")
_RECIPIENT_CODES = re.compile(r"[45]\.[12]\.[0-9]{1,3}\Z")


def _kind(flat: str, named: Sequence[_List], enhanced: str | None = None) -> Kind:
    """A dead list first, then a recipient code (X.1.x, X.2.x: the address or mailbox), then
    a code that says why on its own, then the phrases in order."""
    if (
        enhanced
        and _RECIPIENT_CODES.match(enhanced)
        and not _SENDER_ADDRESS_CODES.match(enhanced)
        and not named
    ):
        return "recipient"
    kinds = _patterns().kinds
    if any(b.dead for b in named):
        return "receiver_fault"
    coded = _patterns().kind_codes.get(enhanced or "")
    if coded is not None:
        return coded
    for kind in _KIND_ORDER:
        if kind == "receiver_fault" and any(b.dead for b in named):
            return kind
        if kind == "blocklist" and named:
            return kind
        if any(p.search(flat) for p in kinds[kind]):
            return kind
    return "unknown"


# --- wording --------------------------------------------------------------------------

_ENHANCED_MEANINGS = {
    "5.7.0": N_("other security or policy problem"),
    "4.7.0": N_("other security or policy problem"),
    "5.7.1": N_("delivery not authorized, message refused"),
    "4.7.1": N_("delivery not authorized, message refused"),
    "5.7.2": N_("mailing list expansion prohibited"),
    "5.7.23": N_("SPF validation failed"),
    "5.7.25": N_("reverse DNS validation failed"),
    "4.7.25": N_("reverse DNS validation failed"),
    "5.7.26": N_("several authentication checks failed"),
    "5.7.509": N_("the sending domain fails DMARC and publishes a reject policy"),
    "5.7.606": N_("banned sending IP"),
    "4.7.650": N_("temporarily rate limited due to IP reputation"),
    "5.7.708": N_("traffic not accepted from this IP"),
    "5.1.1": N_("the recipient address does not exist"),
    "5.2.2": N_("the recipient's mailbox is full"),
}


#: Receivers named after MTA software rather than an operator: said as "the receiving server".
_SOFTWARE = frozenset({"Postfix", "Exim"})


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return _("{items} and {last}").format(items=", ".join(items[:-1]), last=items[-1])


def _codes_text(reply: str | None, enhanced: str | None) -> str:
    return " ".join(c for c in (reply, enhanced) if c)


def _status(reply: str | None, enhanced: str | None, flat: str) -> Status:
    cls = reply[0] if reply else (enhanced[0] if enhanced else None)
    if cls == "5":
        return "fail"
    if cls == "4":
        return "warn"
    if re.search(r"defer|temporar|try again later", flat, _F):
        return "warn"
    return "fail"


def _summary(
    status: Status, who: str | None, ips: Sequence[str], codes: str, kind: Kind, names: list[str]
) -> str:
    refused = status == "fail" or kind == "recipient"
    sender = " " + _("from {ips}").format(ips=_join(ips)) if ips else ""
    code = f" ({codes})" if codes else ""
    reasons: dict[Kind, str] = {
        "blocklist": (
            _("listed on {lists}").format(lists=_join(names))
            if names
            else _("on the receiver's own block list")
        ),
        "ptr": _("reverse DNS (PTR) problem"),
        "spf": _("SPF did not pass"),
        "dkim": _("DKIM did not pass"),
        "dmarc": _("sender authentication (DMARC, SPF/DKIM alignment) failed"),
        "tls": _("the receiver wants the mail sent over TLS"),
        "reputation": _("the receiver's own reputation data or rate limits"),
        "policy": _("the address may not send directly; send through the provider's relay"),
        "recipient": _("the recipient's address or mailbox; nothing is wrong with your server"),
        "receiver_fault": _("the receiver's own fault, not a listing of the sender"),
        "unknown": _("no reason I recognise"),
    }
    if who in _SOFTWARE:
        subject = _("The receiving server ({software})").format(software=who)
    else:
        subject = who or _("The receiver")
    said = (
        _("{subject} refused mail{sender}{codes}: {reason}")
        if refused
        else _("{subject} deferred mail{sender}{codes}: {reason}")
    )
    return said.format(subject=subject, sender=sender, codes=code, reason=reasons[kind])


def _explanation(
    *,
    status: Status,
    who: str | None,
    ips: Sequence[str],
    ip_source: IpSource | None,
    reply: str | None,
    enhanced: str | None,
    kind: Kind,
    named: Sequence[_List],
    names: Sequence[str],
    domain: str | None = None,
) -> str:
    receiver = who or _("The receiving server")
    if who in _SOFTWARE:
        receiver = _("The receiving server ({software})").format(software=who)
    addr = _join(ips) if ips else _("the sending address")
    parts: list[str] = []

    codes = _codes_text(reply, enhanced)
    permanent = status == "fail" or (kind == "recipient" and (reply or enhanced or "5")[0] == "5")
    said = (
        _("{receiver} refused the message permanently")
        if permanent
        else _("{receiver} deferred the message")
    ).format(receiver=receiver)
    if codes:
        meaning = _ENHANCED_MEANINGS.get(enhanced or "")
        said += (
            " " + _("with {codes}").format(codes=codes) + (f" ({_(meaning)})" if meaning else "")
        )
    if not permanent:
        said += "; " + _(
            "that is a temporary refusal, so the sending server retries until it gives up"
        )
    parts.append(said + ".")

    spamhaus = any(b.name == "Spamhaus" for b in named)
    if kind == "blocklist":
        if names:
            parts.append(
                _(
                    "It names {value}: the receiver looked {addr} up on that list and found it listed."
                ).format(value=_join(list(names)), addr=addr)
            )
            if spamhaus:
                parts.append(
                    _(
                        "On Spamhaus, a PBL (policy) listing is expected for a provider's egress addresses and means the mail should be sent authenticated through the provider's smarthost, not that the address is bad; ask for PBL removal only if this server is meant to send directly. An SBL, XBL or CSS listing is a reputation problem: find the cause (an infected machine, a compromised account, an open relay), fix it, then request removal on Spamhaus's site."
                    )
                )
            else:
                parts.append(
                    _(
                        "Confirm the listing and its reason on the list's own lookup page, fix what caused it, then use the list's removal form."
                    )
                )
        else:
            parts.append(
                _(
                    "{receiver} keeps its own block list and {addr} (or its network) is on it; public blocklists may well be clean. Fix what caused it (a compromised account, a bulk mailing, spam traps), then ask {receiver} to lift the block."
                ).format(receiver=receiver, addr=addr)
            )
    elif kind == "ptr":
        parts.append(
            _(
                "The receiver requires {addr} to have a reverse DNS (PTR) record whose name resolves back to the same address, and it does not. Ask whoever operates the address (the network operator or hosting provider, not the domain registrar) to set a PTR to the mail server's name, and make that name resolve back to the address. Where the operator cannot provide PTR records (some regions cannot), send through a relay that has one."
            ).format(addr=addr)
        )
    elif kind == "spf":
        parts.append(
            _(
                "The receiver checked the sender's domain and the message failed SPF or sender authentication (DKIM, DMARC): {addr} is not among the servers the domain's SPF record allows, or the message is unauthenticated. Add the address (ip4:/ip6:, or an include: for the relay) to the domain's SPF record, or send through a server the record already lists, and sign with DKIM where the receiver requires it."
            ).format(addr=addr)
        )
    elif kind == "dkim":
        parts.append(
            _(
                "The receiver wants the message signed with DKIM by the sender's domain, and no valid signature passed: the key is missing from DNS at the selector the signature names, revoked or too short, or the message was changed after signing (a footer added by a relay). Check the key at the s= selector of the DKIM-Signature, and make sure the mail platform signs every message with it."
            )
        )
    elif kind == "dmarc":
        parts.append(
            _(
                "The receiver enforces sender authentication: Gmail, Yahoo and Microsoft require SPF or DKIM to pass for the From domain, and from bulk senders a DMARC record (at least p=none) with SPF or DKIM aligned to the From domain. The message did not meet that: check the domain's DMARC record, that SPF passes for {addr} with an envelope domain under the From domain, and that DKIM signs with the From domain (d=)."
            ).format(addr=addr)
        )
    elif kind == "tls":
        parts.append(
            _(
                "The receiver wants mail delivered over an encrypted (TLS) connection and this one was not. Enable STARTTLS for outgoing mail on the sending server (Postfix: smtp_tls_security_level = may), with a working TLS library and CA certificates."
            )
        )
    elif kind == "policy":
        parts.append(
            _(
                "The receiver does not take mail straight from {addr}: it is an address that should send through its provider's relay (often it is on the Spamhaus PBL). That says nothing bad about its reputation. Send through the provider's smarthost with SMTP AUTH, or, if this server really is meant to send directly, ask the provider to allow it and then have the PBL listing removed."
            ).format(addr=addr)
        )
    elif kind == "recipient":
        parts.append(
            _(
                "The refusal is about the recipient, not the sender: the address does not exist there, or its mailbox is full or disabled. Nothing is wrong with your server, its address or its domain. Check the recipient's address for typos and confirm it with them by other means; a full mailbox clears when its owner makes room."
            )
        )
    elif kind == "reputation":
        parts.append(
            _(
                "{receiver} is limiting or refusing {addr} on its own reputation data (volume, complaints, spam traps), so public blocklists may be clean. Check what the server has been sending (a compromised account, a bulk mailing), slow down, and use {receiver}'s sender support to ask for mitigation once the cause is fixed."
            ).format(receiver=receiver, addr=addr)
        )
    elif kind == "receiver_fault":
        dead = [b.dead for b in named if b.dead]
        if dead:
            parts.append(
                _(
                    "This is the receiver's own fault, not a listing of {addr}: {dead}, and the receiver still rejects mail on it. Send its postmaster the bounce and ask them to remove that list from their configuration."
                ).format(addr=addr, dead="; ".join(dead))
            )
        else:
            parts.append(
                _(
                    "This is the receiver's own fault, not a listing of {addr}: its DNS resolver is refused by Spamhaus (a public or shared resolver, or over the free query limit), and it treats the error answer as a listing, so it rejects everyone. Nothing needs fixing on the sending side; send the receiver's postmaster the bounce and ask them to query through their own resolver or a Spamhaus DQS key."
                ).format(addr=addr)
            )
    else:
        parts.append(
            _(
                "The text does not name a blocklist, reverse DNS, SPF or a reputation limit as the reason, so I will not guess one."
            )
        )

    if ips and ip_source == "received_headers":
        parts.append(
            _(
                "The rejection itself names no sending address; {addr} comes from the returned message's Received headers and may be a hop before the server that was refused."
            ).format(addr=addr)
        )
    elif not ips and kind not in ("unknown", "recipient"):
        parts.append(
            _(
                "The text names no sending address: find it in the sending server's log or ask the sender which server sent the message, then check that address."
            )
        )
    elif ips and domain:
        parts.append(
            _(
                "The checks that follow look {addr} up on the blocklists and PTR, and check {domain}'s SPF for it."
            ).format(addr=addr, domain=domain)
        )
    elif ips:
        parts.append(
            _("The checks that follow look {addr} up on the blocklists and PTR.").format(addr=addr)
        )
    elif domain and kind != "recipient":
        parts.append(
            _("The checks that follow review {domain}'s SPF record.").format(domain=domain)
        )
    return " ".join(parts)


def _advice(
    kind: Kind, ips: Sequence[str], receiver: _Receiver | None, named: Sequence[_List]
) -> list[Advice]:
    out: list[Advice] = []
    ip = ips[0] if ips else None
    if kind in ("blocklist", "policy"):
        for b in named:
            if b.lookup_url and not b.dead:
                url = b.lookup_url.replace("{ip}", ip) if ip else None
                if url is None and "{ip}" not in b.lookup_url:
                    url = b.lookup_url
                text = _("Look the address up on {name}").format(name=b.name)
                out.append(Advice(text, url, pointer=True))
    if kind in ("blocklist", "reputation") and receiver and receiver.delist_url:
        out.append(
            Advice(
                _("Ask {name} to lift its block").format(name=receiver.name), receiver.delist_url
            )
        )
    if kind == "ptr":
        out.append(Advice(_("Ask the address's network operator to set a PTR record")))
    if kind == "spf":
        out.append(Advice(_("Add the sending address to the domain's SPF record")))
    if kind in ("dkim", "dmarc"):
        out.append(
            Advice(
                _(
                    "Meet the receivers' sender authentication rules: SPF and DKIM for the From domain, and a DMARC record (at least p=none) with one of them aligned"
                ),
                GMAIL_GUIDELINES,
            )
        )
    if kind == "tls":
        out.append(Advice(_("Turn on STARTTLS for outgoing mail on the sending server")))
    if kind == "policy":
        out.append(Advice(_(SMARTHOST_ADVICE)))
    if kind == "receiver_fault":
        out.append(Advice(_("Send the bounce to the receiver's postmaster: the fault is theirs")))
    if kind == "recipient":
        out.append(Advice(_("Check the recipient's address with them: the sending side is fine")))
    return out


# --- DKIM signatures -----------------------------------------------------------------


def dkim_signatures(text: str) -> list[tuple[str, str]]:
    """(d=, s=) of each DKIM-Signature header in the paste (the returned message included)."""
    found: list[tuple[str, str]] = []
    lines = text[:MAX_SCAN].splitlines()
    for index, line in enumerate(lines):
        if not _DKIM_SIGNATURE.match(line):
            continue
        parts = [line.split(":", 1)[1]]
        for following in lines[index + 1 : index + 40]:
            if not _FOLDED.match(following):
                break
            parts.append(following.lstrip(" \t>|"))
        field_text = " ".join(p.strip() for p in parts)[:4000]
        tags = {
            m.group(1).lower(): m.group(2).lower().rstrip(".")
            for m in _DKIM_TAG.finditer(field_text)
        }
        if "d" in tags and "s" in tags and (tags["d"], tags["s"]) not in found:
            found.append((tags["d"], tags["s"]))
        if len(found) >= MAX_SIGNATURES:
            break
    return found


def named_domain(flat: str, signatures: Sequence[tuple[str, str]]) -> str | None:
    """The sender's mail domain the rejection names, else the d= of a pasted signature."""
    for pattern in _NAMED_DOMAIN:
        match = pattern.search(flat)
        if match:
            name = match.group(1).lower().rstrip(".")
            if _DOMAIN_SHAPE.match(name):
                return name
    return signatures[0][0] if signatures and _DOMAIN_SHAPE.match(signatures[0][0]) else None


# --- the entry point ------------------------------------------------------------------


def explain_bounce(text: str) -> BounceResult:
    """Read a pasted bounce, DSN or log line and say what it means.

    Never raises for any str; reads at most the first MAX_SCAN characters.
    """
    text = text[:MAX_SCAN]
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = re.sub(r"IPv6:", "IPv6 ", text, flags=_F)
    cut = _RETURNED.search(text)
    head = text[: cut.start()] if cut else text
    head, _received = _received_headers(head)
    _head, all_received = _received_headers(text)
    flat = _flatten(head)[:PHRASE_SCAN]

    reply, enhanced = _codes(head)
    zones = _zones(flat)
    strong = _strong_receiver(flat)
    receiver = _receiver(flat, strong)
    named, names = _lists(flat, zones)
    kind = _kind(flat, named, enhanced)

    ips, receiver_ips = _sending_ips(head)
    ip_source: IpSource | None = "rejection" if ips else None
    if not ips and kind not in ("unknown", "recipient"):
        ips = _received_ips(all_received, receiver_ips)
        ip_source = "received_headers" if ips else None

    who = _who(head, strong, receiver)
    found = bool(ips) or kind != "unknown"
    if not found:
        return BounceResult(
            status="warn",
            summary=_(NOT_FOUND),
            reply_code=reply,
            enhanced_code=enhanced,
            receiver=who,
            kind="unknown",
            explanation=_(
                "I could not find a sending address or a rejection I recognise (a blocklist, "
                "reverse DNS, SPF, a reputation limit) in this text, so I will not guess. "
                "Paste the full bounce, including the line with the receiver's reply code."
            ),
            found=False,
        )

    status: Status = _status(reply, enhanced, flat) if kind != "unknown" else "warn"
    if kind == "recipient":
        status = "warn"  # the mail was not delivered, but the sending server is not at fault
    signatures = dkim_signatures(text)
    domain = named_domain(flat, ()) or _mail_domain(head, text) or named_domain("", signatures)
    return BounceResult(
        status=status,
        summary=_summary(status, who, ips, _codes_text(reply, enhanced), kind, names),
        ips=ips,
        reply_code=reply,
        enhanced_code=enhanced,
        receiver=who,
        blocklists=names,
        kind=kind,
        explanation=_explanation(
            status=status,
            who=who,
            ips=ips,
            ip_source=ip_source,
            reply=reply,
            enhanced=enhanced,
            kind=kind,
            named=named,
            names=names,
            domain=domain,
        ),
        quoted=[q for q in (who, *names, domain, *ips) if q],
        zones=zones,
        ip_source=ip_source,
        domain=domain,
        found=True,
        dkim_signatures=signatures,
        advice=_advice(kind, ips, receiver, named),
    )


# --- the bounce against the live check ---------------------------------------------------

SMARTHOST_ADVICE = N_("Send through the provider's smarthost with SMTP AUTH")


def _zones_named(bounce: BounceResult, asked: Iterable[str]) -> dict[str, list[str]]:
    """Each list the bounce names -> the catalogue zones that are that list."""
    asked = list(asked)
    out: dict[str, list[str]] = {}
    for b in _patterns().lists:
        if b.name not in bounce.blocklists or b.dead:
            continue
        zones = [z for z in asked if any(p.search(z) for p in b.patterns)]
        if zones:
            out[b.name] = zones
    for zone in bounce.zones:
        if zone in asked and not any(zone in zs for zs in out.values()):
            out[zone] = [zone]
    return out


def compare_with_live(
    bounce: BounceResult,
    ip: str,
    listed: Iterable[str],
    clean: Iterable[str],
    *,
    policy_listed: bool = False,
) -> BounceResult:
    """The bounce, saying which lists it names no longer list `ip` by the live check.

    A receiver that refused mail on a list the address is clean on now saw an older
    listing (it has expired since, or the receiver caches answers): the sender may only
    have to retry. `listed` and `clean` are the zones the live check found each way.
    """
    listed, clean = set(listed), set(clean)
    if policy_listed:
        # The live check's policy advice says the same thing for this very address: once.
        bounce = replace(bounce, advice=[a for a in bounce.advice if a.text != _(SMARTHOST_ADVICE)])
    named = _zones_named(bounce, listed | clean)
    now_clean = [name for name, zones in named.items() if all(z in clean for z in zones) and zones]
    if not now_clean:
        return bounce
    lists = _join(now_clean)
    note = _(
        "Listed then, clean now: {lists} no longer lists {ip}. The listing has expired "
        "since the bounce, or the receiver caches its answers; retry, and if the receiver "
        "still refuses, ask it to clear its cache."
    ).format(lists=lists, ip=ip)
    return replace(bounce, explanation=f"{bounce.explanation} {note}", clean_now=now_clean)
