"""The one command grammar, shared by `/smtpcheck` in Slack and `smtpcheck` in the terminal.

`parse` turns the words after the command into a typed `Command`, or raises
`UsageError` with one sentence a person can act on. It does no DNS: names are
resolved later, so Slack can acknowledge before anything slow happens.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.paste import NotAName, a_label, clean, host_and_port, mail_domain, strip_invisible
from bot.untrusted import visible
from handlers import i18n
from handlers.i18n import N_, _, ngettext
from handlers.numbers import port_number
from handlers.ranges import MIN_PREFIX, RangeError, looks_like_range, parse_range
from handlers.settings import SMTP_PORTS
from handlers.targets import non_global_reason, reason_phrase

USAGE = N_("""\
/smtpcheck IP [DOMAIN]            full check: blocklists, PTR + forward confirmation; with DOMAIN
                                  also SPF for this IP, DMARC and DKIM of DOMAIN
/smtpcheck HOSTNAME [DOMAIN]      the same for every address the name resolves to
/smtpcheck bl IP                  blocklists only
/smtpcheck [bl] IP/PREFIX         blocklists for every address of an IPv4 range, /24 to /32
/smtpcheck ptr IP                 reverse DNS only
/smtpcheck spf DOMAIN [IP]        SPF record review; with IP, evaluate that sender
/smtpcheck dmarc DOMAIN [IP]      DMARC policy (RFC 9989 tree walk); with IP, whether SPF aligns
/smtpcheck dkim DOMAIN [SELECTOR...]  DKIM keys at those selectors, or at the common ones
/smtpcheck smtp HOST [PORT]       SMTP probe: connect, banner, EHLO, STARTTLS; sends no mail
/smtpcheck mx DOMAIN              the domain's MX hosts, each probed
/smtpcheck egress [EXPECTED_IP]   the address SMTP really leaves from, checked
/smtpcheck bounce TEXT            explain a pasted bounce / rejection and check what it names
/smtpcheck watch IP [DOMAIN] [every 15m]   re-check on a schedule, report changes in the thread
/smtpcheck watch                  list this channel's watches and monitors
/smtpcheck unwatch IP
/smtpcheck monitor RANGE|POOL [every 1h]   blocklists of a whole range (up to /22) or egress pool, changes only
/smtpcheck unmonitor RANGE|POOL
/smtpcheck history IP
/smtpcheck help""")

EXAMPLES = (
    "/smtpcheck 51.158.10.22 example.com",
    "/smtpcheck dmarc example.com 51.158.10.22",
    "/smtpcheck mail.example.com",
    "/smtpcheck spf example.com 51.158.10.22",
    "/smtpcheck watch 51.158.10.22 every 30m",
)

MIN_WATCH_MINUTES = 5
DEFAULT_WATCH_MINUTES = 15
MAX_WATCH_MINUTES = 24 * 60
MAX_TEXT = 40_000
MIN_MONITOR_MINUTES = 15
DEFAULT_MONITOR_MINUTES = 60
#: Widest range a monitor takes: a /22, 1,024 addresses.
MONITOR_MIN_PREFIX = 22
_POOL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")


class UsageError(ValueError):
    """Input the grammar cannot take; `str(error)` is one sentence for the person who typed it."""


Scope = Literal["full", "bl", "ptr"]


@dataclass(frozen=True)
class Check:
    """Blocklists, PTR and SPF (scope `full`), or one part, for an address or a host name."""

    target: str
    domain: str | None = None
    scope: Scope = "full"
    #: The host name as the person typed it, when DNS is asked another form (an IDN's A-label).
    display: str | None = None
    #: What reading the input changed, said in the report (an IPv4-mapped address).
    notes: tuple[str, ...] = ()

    @property
    def is_hostname(self) -> bool:
        return not _is_ip(self.target)


@dataclass(frozen=True)
class Range:
    """Blocklists for every address of an IPv4 range (`network` canonical, e.g. 51.158.10.0/26)."""

    network: str


@dataclass(frozen=True)
class Spf:
    domain: str
    ip: str | None = None
    sender: str | None = None
    helo: str | None = None
    #: The domain as typed, when DNS is asked its A-label.
    display: str | None = None


@dataclass(frozen=True)
class Dmarc:
    """The DMARC policy of `domain`; with `ip`, whether SPF for the envelope sender aligns."""

    domain: str
    ip: str | None = None
    sender: str | None = None
    helo: str | None = None


@dataclass(frozen=True)
class Dkim:
    """DKIM keys of `domain` at `selectors`, or at the common selectors when there are none."""

    domain: str
    selectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 25
    #: The host name as typed, when DNS is asked its A-label.
    display: str | None = None


@dataclass(frozen=True)
class Mx:
    domain: str
    #: The domain as typed, when DNS is asked its A-label.
    display: str | None = None


@dataclass(frozen=True)
class Egress:
    expected: str | None = None


@dataclass(frozen=True)
class Bounce:
    text: str


@dataclass(frozen=True)
class Watch:
    """`target` None means "list this channel's watches"."""

    target: str | None = None
    domain: str | None = None
    every_minutes: int = DEFAULT_WATCH_MINUTES


@dataclass(frozen=True)
class Unwatch:
    target: str


@dataclass(frozen=True)
class History:
    target: str


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Monitor:
    """Blocklists of a whole range or pool on a schedule: `target` a canonical range or a pool name."""

    target: str
    every_minutes: int = DEFAULT_MONITOR_MINUTES

    @property
    def is_range(self) -> bool:
        return "/" in self.target


@dataclass(frozen=True)
class Unmonitor:
    target: str


Command = (
    Check
    | Range
    | Spf
    | Dmarc
    | Dkim
    | Smtp
    | Mx
    | Egress
    | Bounce
    | Watch
    | Unwatch
    | Monitor
    | Unmonitor
    | History
    | Help
)

#: A link, labelled or not; `<@U1|ana>`, `<#C1|general>` and `<!here|here>` are mentions, not links.
_LINK = re.compile(r"<(?![@#!])(?:mailto:|https?://)?([^<>|]*)\|([^<>]*)>|<(?:https?://)([^<>|]*)>")
_MENTION = re.compile(r"<[@#!][^<>]*>")
_IPV4_SHAPE = re.compile(r"^[0-9]{1,4}(\.[0-9]{1,4}){1,3}$")
_IPV6_SHAPE = re.compile(r"^[0-9A-Za-z.%]*:[0-9A-Za-z:.%]*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_EVERY = re.compile(
    r"^([0-9]{1,6})\s*(m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days)\Z", re.ASCII
)


def unslack(text: str) -> str:
    """Undo Slack's message markup: `<http://x.com|x.com>` -> `x.com`, mentions dropped, entities decoded."""
    text = _LINK.sub(lambda m: m.group(2) if m.group(2) is not None else (m.group(3) or ""), text)
    text = _MENTION.sub(" ", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _is_ip(word: str) -> bool:
    try:
        ipaddress.ip_address(word)
    except ValueError:
        return False
    return True


def _is_hostname(word: str) -> bool:
    name = word.lower().rstrip(".")
    if "." not in name or len(name) > 253:
        return False
    labels = name.split(".")
    if labels[-1].isascii() and labels[-1].isdigit():
        return False
    return all(_LABEL.match(label) for label in labels)


def _show(word: str) -> str:
    """A word quoted back to the person, shortened so a paste cannot flood the reply, and
    without format characters: a bidi override (U+202E) must not turn the sentence around."""
    word = visible(word)
    return word if len(word) <= 60 else word[:57] + "..."


def check_ip(word: str, *, public: bool = True) -> str:
    """`word` as a canonical address, or UsageError saying why it is not usable."""
    try:
        ip = ipaddress.ip_address(word)
    except ValueError:
        if _IPV4_SHAPE.match(word):
            raise UsageError(
                _("{word} looks like an IPv4 address but is not a valid one.").format(
                    word=_show(word)
                )
            ) from None
        if _IPV6_SHAPE.match(word) and word.count(":") >= 2:
            raise UsageError(
                _("{word} looks like an IPv6 address but is not a valid one.").format(
                    word=_show(word)
                )
            ) from None
        raise UsageError(_("{word} is not an IP address.").format(word=_show(word))) from None
    if public:
        reason = non_global_reason(ip)
        if reason:
            raise UsageError(
                _(
                    "{ip} is {reason}: blocklists and reverse DNS only mean something for public internet addresses."
                ).format(ip=ip, reason=reason_phrase(reason))
            )
    return str(ip)


def _looks_like_ip(word: str) -> bool:
    return bool(
        _is_ip(word)
        or _IPV4_SHAPE.match(word)
        or (_IPV6_SHAPE.match(word) and word.count(":") >= 2)
    )


def _name(word: str) -> str | None:
    """`word` as the host name DNS is asked (A-label for an IDN), or None if it is not one."""
    try:
        name = a_label(word)
    except NotAName:
        return None
    return name if _is_hostname(name) else None


def check_target(word: str, *, public: bool = True) -> str:
    """An address (validated) or a host name with a dot (normalised, not yet resolved).

    An internationalised name comes back as its A-label; `shown` gives the typed form.
    """
    if _looks_like_ip(word):
        return check_ip(word, public=public)
    name = _name(word)
    if name is not None:
        return name
    domain = mail_domain(word)
    if domain is not None:
        raise UsageError(
            _(
                "{word} is a mail address, not a server: give the server's IP address or host name, or check its domain's SPF with `spf {domain}`."
            ).format(word=_show(word), domain=_show(domain))
        )
    raise UsageError(
        _("{word} is neither an IP address nor a host name with a dot.").format(word=_show(word))
    )


def shown(word: str, target: str) -> str | None:
    """The typed form of a host name when it differs from what DNS is asked, else None."""
    typed = word.rstrip(".")
    return typed if not _is_ip(target) and typed.lower() != target else None


def check_range(word: str, widest: int = MIN_PREFIX) -> Range:
    """A public IPv4 range no wider than /`widest`, or UsageError saying why not."""
    try:
        return Range(str(parse_range(word, widest)))
    except RangeError as exc:
        raise UsageError(str(exc)) from None


def monitor_target(word: str) -> str:
    """A range up to /22 (an address is its /32) or a pool's name (e.g. "Frankfurt egress")."""
    if looks_like_range(word):
        return check_range(word, MONITOR_MIN_PREFIX).network
    if _is_ip(word) or _IPV4_SHAPE.match(word):
        ip = check_ip(word)
        if ":" in ip:
            raise UsageError(_("Monitors take IPv4 ranges; watch an IPv6 address with `watch`."))
        return f"{ip}/32"
    if not _POOL_NAME.match(word):
        raise UsageError(
            _("{word} is neither a range (e.g. 51.158.10.0/24) nor a pool's name.").format(
                word=_show(word)
            )
        )
    return word


def check_domain(word: str) -> str:
    """A mail domain (A-label for an IDN), or UsageError; a mail address gets its domain named."""
    domain = mail_domain(word)
    if domain is not None and _name(domain):
        raise UsageError(
            _("{word} is a mail address; the domain is {domain}: use `{domain}`.").format(
                word=_show(word), domain=_show(domain)
            )
        )
    name = None if _is_ip(word) else _name(word)
    if name is None:
        raise UsageError(
            _("{word} is not a valid mail domain (e.g. example.com).").format(word=_show(word))
        )
    return name


MAX_SELECTORS = 10
_SELECTOR = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]{0,62})$")


