"""`@smtpcheck` mentions: slash commands do not work in threads, mentions do.

`@smtpcheck 1.2.3.4 example.com` answers in the thread it was typed in (or starts one
under the mention); a bare `@smtpcheck` in a thread checks what the thread's first
message names: a command, a pasted bounce, or an address.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.grammar import Bounce, Check, Command, Help, UsageError, parse, unslack, usage
from bot.slack import blocks
from bot.slack.delivery import answer, guarded, tell
from bot.slack.deps import Conversation, Deps, deps_of
from handlers.targets import non_global_reason

NOTHING_FOUND = (
    "I found no address in this thread's first message. Mention me with one: "
    "`@smtpcheck 51.158.10.22 example.com`."
)
BARE = "Mention me with what to check, e.g. `@smtpcheck 51.158.10.22 example.com`, or mention me in a thread."

_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
#: An SMTP reply with an enhanced status code ("550 5.7.1", "554-5.7.1"): a pasted bounce.
_BOUNCE = re.compile(r"\b[45]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b|\b[245]\.\d\.\d{1,3}\b")


def register(app: AsyncApp) -> None:
    app.event("app_mention")(on_mention)


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


async def on_mention(
    event: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    deps = deps_of(context)
    thread = event.get("thread_ts")
    conv = Conversation(
        channel=str(event.get("channel", "")),
        user=str(event.get("user", "")),
        thread_ts=thread or event.get("ts"),
        team=event.get("team"),
    )
    words = unslack(str(event.get("text") or "")).strip()
    if words:
        try:
            parsed = parse(words)
        except UsageError as exc:
            reply = blocks.usage_text(usage(str(exc)))
            await guarded(client, conv, lambda: tell(client, conv, reply))
            return
        if isinstance(parsed, Help):
            await guarded(client, conv, lambda: tell(client, conv, blocks.usage_text(usage())))
            return
        await answer(client, deps, parsed, conv)
        return
    if not thread:
        await guarded(client, conv, lambda: tell(client, conv, BARE))
        return
    await guarded(client, conv, lambda: _from_parent(client, deps, conv, str(thread)))


async def _from_parent(client: AsyncWebClient, deps: Deps, conv: Conversation, thread: str) -> None:
    command = command_in(await first_message(client, conv.channel, thread))
    if command is None:
        await tell(client, conv, NOTHING_FOUND)
        return
    await answer(client, deps, command, conv)
