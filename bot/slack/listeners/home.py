"""App Home: the tab is published when opened, and its buttons (Open Check, Stop, Re-check).

Home buttons come from a view, not a message: there is no channel to answer in, so a
Re-check goes to the person's direct message, and a Stop republishes the tab. Each waits
for the person's language after its ack (`settle`), before rendering.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.grammar import UsageError, parse
from bot.slack import home
from bot.slack.deps import deps_of
from bot.slack.language import settle
from bot.slack.modal import Origin
from bot.slack.router import router_of
from bot.slack.surfaces import direct_conversation, open_check, publish_home, stored_report
from handlers.numbers import ascii_int

log = logging.getLogger("smtpcheck.slack")


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(on_home_opened)
    app.action(home.OPEN_CHECK_ACTION)(on_open_check)
    app.action(home.STOP_WATCH_ACTION)(on_stop)
    app.action(home.STOP_MONITOR_ACTION)(on_stop)
    app.action(home.RECHECK_ACTION)(on_recheck)


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


async def on_home_opened(
    event: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    if event.get("tab", "home") != "home" or not event.get("user"):
        return
    await settle()
    await publish_home(client, deps_of(context), str(event["user"]))


async def on_open_check(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
    await ack()
    await settle()
    try:
        await open_check(client, str(body.get("trigger_id", "")), Origin())
    except SlackApiError as exc:
        log.warning("could not open the Check modal: %s", exc.response.get("error"))


async def on_stop(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    """Stop a watch or a monitor from Home, say so in its thread, and show the tab without it."""
    await ack()
    await settle()
    router = router_of(context)
    user = _user(body)
    action = body["actions"][0]
    found = ascii_int(str(action.get("value", "")))
    if router.incidents is not None and found is not None:
        if action.get("action_id") == home.STOP_MONITOR_ACTION:
            await router.incidents.stop_monitor(found, user, client)
        else:
            await router.incidents.stop_watch(found, user, client)
    await publish_home(client, router.deps, user)


async def on_recheck(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    """Re-check one of the person's last checks; the fresh report goes to their DM."""
    await ack()
    router = router_of(context)
    user = _user(body)
    conv = await direct_conversation(client, user)
    try:
        text, report_id = home.read_recheck_value(str(body["actions"][0]["value"]))
        command = parse(text, ports=router.deps.settings.smtp_ports)
    except (ValueError, KeyError, UsageError):
        await router.unreadable(client, conv)
        return
    previous = await stored_report(router.deps, report_id)
    await router.dispatch(
        client, command, conv, previous=previous, recheck=previous is not None, requested_by=user
    )