def _auth_domain(verb: str, args: list[str]) -> str:
    """The mail domain of `dmarc`/`dkim`; an address or a mail address gets a suggestion."""
    word = args[0]
    if _is_ip(word):
        rest = args[1:]
        if rest and _name(rest[0]) is not None and not _is_ip(rest[0]):
            # `dmarc 51.159.20.30 example.com`: the two swapped.
            swapped = f"dmarc {rest[0]} {word}" if verb == "dmarc" else " ".join(["dkim", *rest])
            raise UsageError(
                _("`{verb}` takes the domain first: `{suggestion}`.").format(
                    verb=verb, suggestion=_show(swapped)
                )
            )
        raise UsageError(
            (
                _(
                    "`dmarc` takes a mail domain first, then the address: `dmarc DOMAIN {ip}`; "
                    "for the name of {ip} itself, use `ptr {ip}`."
                )
                if verb == "dmarc"
                else _(
                    "`dkim` takes a mail domain, not an address: `dkim DOMAIN`; for {ip} "
                    "itself, `ptr {ip}` gives its name and `smtp {ip}` probes it."
                )
            ).format(ip=word)
        )
    if "@" in word and _is_hostname(word.rsplit("@", 1)[1]):
        domain = word.rsplit("@", 1)[1].lower().rstrip(".")
        raise UsageError(
            _("The domain of {word} is {domain}: use `{verb} {domain}`.").format(
                word=_show(word), domain=domain, verb=verb
            )
        )
    return check_domain(word)


