"""`/smtpcheck ...`: parse, acknowledge at once, then check and post.

The ack happens before anything slow (no DNS): bad input and `help` are answered in
the ack itself, ephemeral, so nothing reaches the channel.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.grammar import Help, UsageError, bad_input, parse, usage
from bot.slack import blocks
from bot.slack.deps import Conversation
from bot.slack.router import router_of

COMMAND = "/smtpcheck"


def register(app: AsyncApp) -> None:
    app.command(COMMAND)(smtpcheck_command)


async def smtpcheck_command(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    try:
        parsed = parse(str(command.get("text") or ""))
    except UsageError as exc:
        await ack(response_type="ephemeral", text=blocks.esc(bad_input(str(exc))))
        return
    if isinstance(parsed, Help):
        await ack(response_type="ephemeral", text=blocks.usage_text(usage()))
        return
    await ack()
    conv = Conversation(
        channel=str(command.get("channel_id", "")),
        user=str(command.get("user_id", "")),
        response_url=command.get("response_url"),
        team=command.get("team_id"),
    )
    await router_of(context).dispatch(client, parsed, conv)
