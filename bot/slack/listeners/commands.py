"""`/smtpcheck ...`: parse, acknowledge at once, then check and post.

The ack happens before anything slow (no DNS): bad input and `help` are answered in
the ack itself, ephemeral, so nothing reaches the channel; only those wait for the
person's language before the ack. `/smtpcheck` alone opens the Check modal, whose answer
comes back to this channel.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.grammar import Command, Help, UsageError, bad_input, parse, usage
from bot.slack import blocks
from bot.slack.delivery import guarded, tell
from bot.slack.deps import Conversation
from bot.slack.language import settle
from bot.slack.modal import Origin
from bot.slack.router import router_of
from bot.slack.surfaces import open_check

log = logging.getLogger("smtpcheck.slack")

COMMAND = "/smtpcheck"


def register(app: AsyncApp) -> None:
    app.command(COMMAND)(smtpcheck_command)


async def smtpcheck_command(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    if not str(command.get("text") or "").strip():
        await ack()
        await settle()
        await _open_modal(client, command)
        return
    text = str(command.get("text") or "")
    ports = router_of(context).deps.settings.smtp_ports
    parsed = _parse(text, ports)
    if isinstance(parsed, UsageError | Help):
        # The ack itself is the answer: wait for the person's language, and say it in that.
        await settle()
        parsed = _parse(text, ports)
    if isinstance(parsed, UsageError):
        await ack(response_type="ephemeral", text=blocks.esc(bad_input(str(parsed))))
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


def _parse(text: str, ports: Sequence[int]) -> Command | UsageError:
    """The command, or why not (its sentence in the language of the moment)."""
    try:
        return parse(text, ports=ports)
    except UsageError as exc:
        return exc


async def _open_modal(client: AsyncWebClient, command: dict[str, Any]) -> None:
    """The Check modal, answering in this channel; the usage if Slack will not open it."""
    origin = Origin(
        channel=str(command.get("channel_id") or "") or None,
        response_url=command.get("response_url") or None,
    )
    try:
        await open_check(client, str(command.get("trigger_id", "")), origin)
    except SlackApiError as exc:
        log.warning("could not open the Check modal: %s", exc.response.get("error"))
        conv = Conversation(
            channel=str(command.get("channel_id", "")),
            user=str(command.get("user_id", "")),
            response_url=command.get("response_url"),
        )
        await guarded(client, conv, lambda: tell(client, conv, blocks.usage_text(usage())))