def _selectors(words: list[str]) -> list[str]:
    """DKIM selectors as typed (`s1`, `s1._domainkey.example.com`), each checked for shape."""
    out: list[str] = []
    for word in words:
        name = word.lower().rstrip(".").split("._domainkey.", 1)[0]
        if not _SELECTOR.match(name) or ".." in name:
            raise UsageError(
                _("{word} is not a DKIM selector (e.g. selector1, s1, google).").format(
                    word=_show(word)
                )
            )
        if name not in out:
            out.append(name)
    return out


def _interval(
    words: list[str],
    default: int = DEFAULT_WATCH_MINUTES,
    least: int = MIN_WATCH_MINUTES,
    what: str = N_("Watches"),
) -> tuple[list[str], int]:
    """Strip a trailing `every N(m|h|d)` from `words`; return the rest and the minutes."""
    lowered = [w.lower() for w in words]
    if "every" not in lowered:
        return words, default
    at = lowered.index("every")
    spec = " ".join(lowered[at + 1 :])
    match = _EVERY.match(spec)
    if not match:
        raise UsageError(
            _(
                "I could not read the interval {spec!r}: write e.g. `every 15m` or `every 2h`."
            ).format(spec=_show(spec))
        )
    number, unit = int(match.group(1)), match.group(2)[0]
    minutes = number * {"m": 1, "h": 60, "d": 1440}[unit]
    if minutes < least:
        raise UsageError(
            _(
                "{what} re-check no more often than every {least} minutes; write `every {least}m` or more."
            ).format(what=_(what), least=least)
        )
    if minutes > MAX_WATCH_MINUTES:
        raise UsageError(
            _("{what} re-check at least once a day; write `every 24h` or less.").format(
                what=_(what)
            )
        )
    return words[:at], minutes


