"""How a check gets answered in Slack: "checking…", then the report in its place.

The report is posted with chat.postMessage and then edited with chat.update, so it is a
real message the team can thread under. Where the bot may not post (not a member of the
conversation), the answer goes through the command's response_url instead, and the person
is told how to invite the bot. Every Web API call and response_url post retries on 429
(honouring Retry-After), on 5xx and on connection errors.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import metrics
from bot.changes import changes
from bot.grammar import Bounce, Check, Command, Egress, Mx, Range, Smtp, UsageError
from bot.service import run
from bot.slack import blocks
from bot.slack.deps import Conversation, Deps
from bot.store import Store
from handlers.i18n import N_, _, ngettext
from handlers.ranges import Progress, RangeResult
from handlers.report import Report
from handlers.smtp import ProbeLimitExceeded

log = logging.getLogger("smtpcheck.slack")

#: Errors meaning "the bot may not post here", not "something broke".
CANNOT_POST = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})

INVITE_HINT = N_(
    "I am not a member of this conversation, so I answered through the command and the "
    "report cannot have a thread or re-checks. Invite me with `/invite @smtpcheck`."
)


class ReplyError(RuntimeError):
    """A response_url post that still failed after the retries."""


def retry_handlers() -> list[AsyncRetryHandler]:
    """Retries for every Slack call: 429 with Retry-After, 5xx, dropped connections."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=3),
        AsyncConnectionErrorRetryHandler(max_retry_count=3),
    ]


@dataclass(frozen=True)
class Placement:
    """A message the bot posted and can update."""

    channel: str
    ts: str


@dataclass(frozen=True)
class Delivered:
    """Where a report went (None: through the response_url) and the JSON reports posted."""

    placement: Placement | None
    reports: list[dict[str, Any]]


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "")) if exc.response is not None else ""


async def post_progress(client: AsyncWebClient, conv: Conversation, what: str) -> Placement | None:
    """Post "checking…" where the report will go; None when the bot may not post there."""
    shown = blocks.progress(what)
    try:
        response = await client.chat_postMessage(
            channel=conv.channel, thread_ts=conv.thread_ts, text=shown.text, blocks=shown.blocks
        )
    except SlackApiError as exc:
        metrics.record_slack_error("chat.postMessage", _error(exc))
        if _error(exc) in CANNOT_POST:
            log.info(
                "cannot post in %s (%s); answering via response_url", conv.channel, _error(exc)
            )
            return None
        raise
    return Placement(str(response["channel"]), str(response["ts"]))


#: Seconds between progress updates of a range's message (Slack allows about one a second).
PROGRESS_EVERY = 1.0


def range_progress(
    client: AsyncWebClient, placement: Placement | None, network: str
) -> Progress | None:
    """Update the "checking…" message with how far a range has got, at most once a second."""
    if placement is None:
        return None
    last = [time.monotonic()]

    async def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] < PROGRESS_EVERY:
            return
        last[0] = now
        shown = blocks.progress(
            ngettext(
                "{network}: {done} of {total} address",
                "{network}: {done} of {total} addresses",
                total,
            ).format(network=network, done=done, total=total)
        )
        try:
            await update(client, placement, shown)
        except SlackApiError as exc:  # progress is a courtesy; the report still comes
            metrics.record_slack_error("chat.update", _error(exc))

    return show


async def post_table(
    client: AsyncWebClient, placement: Placement, reports: Sequence[Report]
) -> None:
    """A range's full table (every address, listed first) as a reply in the report's thread."""
    for report in reports:
        result = report.checks.get("range")
        if not isinstance(result, RangeResult):
            continue
        title = ngettext(
            "The {n} address of {network}, listed first:",
            "All {n} addresses of {network}, listed first:",
            result.addresses,
        ).format(n=result.addresses, network=result.network)
        for message in blocks.table_messages(title, result.table()):
            await client.chat_postMessage(
                channel=placement.channel,
                thread_ts=placement.ts,
                text=message.text,
                blocks=message.blocks,
            )


async def update(client: AsyncWebClient, placement: Placement, rendered: blocks.Rendered) -> None:
    await client.chat_update(
        channel=placement.channel, ts=placement.ts, text=rendered.text, blocks=rendered.blocks
    )


