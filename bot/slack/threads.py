"""What a message is about: the command, bounce, addresses or names people pasted in it.

A bare `@smtpcheck` in a thread acts on the thread's first message, and the "Check with
smtpcheck" shortcut on the message it was used on: people paste a bounce, an address or
a server's name, and then ask. Only what a check can use is taken: public addresses,
names with a dot, and the mail domain of an e-mail address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from slack_sdk.web.async_client import AsyncWebClient

from bot.grammar import (
    Bounce,
    Check,
    Command,
    Help,
    Spf,
    UsageError,
    check_domain,
    check_target,
    parse,
    unslack,
)
from handlers.settings import SMTP_PORTS
from handlers.targets import non_global_reason

_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
#: An SMTP reply with an enhanced status code ("550 5.7.1", "554-5.7.1"): a pasted bounce.
_BOUNCE = re.compile(
    r"(?<![\w.])[45]\d\d[ -][245]\.\d{1,3}\.\d{1,3}(?!\w|\.\d)|(?<![\w.])[245]\.\d\.\d{1,3}(?!\w|\.\d)"
)
#: A name with a dot whose last label is a word (a TLD), not part of an e-mail address or a path.
_NAME = re.compile(
    r"(?<![\w.@/-])((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})(?![\w@/-]|\.\w)"
)
_EMAIL = re.compile(r"[\w.+-]+@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63})\b")
#: File names look like host names ("report.pdf"); their endings are never a mail TLD people mean.
_NOT_HOSTS = frozenset(
    {"txt", "log", "pdf", "png", "jpg", "jpeg", "gif", "eml", "msg", "zip", "gz", "json"}
    | {"html", "htm", "csv", "py", "js", "md", "yml", "yaml", "toml", "conf", "cfg", "ini"}
)
#: At most this many separate checks start from one message.
MAX_TARGETS = 3


def public_addresses(text: str) -> list[str]:
    """Public IP addresses in free text, in order, each once."""
    found: list[str] = []
    for match in [*_IPV4.finditer(text), *_IPV6.finditer(text)]:
        try:
            ip = ipaddress.ip_address(match.group(0))
        except ValueError:
            continue
        if not non_global_reason(ip) and str(ip) not in found:
            found.append(str(ip))
    return found


def mail_domains(text: str) -> list[str]:
    """The domains of the e-mail addresses in free text, in order, each once."""
    found: list[str] = []
    for match in _EMAIL.finditer(text):
        try:
            domain = check_domain(match.group(1))
        except UsageError:
            continue
        if domain not in found:
            found.append(domain)
    return found


def host_names(text: str) -> list[str]:
    """Names with a dot in free text (not e-mail domains, not file names), in order, each once."""
    emails = set(mail_domains(text))
    found: list[str] = []
    for match in _NAME.finditer(_EMAIL.sub(" ", text)):
        name = match.group(1).lower()
        if name.rsplit(".", 1)[-1] in _NOT_HOSTS or name in emails:
            continue
        try:
            name = check_target(name)
        except UsageError:
            continue
        if name not in found:
            found.append(name)
    return found


def named_mail_domain(names: list[str], addresses: list[str] | None = None) -> str | None:
    """The mail domain among the names a message gives, when no e-mail address says it.

    "mail.northwind-traders.com bounces for northwind-traders.com": a name that a host name
    of the message lies under is that server's mail domain; so is, next to one host name,
    a shorter name of two labels ("relay.mailhost-eu.net for fabrikam-shop.com").
    """
    for candidate in names:
        if any(other != candidate and other.endswith("." + candidate) for other in names):
            return candidate
    if len(names) == 2:
        host, other = names
        if other.count(".") == 1 and host.count(".") >= 2:
            return other
    if addresses and len(names) == 1 and names[0].count(".") == 1:
        return names[0]  # "51.158.10.22 bounces for northwind-traders.com"
    return None


def _plain(text: str) -> str:
    plain = unslack(text).strip()
    if plain.lower().startswith("/smtpcheck"):
        plain = plain[len("/smtpcheck") :].strip()
    return plain


def commands_in(text: str, ports: Sequence[int] = SMTP_PORTS) -> list[Command]:
    """Every check a message asks for, most specific first; [] when nothing is usable.

    A typed command wins; then a pasted bounce (explaining it checks the addresses it
    names); then each public address (with the first e-mail address's domain as the mail
    domain); then each host name; then SPF of a mail domain on its own.
    """
    plain = _plain(text)
    if not plain:
        return []
    try:
        parsed = parse(plain, ports=ports)
        if not isinstance(parsed, Help):
            return [parsed]
    except UsageError:
        pass
    if _BOUNCE.search(plain):
        return [Bounce(plain)]
    domains = mail_domains(plain)
    names = host_names(plain)
    addresses = public_addresses(plain)
    domain = domains[0] if domains else named_mail_domain(names, addresses)
    found: list[Command] = [Check(ip, domain) for ip in addresses]
    found += [Check(name, domain) for name in names if name != domain]
    if not found and domain:
        found = [Spf(domain)]
    return found[:MAX_TARGETS]


def command_in(text: str, ports: Sequence[int] = SMTP_PORTS) -> Command | None:
    """What a thread's first message asks to check: a command, a bounce, an address or a name."""
    found = commands_in(text, ports)
    return found[0] if found else None


async def first_message(client: AsyncWebClient, channel: str, thread_ts: str) -> str:
    response = await client.conversations_replies(
        channel=channel, ts=thread_ts, limit=1, inclusive=True
    )
    messages = response.get("messages") or []
    return str(messages[0].get("text", "")) if messages else ""