def _shape(verb: str) -> str:
    """`verb`'s own line of the (translated) usage, without its description: `spf DOMAIN [IP]`."""
    for line in _(USAGE).splitlines():
        head = line.removeprefix("/smtpcheck ").split("  ")[0].strip()
        if head.split(" ", 1)[0] == verb:
            return head
    return verb


def _arity(verb: str, args: list[str], least: int, most: int) -> None:
    if len(args) < least:
        # The reply is one sentence and a pointer to help, never the usage itself: name
        # the verb's own shape rather than "the usage below".
        raise UsageError(_("`{verb}` needs more: `{shape}`.").format(verb=verb, shape=_shape(verb)))
    if len(args) > most:
        raise UsageError(
            ngettext(
                "`{verb}` takes at most {most} word after it; I did not understand {rest!r}.",
                "`{verb}` takes at most {most} words after it; I did not understand {rest!r}.",
                most,
            ).format(verb=verb, most=most, rest=_show(" ".join(args[most:])))
        )


def parse(
    text: str,
    *,
    widest_range: int = MIN_PREFIX,
    any_port: bool = False,
    ports: Sequence[int] = SMTP_PORTS,
) -> Command:
    """Parse the words after `/smtpcheck` (or `smtpcheck`) into a Command.

    `widest_range`: the shortest prefix a range may have here (/24 in Slack, /20 in the
    terminal, where nobody else waits on the same channel). `any_port`: the probe may
    reach any port (the terminal); a bad port is then told the terminal's rule, 1 to
    65535, not the Slack bot's SMTP ports. Otherwise `smtp` takes only `ports`, the ones
    the probe connects to (Slack passes its SMTPCHECK_SMTP_PORTS), and a refusal names them.

    Words are read as people paste them (see `bot.paste`): brackets, quotes, trailing
    punctuation and zero-width characters dropped, a URL as its host, `::ffff:` as IPv4.
    """
    if len(text) > MAX_TEXT:
        raise UsageError(
            _("That is too long for me ({length} characters; {most} at most).").format(
                length=i18n.number(len(text)), most=i18n.number(MAX_TEXT)
            )
        )
    typed = bool(text.strip())
    text = strip_invisible(unslack(text)).strip()
    raw = _words(text)
    if not raw and typed:
        # `/smtpcheck <!channel>` or a lone link: something was typed, just nothing to check.
        raise UsageError(
            _(
                "A mention or a link on its own is nothing I can check: give an IP address "
                "or a host name with a dot."
            )
        )
    if not raw:
        return Help()
    verb = raw[0].lower()
    if verb in ("help", "-h", "--help", "?"):
        return Help()
    if verb == "bounce":
        rest = text[len(raw[0]) :].strip()
        if not rest:
            raise UsageError(_("Paste the bounce or rejection text after `bounce`."))
        return Bounce(rest)
    notes: list[str] = []

    def plain(word: str) -> str:
        cleaned = clean(word)
        if cleaned.note and cleaned.note not in notes:
            notes.append(cleaned.note)
        return cleaned.text

    if verb == "smtp":
        return _smtp(raw[1:], plain, None if any_port else tuple(ports))
    words = [raw[0] if verb in _VERBS else plain(raw[0]), *(plain(w) for w in raw[1:])]
    # A word that was only punctuation (a lone quote, `;`) is no word: quoting it back
    # would give " is neither an IP address..." with nothing before it.
    words = [w for w in words if w]
    if not words:
        raise UsageError(_("Say what to check: an IP address or a host name."))
    if verb not in ("monitor", "unmonitor"):  # a pool's name may have spaces
        for at, word in enumerate(words):
            if any(ch.isspace() for ch in word):
                raise _spaced(word, words, at)
    args = words[1:]
    if verb in ("bl", "ptr"):
        _arity(verb, args, 1, 1)
        if _range_shaped(args[0]):
            if verb == "ptr":
                raise UsageError(
                    _(
                        "`ptr` takes one address; a range is checked against blocklists: `bl {value}`."
                    ).format(value=_show(args[0]))
                )
            return check_range(args[0], widest_range)
        target = check_target(args[0])
        scope: Scope = "bl" if verb == "bl" else "ptr"
        return Check(target, None, scope, display=shown(args[0], target), notes=tuple(notes))
    if verb == "spf":
        return _spf(args)
    if verb == "dmarc":
        _arity(verb, args, 1, 2)
        dmarc_domain = _auth_domain(verb, args)  # a swapped pair is told as such first
        ip = check_ip(args[1], public=False) if len(args) == 2 else None
        return Dmarc(dmarc_domain, ip)
    if verb == "dkim":
        if len(args) > 1 + MAX_SELECTORS:
            raise UsageError(
                _(
                    "`dkim` takes a domain and at most {most} selectors; I did not understand {rest!r}."
                ).format(most=MAX_SELECTORS, rest=_show(" ".join(args[1 + MAX_SELECTORS :])))
            )
        _arity(verb, args, 1, 1 + MAX_SELECTORS)
        return Dkim(_auth_domain(verb, args), tuple(_selectors(args[1:])))
    if verb == "mx":
        _arity(verb, args, 1, 1)
        if _is_ip(args[0]):
            raise UsageError(
                _(
                    "`mx` takes a mail domain, not an address: for the name of {ip} use "
                    "`ptr {ip}`, or `smtp {ip}` to probe it."
                ).format(ip=args[0])
            )
        domain = check_domain(args[0])
        return Mx(domain, display=shown(args[0], domain))
    if verb == "egress":
        _arity(verb, args, 0, 1)
        return Egress(check_ip(args[0]) if args else None)
    if verb == "watch":
        watched, minutes = _interval(args)
        if not watched:
            if len(watched) != len(args):
                raise UsageError(_("Say which address to watch: `watch IP [DOMAIN] [every 15m]`."))
            return Watch()
        _arity(verb, watched, 1, 2)
        watch_domain = check_domain(watched[1]) if len(watched) == 2 else None
        return Watch(check_ip(watched[0]), watch_domain, minutes)
    if verb in ("monitor", "unmonitor"):
        named, minutes = (
            _interval(args, DEFAULT_MONITOR_MINUTES, MIN_MONITOR_MINUTES, N_("Monitors"))
            if verb == "monitor"
            else (args, DEFAULT_MONITOR_MINUTES)
        )
        if not named:
            raise UsageError(
                _("Say what to {verb}: a range such as 51.158.10.0/24, or a pool's name.").format(
                    verb=verb
                )
            )
        if looks_like_range(named[0]) or _is_ip(named[0]):
            _arity(verb, named, 1, 1)
        target = monitor_target(" ".join(named))  # a pool's name may have several words
        return Monitor(target, minutes) if verb == "monitor" else Unmonitor(target)
    if verb in ("unwatch", "history"):
        _arity(verb, args, 1, 1)
        target = check_ip(args[0])
        return Unwatch(target) if verb == "unwatch" else History(target)
    if verb == "check":
        if not args:
            raise UsageError(_("Say what to check: an IP address or a host name."))
        words, args = args, args[1:]
    if _range_shaped(words[0]):
        if args:
            raise UsageError(
                _(
                    "A range is checked against blocklists only; SPF and PTR need one address: drop {value!r} or give a single address."
                ).format(value=_show(" ".join(args)))
            )
        return check_range(words[0], widest_range)
    target = check_target(words[0])  # a word that is no target says so first
    if len(args) > 1:
        raise UsageError(
            _(
                "{target} takes at most 1 word after it, its mail domain; I did not understand {rest!r}."
            ).format(target=_show(words[0]), rest=_show(" ".join(args[1:])))
        )
    if args and not _is_ip(target) and _looks_like_ip(args[0]):
        raise UsageError(
            _("The address goes first, then the mail domain: `{value} {value2}`.").format(
                value=_show(args[0]), value2=_show(words[0])
            )
        )
    mail = check_domain(args[0]) if args else None
    return Check(target, mail, "full", display=shown(words[0], target), notes=tuple(notes))