async def delete_quietly(client: AsyncWebClient, placement: Placement) -> None:
    """Remove a "checking…" message that will not become a report (best effort)."""
    try:
        await client.chat_delete(channel=placement.channel, ts=placement.ts)
    except Exception:
        log.warning("could not delete the progress message %s", placement.ts)


async def respond(url: str, rendered: blocks.Rendered, *, ephemeral: bool) -> None:
    """Post to a response_url (never replacing the message a button sits on)."""
    webhook = AsyncWebhookClient(url, retry_handlers=retry_handlers())
    response = await webhook.send(
        text=rendered.text,
        blocks=rendered.blocks,
        response_type="ephemeral" if ephemeral else "in_channel",
        replace_original=False,
    )
    if response.status_code != 200:
        raise ReplyError(f"response_url answered {response.status_code}")


async def tell(client: AsyncWebClient, conv: Conversation, text: str) -> None:
    """An ephemeral message to the person only (`text` already mrkdwn-safe).

    chat.postEphemeral first; the response_url when the bot may not post there.
    """
    shown = blocks.notice(text)
    try:
        await client.chat_postEphemeral(
            channel=conv.channel,
            user=conv.user,
            thread_ts=conv.thread_ts,
            text=shown.text,
            blocks=shown.blocks,
        )
        return
    except SlackApiError as exc:
        metrics.record_slack_error("chat.postEphemeral", _error(exc))
        if not conv.response_url:
            raise
        log.info("chat.postEphemeral failed (%s); using response_url", _error(exc))
    await respond(conv.response_url, shown, ephemeral=True)


def new_error_id() -> str:
    return secrets.token_hex(4)


#: What Slack's refusals mean to the person who asked, and what they can do about it.
_REFUSALS = {
    "missing_scope": (
        "Slack does not let me do that here: the app lacks the permission {needed}. Ask "
        "whoever installed smtpcheck to reinstall it from its manifest, which asks for it."
    ),
    "not_in_channel": (
        "I am not a member of this channel, so I cannot read or post in it: invite me with "
        "`/invite @smtpcheck`, then mention me again."
    ),
    "channel_not_found": (
        "I cannot see this conversation (a private channel or a direct message I am not part "
        "of): invite me with `/invite @smtpcheck`, then mention me again."
    ),
    "thread_not_found": (
        "I cannot find this thread's first message (it may have been deleted): paste what to "
        "check after the mention instead."
    ),
    "is_archived": "This channel is archived, so I cannot post in it.",
    "ratelimited": (
        "Slack is limiting how fast I may read this conversation: try again in a minute."
    ),
}


def slack_refusal(exc: SlackApiError) -> str | None:
    """A sentence the person can act on for a Slack error they can fix, or None."""
    code = _error(exc)
    text = _REFUSALS.get(code)
    if text is None:
        return None
    needed = str(exc.response.get("needed") or "") if exc.response is not None else ""
    return text.format(needed=f"`{needed}`" if needed else "it needs")


async def guarded(
    client: AsyncWebClient, conv: Conversation, work: Callable[[], Awaitable[None]]
) -> None:
    """Run `work`; on a crash, apologise to the person with an error id that is also logged."""
    try:
        await work()
    except Exception as exc:
        if isinstance(exc, SlackApiError):
            metrics.record_slack_error(str(exc.response.api_url).rsplit("/", 1)[-1], _error(exc))
            sentence = slack_refusal(exc)
            if sentence is not None:
                log.warning(
                    "Slack refused while answering %s in %s: %s",
                    conv.user,
                    conv.channel,
                    _error(exc),
                )
                try:
                    await tell(client, conv, sentence)
                except Exception:
                    log.exception("could not tell %s why Slack refused either", conv.user)
                return
        error_id = new_error_id()
        log.exception("error %s while answering %s in %s", error_id, conv.user, conv.channel)
        try:
            await tell(
                client,
                conv,
                _(
                    ":warning: Sorry, something went wrong on my side (error id `{error_id}`). "
                    "Please try again; if it keeps happening, give the error id to whoever runs "
                    "smtpcheck."
                ).format(error_id=error_id),
            )
        except Exception:
            log.exception("error %s: could not tell %s either", error_id, conv.user)


