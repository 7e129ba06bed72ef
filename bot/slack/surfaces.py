"""Slack's own surfaces around a check: the Check modal, App Home, direct messages, the step.

The listeners parse and acknowledge; what these surfaces then need from Slack and the
store (open a view, publish the home tab, find the person's direct message, run the
workflow step's check) lives here, with the Block Kit in `bot.slack.modal`,
`bot.slack.home` and `bot.slack.step`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.grammar import Check, UsageError, parse
from bot.service import run
from bot.slack import home, modal
from bot.slack.deps import Conversation, Deps
from bot.slack.step import step_outputs
from bot.store import Monitor as MonitorRow
from bot.store import ReportRow, Store
from bot.store import Watch as WatchRow
from handlers.i18n import N_, _, ngettext, number

log = logging.getLogger("smtpcheck.slack")

#: The shortcuts' callback ids, as declared in manifest.yml.
MESSAGE_SHORTCUT = "smtpcheck_message"
OPEN_SHORTCUT = "smtpcheck_open"

NEED_ADDRESS = N_("The step needs an address or host name to check, e.g. 51.158.10.22.")
ONE_ADDRESS = N_(
    "The step checks one address or host name; a range is checked with `/smtpcheck bl RANGE`."
)
HOME_UNAVAILABLE = N_(
    "Watches and your last checks cannot be read just now; open Home again in a minute."
)


def is_persons_direct_message(event: dict[str, Any], bot_user_id: str | None) -> bool:
    """A new message a person typed in their DM with the bot (no subtype, not a bot's)."""
    return (
        event.get("channel_type") == "im"
        and not event.get("subtype")
        and not event.get("bot_id")
        and bool(event.get("user"))
        and event.get("user") != bot_user_id
    )


async def direct_conversation(client: AsyncWebClient, user: str) -> Conversation:
    """The person's direct message with the bot, where answers go that have no channel.

    Without its id (an installation that predates the im:write scope), the user id: Slack
    posts a message sent to a user id in the bot's direct message with them.
    """
    try:
        response = await client.conversations_open(users=user)
        return Conversation(channel=str(response["channel"]["id"]), user=user)
    except SlackApiError as exc:
        log.warning("conversations.open for %s failed (%s)", user, exc.response.get("error"))
        return Conversation(channel=user, user=user)


async def open_check(
    client: AsyncWebClient, trigger_id: str, origin: modal.Origin, form: modal.Form | None = None
) -> None:
    """Open the Check modal (a trigger is good for 3 seconds: call right after the ack)."""
    await client.views_open(trigger_id=trigger_id, view=modal.check_modal(origin, form))


# ---- App Home ------------------------------------------------------------------------


def watch_row(watch: WatchRow) -> home.Running:
    last = watch.last_report or {}
    verdict = last.get("verdict") if isinstance(last, Mapping) else None
    return home.Running(
        what=home.WATCH,
        target=watch.target,
        domain=watch.domain,
        channel_id=watch.channel_id,
        since=watch.created_at,
        verdict=str(verdict) if verdict else None,
        stop_action=home.STOP_WATCH_ACTION,
        stop_value=str(watch.id),
    )


def monitor_row(monitor: MonitorRow) -> home.Running:
    """A monitor has no single verdict: its last run says how many addresses were listed."""
    last_run = (
        ngettext(
            "{listed} of {n} address listed",
            "{listed} of {n} addresses listed",
            monitor.addresses,
        ).format(listed=number(monitor.listed_now), n=number(monitor.addresses))
        if monitor.last_run_at is not None
        else _("not run yet")
    )
    return home.Running(
        what=home.MONITOR,
        target=monitor.target,
        domain=None,
        channel_id=monitor.channel_id,
        since=monitor.created_at,
        verdict=None,
        stop_action=home.STOP_MONITOR_ACTION,
        stop_value=str(monitor.id),
        last_run=last_run,
    )


def running_rows(store: Store) -> list[home.Running]:
    """Everything that re-checks on a schedule in the workspace (watches, then monitors)."""
    watches = [watch_row(w) for w in store.active_watches()]
    return watches + [monitor_row(m) for m in store.list_monitors()]


def recent_row(row: ReportRow) -> home.Recent:
    text = home.recheck_text(row.report, row.domain)
    return home.Recent(
        target=row.target,
        domain=row.domain,
        verdict=row.verdict,
        created_at=row.created_at,
        recheck_value=home.recheck_value(text, row.id) if text else None,
    )


def _home_rows(store: Store, user: str) -> tuple[list[home.Running], list[home.Recent]]:
    recent = store.recent_reports(user, home.SHOWN_RECENT)
    return running_rows(store), [recent_row(r) for r in recent]


async def publish_home(client: AsyncWebClient, deps: Deps, user: str) -> None:
    """views.publish the person's home tab; a store that cannot be read leaves a note."""
    if deps.store is None:
        view = home.home_view([], [], store_enabled=False)
    else:
        try:
            running, recent = await asyncio.to_thread(_home_rows, deps.store, user)
            view = home.home_view(running, recent)
        except Exception:
            log.exception("could not read the store for %s's App Home", user)
            view = home.home_view([], [], notice=_(HOME_UNAVAILABLE))
    await client.views_publish(user_id=user, view=view)


async def stored_report(deps: Deps, report_id: int | None) -> dict[str, Any] | None:
    """The stored report a Re-check compares against (None when gone or unreadable)."""
    if deps.store is None or report_id is None:
        return None
    try:
        row = await asyncio.to_thread(deps.store.get_report, report_id)
    except Exception:
        log.exception("could not read report %s for a re-check", report_id)
        return None
    return row.report if row else None


# ---- the Workflow Builder step -------------------------------------------------------


def step_command(inputs: Mapping[str, Any]) -> Check:
    """The check the step's inputs ask for, read with the grammar (UsageError: its sentence)."""
    address = str(inputs.get("address") or "").strip()
    domain = str(inputs.get("domain") or "").strip()
    if not address:
        raise UsageError(_(NEED_ADDRESS))
    command = parse(f"check {address} {domain}".strip())
    if not isinstance(command, Check):
        raise UsageError(_(ONE_ADDRESS))
    return command


async def workflow_check(deps: Deps, inputs: Mapping[str, Any]) -> dict[str, str]:
    """Run the step's check and return its outputs; kept in the history like any report."""
    command = step_command(inputs)
    reports = [r.to_json() for r in await run(command, deps.resolver, deps.settings)]
    if deps.store is not None:
        store = deps.store

        def save() -> None:
            for report in reports:
                store.save_report(report, domain=command.domain)

        try:
            await asyncio.to_thread(save)
        except Exception:  # the workflow still gets its answer
            log.exception("could not keep the workflow step's report")
    return step_outputs(reports)