_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "`": "`"}


def _words(text: str) -> list[str]:
    """`text` split at whitespace, but a quoted span of broken pieces stays one word:
    `'exa mple.com'` ("exa" is nothing on its own), so its sentence can name all of it.

    A quoted span whose every piece stands alone (`"51.158.10.22 example.com"`) is those
    words; a quote that is never closed leaves the words as they were.
    """
    out: list[str] = []
    pending: list[str] = []
    closing = ""
    for word in text.split():
        if pending:
            pending.append(word)
            if word.rstrip(",;.:").endswith(closing):
                if all(_stands_alone(piece) for piece in pending):
                    out.extend(pending)
                else:
                    out.append(" ".join(pending))
                pending = []
            continue
        close = _QUOTES.get(word[0])
        if close is not None and not (len(word) > 1 and word.rstrip(",;.:").endswith(close)):
            pending, closing = [word], close
            continue
        out.append(word)
    return out + pending


def _stands_alone(piece: str) -> bool:
    """A piece of a quoted span that is an address or a host name by itself."""
    word = clean(piece).text
    return _looks_like_ip(word) or _name(word) is not None


def _spaced(word: str, words: list[str], at: int) -> UsageError:
    """A word with a space in it, which no address or name has; the whole of it named."""
    joined = "".join(word.split())
    if _name(joined) is not None or _is_ip(joined):
        suggestion = " ".join([*words[:at], joined, *words[at + 1 :]])
        return UsageError(
            _(
                "“{word}” has a space in it, and no address or domain has one: if it was "
                "split when pasted, write `{suggestion}`."
            ).format(word=_show(word), suggestion=_show(suggestion))
        )
    return UsageError(
        _("“{word}” has a space in it, and no address or domain has one.").format(word=_show(word))
    )


