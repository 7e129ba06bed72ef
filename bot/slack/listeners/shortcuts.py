"""Shortcuts: "Check with smtpcheck" on a message, and the global one that opens the modal.

The message shortcut's payload carries the message itself, so no history scope and no
conversations.replies call (rate-limited hard for apps outside the Marketplace) are
needed: what it names is checked, and the answer goes in that message's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.delivery import guarded, tell
from bot.slack.deps import Conversation
from bot.slack.language import settle
from bot.slack.modal import Origin
from bot.slack.router import router_of
from bot.slack.surfaces import MESSAGE_SHORTCUT, OPEN_SHORTCUT, open_check
from bot.slack.threads import commands_in
from handlers.i18n import N_, _

log = logging.getLogger("smtpcheck.slack")

NOTHING_USABLE = N_(
    "I found nothing to check in that message: no IP address, no host name, no mail domain "
    "and no bounce. Use the shortcut on the message with the bounce or the server's address, "
    "or type `/smtpcheck 51.158.10.22 example.com`."
)


def register(app: AsyncApp) -> None:
    app.shortcut(MESSAGE_SHORTCUT)(on_message_shortcut)
    app.shortcut(OPEN_SHORTCUT)(on_open_shortcut)


def message_text(message: Mapping[str, Any]) -> str:
    """A message's text and its attachments' text (forwarded mail, bots' alerts)."""
    parts = [str(message.get("text") or "")]
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, Mapping):
            parts += [str(attachment.get(k) or "") for k in ("pretext", "title", "text")]
    return "\n".join(p for p in parts if p)


async def on_message_shortcut(
    ack: AsyncAck, shortcut: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    await ack()
    message = shortcut.get("message") or {}
    conv = Conversation(
        channel=str((shortcut.get("channel") or {}).get("id", "")),
        user=str((shortcut.get("user") or {}).get("id", "")),
        thread_ts=message.get("thread_ts") or message.get("ts") or shortcut.get("message_ts"),
        response_url=shortcut.get("response_url"),
        team=(shortcut.get("team") or {}).get("id"),
    )
    router = router_of(context)
    commands = commands_in(message_text(message), router.deps.settings.smtp_ports)
    if not commands:
        await guarded(client, conv, lambda: tell(client, conv, _(NOTHING_USABLE)))
        return
    for command in commands:
        await router.dispatch(client, command, conv)


async def on_open_shortcut(ack: AsyncAck, shortcut: dict[str, Any], client: AsyncWebClient) -> None:
    """The global shortcut has no conversation: the answer goes to the person."""
    await ack()
    await settle()
    try:
        await open_check(client, str(shortcut.get("trigger_id", "")), Origin())
    except SlackApiError as exc:
        log.warning("could not open the Check modal: %s", exc.response.get("error"))
