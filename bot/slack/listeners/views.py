"""The Check modal's submission: fields read with the grammar, errors shown on the field.

A form the grammar refuses is answered in the ack itself (`response_action: errors`), so
the modal stays open with the sentence under the field to fix: only that ack waits for the
person's language. A good one closes, and
the answer goes where the modal was opened, else to the person's direct message.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.deps import Conversation
from bot.slack.language import settle
from bot.slack.modal import CALLBACK_ID, FormError, Origin, commands_of, read_form
from bot.slack.router import router_of
from bot.slack.surfaces import direct_conversation


def register(app: AsyncApp) -> None:
    app.view(CALLBACK_ID)(on_check_submitted)


async def on_check_submitted(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: dict[str, Any],
) -> None:
    ports = router_of(context).deps.settings.smtp_ports
    try:
        commands = commands_of(read_form(view), ports)
    except FormError:
        # The ack shows what to fix: wait for the person's language, and say it in that.
        await settle()
        try:
            commands = commands_of(read_form(view), ports)
        except FormError as exc:
            await ack(response_action="errors", errors=exc.errors)
            return
    await ack()
    user = str((body.get("user") or {}).get("id", ""))
    origin = Origin.from_metadata(view.get("private_metadata"))
    if origin.channel:
        conv = Conversation(
            channel=origin.channel,
            user=user,
            thread_ts=origin.thread_ts,
            response_url=origin.response_url,
            team=(body.get("team") or {}).get("id"),
        )
    else:
        conv = await direct_conversation(client, user)
    router = router_of(context)
    for command in commands:
        await router.dispatch(client, command, conv)