_RANGE_HEAD = re.compile(r"^[0-9A-Fa-f:.]+$")


def _range_shaped(word: str) -> bool:
    """`ADDRESS/PREFIX`-shaped: `<script>a</script>` is not a range with a bad address."""
    return looks_like_range(word) and bool(_RANGE_HEAD.match(word.partition("/")[0]))


_VERBS = frozenset(
    {
        "bl",
        "ptr",
        "spf",
        "dmarc",
        "dkim",
        "smtp",
        "mx",
        "egress",
        "watch",
        "unwatch",
        "history",
        "monitor",
        "unmonitor",
        "check",
    }
)


def _spf(args: list[str]) -> Spf:
    """`spf DOMAIN [IP]`; an address or a mail address where the domain goes gets a suggestion.

    A domain that is not a valid name is still evaluated: RFC 7208 section 4.3 makes its
    result `none`.
    """
    _arity("spf", args, 1, 2)
    first = args[0]
    if _looks_like_ip(first):
        if len(args) == 2 and not _looks_like_ip(args[1]):
            raise UsageError(
                _("`spf` takes the domain first, then the address: `spf {value} {first}`.").format(
                    value=_show(args[1]), first=_show(first)
                )
            )
        raise UsageError(
            _(
                "`spf` takes a domain first, then the address to evaluate: `spf DOMAIN {first}`."
            ).format(first=_show(first))
        )
    domain = mail_domain(first)
    if domain is not None:
        suggestion = f"spf {domain} {args[1]}" if len(args) == 2 else f"spf {domain}"
        raise UsageError(
            _(
                "`spf` takes a domain, not a mail address: the domain of {first} is {domain}, so use `{suggestion}`."
            ).format(first=_show(first), domain=_show(domain), suggestion=_show(suggestion))
        )
    ip = check_ip(args[1], public=False) if len(args) == 2 else None
    if first == ".":
        return Spf(first, ip)
    try:
        name = a_label(first)
    except NotAName:
        name = first.rstrip(".").lower()
    return Spf(name, ip, display=shown(first, name))


