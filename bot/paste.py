"""Words as people paste them, read the way they mean them.

Addresses and names arrive copied from logs, tickets, chat and browsers: wrapped in
brackets or quotes, followed by a comma, carrying invisible zero-width characters, as
a URL, as an IPv4-mapped IPv6 address, or as an internationalised name. `clean` undoes
all of that for one word; the grammar then validates what is left.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from handlers.i18n import _

#: Invisible characters that ride along with copied text (INTERFACE.md: U+200B..U+200D,
#: U+2060, U+FEFF).
ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")

_WRAPPERS = {"[": "]", "<": ">", "(": ")", '"': '"', "'": "'", "`": "`", "“": "”", "‘": "’"}
_TRAILING = ",;.:"
_URL = re.compile(r"^[a-z][a-z0-9+.-]{0,20}://(?:[^/@?#]*@)?(\[[^\]/]+\]|[^/:?#]+)", re.IGNORECASE)
_BRACKETED_PORT = re.compile(r"^\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})$")
_HOST_PORT = re.compile(r"^([^:\[\]]+):([0-9]{1,5})$")


@dataclass(frozen=True)
class Cleaned:
    """A pasted word made plain: the text to validate and, when it changed meaning, a note."""

    text: str
    note: str | None = None


def strip_invisible(text: str) -> str:
    """`text` without zero-width characters."""
    return ZERO_WIDTH.sub("", text)


def _is_ip(word: str) -> bool:
    try:
        ipaddress.ip_address(word)
    except ValueError:
        return False
    return True


_OPENERS = {close: open_ for open_, close in _WRAPPERS.items()}


def _unwrap(word: str) -> str:
    """Drop surrounding brackets, angle brackets and quotes, and trailing `,;.:`.

    A bracket whose partner the copy cut off goes too (`[2a01:4f8::25`). An address
    that is already valid is left alone, so `2a01:4f8::` keeps its colons.
    """
    previous = None
    while word and word != previous and not _is_ip(word):
        previous = word
        word = word.rstrip(_TRAILING) or word
        if _is_ip(word) or not word:
            break
        first, last = word[0], word[-1]
        if len(word) >= 2 and _WRAPPERS.get(first) == last:
            word = word[1:-1].strip()
        elif first in _WRAPPERS and _WRAPPERS[first] not in word[1:]:
            word = word[1:].strip()
        elif last in _OPENERS and _OPENERS[last] not in word[:-1]:
            word = word[:-1].strip()
    return word


def _mapped(word: str) -> Cleaned | None:
    """`::ffff:a.b.c.d` (or its hex form) as the IPv4 address it stands for, with a note."""
    try:
        ip = ipaddress.ip_address(word)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        v4 = str(ip.ipv4_mapped)
        note = _("{typed} is the IPv4-mapped form of {ip}: checked as {ip}.")
        return Cleaned(v4, note.format(typed=word, ip=v4))
    return None


def clean(word: str) -> Cleaned:
    """One pasted word as the address or name it stands for.

    A URL is its host; `::ffff:` addresses are their IPv4 address (with a note).
    Host names keep their form here; `a_label` turns an internationalised one into
    what DNS is asked.
    """
    word = strip_invisible(word).strip()
    word = _unwrap(word)
    url = _URL.match(word)
    if url:
        word = _unwrap(url.group(1))
    return _mapped(word) or Cleaned(word)


def host_and_port(word: str) -> tuple[str, int | None]:
    """`HOST:PORT` or `[V6]:PORT` split, or (word, None) when no port is attached.

    A bare IPv6 address (with its colons) is never split.
    """
    word = strip_invisible(word).strip()
    bracketed = _BRACKETED_PORT.match(word)
    if bracketed:
        return bracketed.group(1), int(bracketed.group(2))
    if _is_ip(word):
        return word, None
    plain = _HOST_PORT.match(word)
    if plain:
        return plain.group(1), int(plain.group(2))
    return word, None


class NotAName(ValueError):
    """A word with non-ASCII characters that IDNA 2008 does not accept as a host name."""


def a_label(name: str) -> str:
    """`name` as DNS asks it: internationalised labels as A-labels (IDNA 2008, UTS 46 mapping).

    ASCII names come back lower case and unchanged otherwise. Raises NotAName when the
    name has characters IDNA 2008 refuses.
    """
    name = name.rstrip(".")
    if name.isascii():
        return name.lower()
    import idna  # only for names that need it: a blocklist check by address never does

    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise NotAName(str(exc)) from None


def mail_domain(word: str) -> str | None:
    """The domain of `user@domain`, or None when `word` is not shaped like a mail address."""
    local, at, domain = word.rpartition("@")
    if at and local and domain and "." in domain and "@" not in local:
        return domain.rstrip(".").lower()
    return None