async def keep(
    store: Store,
    reports: Sequence[Mapping[str, Any]],
    command: Command,
    conv: Conversation,
    thread_ts: str | None,
) -> None:
    """Store every report the bot posts (target, domain, who, where, the JSON): the history."""
    domain = command.domain if isinstance(command, Check) else None

    def save() -> None:
        for report in reports:
            store.save_report(
                report,
                domain=domain,
                user_id=conv.user,
                channel_id=conv.channel,
                thread_ts=thread_ts,
            )

    await asyncio.to_thread(save)


def describe(command: Command) -> str:
    """What is being checked, for the "checking…" message."""
    for attribute in ("target", "domain", "host", "expected"):
        value = getattr(command, attribute, None)
        if value:
            return str(value)
    return _("your request")


def recheck_values(command: Command, reports: Sequence[Mapping[str, Any]]) -> list[str | None]:
    """One Re-check button value per report; only address checks can be re-checked.

    A bounce's report is the full check of the sending address it names (with SPF for the
    bounce's mail domain), so its Re-check and Watch buttons re-check that address.
    """
    if isinstance(command, Bounce):
        return [_bounce_value(r) for r in reports]
    if not isinstance(command, Check):
        return [None] * len(reports)
    return [
        blocks.button_value(
            str(r.get("target")), command.domain, command.scope, r, hostname=r.get("hostname")
        )
        for r in reports
    ]


def _bounce_value(report: Mapping[str, Any]) -> str | None:
    checks = report.get("checks") or {}
    bounce = checks.get("bounce") if isinstance(checks, Mapping) else None
    if not isinstance(bounce, Mapping) or "dnsbl" not in checks:
        return None  # no address named: nothing to re-check
    domain = bounce.get("domain")
    return blocks.button_value(
        str(report.get("target")), str(domain) if domain else None, "full", report
    )


async def deliver(
    client: AsyncWebClient,
    deps: Deps,
    command: Command,
    conv: Conversation,
    *,
    previous: Mapping[str, Any] | None = None,
    recheck: bool = False,
    requested_by: str | None = None,
) -> Delivered | None:
    """Check `command` and post the report in `conv` (a re-check states what changed).

    Returns where it went, or None when there was no report (the person was told why).
    """
    placement = await post_progress(client, conv, describe(command))
    try:
        resolver = deps.fresh_resolver() if recheck else deps.resolver
        try:
            if isinstance(command, Smtp | Mx | Egress):
                async with deps.probes.slot(conv.user):
                    reports = await run(command, resolver, deps.settings)
            elif isinstance(command, Range):
                shown = range_progress(client, placement, command.network)
                reports = await run(command, resolver, deps.settings, shown)
            else:
                reports = await run(command, resolver, deps.settings)
        except ProbeLimitExceeded as exc:
            if placement:
                await delete_quietly(client, placement)
                placement = None
            await tell(
                client,
                conv,
                ngettext(
                    "You already have {n} SMTP probe running; wait for it to finish and try again.",
                    "You already have {n} SMTP probes running; wait for one to finish and try "
                    "again.",
                    exc.limit,
                ).format(n=exc.limit),
            )
            return None
        except UsageError as exc:
            if placement:
                await delete_quietly(client, placement)
                placement = None
            await tell(client, conv, blocks.esc(str(exc)))
            return None
        finally:
            if recheck:
                resolver.close()  # its sockets; the shared resolver stays open
        found = [r.to_json() for r in reports]
        if deps.store is not None and not isinstance(command, Range):
            thread = conv.thread_ts or (placement.ts if placement else None)
            await keep(deps.store, found, command, conv, thread)
        said: list[str] | None = None
        if recheck:
            said = changes(previous, found[0]) if previous is not None and found else None
        rendered = blocks.render(
            found,
            values=recheck_values(command, found),
            changes=said,
            requested_by=requested_by,
            watch=deps.watch_enabled,
        )
        if placement:
            await update(client, placement, rendered)
            if isinstance(command, Range):
                await post_table(client, placement, reports)
            return Delivered(placement, found)
        if not conv.response_url:
            log.warning("cannot post in %s and there is no response_url", conv.channel)
            return Delivered(None, found)
        await respond(conv.response_url, rendered, ephemeral=False)
        await respond(conv.response_url, blocks.notice(_(INVITE_HINT)), ephemeral=True)
        return Delivered(None, found)
    except BaseException:
        if placement:
            await delete_quietly(client, placement)
        raise