def _choices(items: Sequence[object]) -> str:
    """`25, 465, 587 or 2525`, in the language of the moment."""
    words = [str(item) for item in items]
    if len(words) <= 1:
        return "".join(words)
    return _("{items} or {last}").format(items=", ".join(words[:-1]), last=words[-1])


def _not_a_port(word: str, ports: tuple[int, ...] | None) -> UsageError:
    """Bad port input, with the rule of the surface it was typed on (None: any port)."""
    if ports is None:
        return UsageError(
            _(
                "{word} is not a port number: give one from 1 to 65535 (SMTP listens on 25, "
                "465 or 587)."
            ).format(word=_show(word))
        )
    return UsageError(
        ngettext(
            "{word} is not a port number: the SMTP probe connects to port {ports}.",
            "{word} is not a port number: the SMTP probe connects to ports {ports}.",
            len(ports),
        ).format(word=_show(word), ports=_choices(ports))
    )


def _port_refused(port: int, ports: tuple[int, ...]) -> UsageError:
    """A port the probe will not reach: the sentence names the ones it does."""
    return UsageError(
        ngettext(
            "The SMTP probe connects only to port {ports} here, not to {port}.",
            "The SMTP probe connects only to ports {ports} here, not to {port}.",
            len(ports),
        ).format(port=port, ports=_choices(ports))
    )


def _smtp(
    args: list[str], plain: Callable[[str], str], ports: tuple[int, ...] | None = SMTP_PORTS
) -> Smtp:
    """`smtp HOST [PORT]`, also `HOST:PORT` and `[V6]:PORT` as people paste them.

    `ports`: the ports the probe connects to (None: any, the terminal's rule).
    """
    _arity("smtp", args, 1, 2)
    host_word, attached = host_and_port(clean(args[0]).text if "://" in args[0] else args[0])
    host_word = plain(host_word)
    if any(ch.isspace() for ch in host_word):
        raise _spaced(host_word, ["smtp", host_word, *args[1:]], 1)
    if attached is not None and len(args) == 2:
        raise UsageError(
            _("Give the port once: `smtp {host_word} {attached}`.").format(
                host_word=_show(host_word), attached=attached
            )
        )
    port = 25 if attached is None else attached
    if len(args) == 2:
        word = plain(args[1])
        given = port_number(word)
        if given is None:
            raise _not_a_port(word, ports)
        port = given
    if not 0 < port < 65536:
        raise _not_a_port(str(port), ports)
    if ports is not None and port not in ports:
        raise _port_refused(port, ports)
    host = check_target(host_word, public=False)
    return Smtp(host, port, display=shown(host_word, host))


def bad_input(error: str, prefix: str = "/smtpcheck") -> str:
    """The reply to bad input: the one sentence, and where the full usage is."""
    return _("{error} See `{prefix} help`.").format(error=error, prefix=prefix)


def usage(error: str | None = None) -> str:
    """The reply to bad input or `help`: the sentence, then the grammar."""
    head = f"{error}\n\n" if error else ""
    # Outside the f-string: pybabel (on Python 3.11) does not see a _() inside one.
    heading, examples = _("Usage:"), _("Examples:")
    return f"{head}{heading}\n{_(USAGE)}\n\n{examples}\n" + "\n".join(EXAMPLES)
