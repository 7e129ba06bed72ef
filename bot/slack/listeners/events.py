"""`@smtpcheck` mentions: slash commands do not work in threads, mentions do.

`@smtpcheck 1.2.3.4 example.com` answers in the thread it was typed in (or starts one
under the mention); a bare `@smtpcheck` in a thread checks what the thread's first
message names: a command, a pasted bounce, or an address.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.grammar import UsageError, bad_input, parse, unslack
from bot.slack import blocks
from bot.slack.delivery import guarded, tell
from bot.slack.deps import Conversation
from bot.slack.language import settle
from bot.slack.router import Router, router_of
from bot.slack.threads import command_in, first_message
from handlers.i18n import N_, _

NOTHING_FOUND = N_(
    "I found no address in this thread's first message. Mention me with one: "
    "`@smtpcheck 51.158.10.22 example.com`."
)
BARE = N_(
    "Mention me with what to check, e.g. `@smtpcheck 51.158.10.22 example.com`, or mention me "
    "in a thread."
)


def register(app: AsyncApp) -> None:
    app.event("app_mention")(on_mention)


async def on_mention(
    event: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    await settle()  # the event is acknowledged already; the usage sentence below is read
    router = router_of(context)
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
            parsed = parse(words, ports=router.deps.settings.smtp_ports)
        except UsageError as exc:
            reply = blocks.esc(bad_input(str(exc)))
            await guarded(client, conv, lambda: tell(client, conv, reply))
            return
        await router.dispatch(client, parsed, conv)
        return
    if not thread:
        await guarded(client, conv, lambda: tell(client, conv, _(BARE)))
        return
    await guarded(client, conv, lambda: _from_parent(client, router, conv, str(thread)))


async def _from_parent(
    client: AsyncWebClient, router: Router, conv: Conversation, thread: str
) -> None:
    command = command_in(
        await first_message(client, conv.channel, thread), router.deps.settings.smtp_ports
    )
    if command is None:
        await tell(client, conv, _(NOTHING_FOUND))
        return
    await router.dispatch(client, command, conv)
