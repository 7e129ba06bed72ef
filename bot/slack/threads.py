"""What a thread is about: the command, bounce or address in its first message.

A bare `@smtpcheck` in a thread, and `@smtpcheck watch` there, act on what the thread's
first message names; people paste a bounce or an address and then ask.
"""

from __future__ import annotations

import ipaddress
import re

from slack_sdk.web.async_client import AsyncWebClient

from bot.grammar import Bounce, Check, Command, Help, UsageError, parse, unslack
from handlers.targets import non_global_reason

_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
#: An SMTP reply with an enhanced status code ("550 5.7.1", "554-5.7.1"): a pasted bounce.
_BOUNCE = re.compile(r"\b[45]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b|\b[245]\.\d\.\d{1,3}\b")


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


def command_in(text: str) -> Command | None:
    """What a thread's first message asks to check: a command, a bounce, or an address."""
    plain = unslack(text).strip()
    if plain.lower().startswith("/smtpcheck"):
        plain = plain[len("/smtpcheck") :].strip()
    try:
        parsed = parse(plain)
        if not isinstance(parsed, Help):
            return parsed
    except UsageError:
        pass
    if _BOUNCE.search(plain):
        return Bounce(plain)
    addresses = public_addresses(plain)
    return Check(addresses[0]) if addresses else None


async def first_message(client: AsyncWebClient, channel: str, thread_ts: str) -> str:
    response = await client.conversations_replies(
        channel=channel, ts=thread_ts, limit=1, inclusive=True
    )
    messages = response.get("messages") or []
    return str(messages[0].get("text", "")) if messages else ""
