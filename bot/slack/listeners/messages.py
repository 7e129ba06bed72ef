"""Direct messages to the bot: every message is a command, and help when it is not one.

Only a person's own new messages count: the bot's messages, edits, joins and every other
subtype are ignored, so an answer can never start another answer. A message that is not
in the grammar but names an address, a host name or a bounce is checked like a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.grammar import Bounce, Command, Help, UsageError, parse, usage
from bot.slack import blocks
from bot.slack.delivery import guarded
from bot.slack.deps import Conversation
from bot.slack.language import settle
from bot.slack.router import router_of
from bot.slack.surfaces import is_persons_direct_message
from bot.slack.threads import commands_in
from handlers.settings import SMTP_PORTS


def register(app: AsyncApp) -> None:
    app.event("message")(on_message)


#: A message longer than this many words is prose (a pasted alert), not a mistyped command.
COMMAND_WORDS = 3


def prose_commands(text: str, ports: Sequence[int] = SMTP_PORTS) -> list[Command]:
    """What a message the grammar refused names: a pasted bounce, or prose with addresses.

    A short line keeps the grammar's sentence ("spf takes a domain first"), which helps
    more than guessing at what was meant.
    """
    found = commands_in(text, ports)
    if any(isinstance(c, Bounce) for c in found) or len(text.split()) > COMMAND_WORDS:
        return found
    return []


async def on_message(
    event: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    if not is_persons_direct_message(event, context.get("bot_user_id")):
        return
    await settle()  # the event is acknowledged already; the usage below is read
    conv = Conversation(
        channel=str(event.get("channel", "")),
        user=str(event.get("user", "")),
        thread_ts=event.get("thread_ts"),
        team=event.get("team"),
    )
    text = str(event.get("text") or "")
    ports = router_of(context).deps.settings.smtp_ports
    commands: list[Command]
    try:
        parsed = parse(text, ports=ports)
        commands = [] if isinstance(parsed, Help) else [parsed]
        reply = blocks.usage_text(usage())
    except UsageError as exc:
        commands = prose_commands(text, ports)
        reply = blocks.usage_text(usage(str(exc)))
    if not commands:

        async def help_() -> None:
            shown = blocks.notice(reply)
            await client.chat_postMessage(
                channel=conv.channel, thread_ts=conv.thread_ts, text=shown.text, blocks=shown.blocks
            )

        await guarded(client, conv, help_)
        return
    router = router_of(context)
    for command in commands:
        await router.dispatch(client, command, conv)
