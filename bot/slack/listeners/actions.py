"""Buttons: Re-check (a fresh report in the report's thread), Watch, and link buttons.

A button's value carries everything a re-check needs (target, domain, scope and a digest
of the previous result), so whichever replica gets the click can serve it.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.grammar import Check, UsageError, Watch, check_domain, check_target
from bot.slack import blocks
from bot.slack.deps import Conversation
from bot.slack.incidents import STOP_ACTION
from bot.slack.router import router_of


def register(app: AsyncApp) -> None:
    app.action(blocks.RECHECK_ACTION)(recheck)
    app.action(blocks.WATCH_ACTION)(watch_start)
    app.action(re.compile(f"^{blocks.LINK_ACTION_PREFIX}"))(link_clicked)
    app.action(STOP_ACTION)(watch_stop)


def conversation(body: dict[str, Any]) -> Conversation:
    """Answer in the thread of the message the button sits on."""
    message = body.get("message") or {}
    container = body.get("container") or {}
    return Conversation(
        channel=str((body.get("channel") or {}).get("id") or container.get("channel_id", "")),
        user=str((body.get("user") or {}).get("id", "")),
        thread_ts=message.get("thread_ts") or message.get("ts") or container.get("message_ts"),
        response_url=body.get("response_url"),
        team=(body.get("team") or {}).get("id"),
    )


def command_from(value: dict[str, Any]) -> Check:
    """The check a button value describes, validated like typed input."""
    scope = value.get("s", "full")
    if scope not in ("full", "bl", "ptr"):
        raise UsageError("unknown scope")
    domain = value.get("d")
    return Check(
        check_target(str(value["t"])), check_domain(str(domain)) if domain else None, scope
    )


async def recheck(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    await ack()
    router = router_of(context)
    conv = conversation(body)
    try:
        value = blocks.read_button_value(str(body["actions"][0]["value"]))
        command = command_from(value)
    except (ValueError, KeyError, UsageError):
        await router.unreadable(client, conv)
        return
    previous = value.get("p") if isinstance(value.get("p"), dict) else None
    await router.dispatch(
        client, command, conv, previous=previous, recheck=True, requested_by=conv.user
    )


async def watch_start(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    await ack()
    router = router_of(context)
    conv = conversation(body)
    try:
        check = command_from(blocks.read_button_value(str(body["actions"][0]["value"])))
    except (ValueError, KeyError, UsageError):
        await router.unreadable(client, conv)
        return
    await router.dispatch(client, Watch(check.target, check.domain), conv)


async def watch_stop(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    """The Stop button on a watch's messages: its value is the watch's id."""
    await ack()
    raw = str(body["actions"][0].get("value", ""))
    await router_of(context).stop_watch(client, raw, conversation(body))


async def link_clicked(ack: AsyncAck) -> None:
    """Link buttons open their page in the browser; Slack still expects an ack."""
    await ack()
