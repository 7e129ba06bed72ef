"""How a check gets answered in Slack: "checking…", then the report in its place.

The report is posted with chat.postMessage and then edited with chat.update, so it is a
real message the team can thread under. The "checking…" post goes out while the check
runs, and the report is stored while it is shown, so neither round trip delays the
answer. Every Web API call and response_url post retries on 429 (honouring
Retry-After), on 5xx and on connection errors, and gives up after 10 s without an answer.

A report that exists reaches the person: when Slack will not take the message (not a
member, errors after the retries, no answer), it goes through the command's response_url,
else ephemerally, else as its fallback text alone. A database that fails costs the
history, never the answer: the report goes out with a note that it was not kept.
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
from bot.service import refuse_early, run
from bot.slack import blocks
from bot.slack.deps import Conversation, Deps
from bot.slack.language import settle
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


#: Seconds one Slack call may take before it counts as failed (Slack answers in well under 1).
SLACK_TIMEOUT = 10

#: Characters of the fallback text in the shortened form (when no blocks get through).
SHORT_TEXT = 1500

NOT_KEPT = N_(
    ":warning: This report was not kept: the history database is unavailable, so "
    "`history` and later Re-checks will not include it."
)


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


@dataclass(frozen=True)
class Placeholder:
    """The "checking…" message: where it is (None: not posted), and whether Slack refused
    the bot this conversation (not a member: the person is told how to invite it)."""

    placement: Placement | None
    not_member: bool = False


def _failure(exc: BaseException) -> str:
    """A failed Slack call in a few words, for the log and the metrics."""
    if isinstance(exc, SlackApiError):
        return _error(exc) or "unknown"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return type(exc).__name__


async def post_progress(client: AsyncWebClient, conv: Conversation, what: str) -> Placeholder:
    """Post "checking…" where the report will go; never raises (the report finds another way)."""
    shown = blocks.progress(what)
    try:
        response = await client.chat_postMessage(
            channel=conv.channel, thread_ts=conv.thread_ts, text=shown.text, blocks=shown.blocks
        )
    except Exception as exc:
        metrics.record_slack_error("chat.postMessage", _failure(exc))
        not_member = isinstance(exc, SlackApiError) and _error(exc) in CANNOT_POST
        log.info("cannot post in %s (%s); answering another way", conv.channel, _failure(exc))
        return Placeholder(None, not_member)
    return Placeholder(Placement(str(response["channel"]), str(response["ts"])))


#: Seconds between progress updates of a range's message (Slack allows about one a second).
PROGRESS_EVERY = 1.0


def range_progress(
    client: AsyncWebClient, posting: asyncio.Task[Placeholder], network: str
) -> Progress:
    """Update the "checking…" message with how far a range has got, at most once a second."""
    last = [time.monotonic()]

    async def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] < PROGRESS_EVERY or not posting.done():
            return
        placement = posting.result().placement
        if placement is None:
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
        except Exception as exc:  # progress is a courtesy; the report still comes
            metrics.record_slack_error("chat.update", _failure(exc))

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
    webhook = AsyncWebhookClient(url, timeout=SLACK_TIMEOUT, retry_handlers=retry_handlers())
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
    "missing_scope": N_(
        "Slack does not let me do that here: the app lacks the permission {needed}. Ask "
        "whoever installed smtpcheck to reinstall it from its manifest, which asks for it."
    ),
    "not_in_channel": N_(
        "I am not a member of this channel, so I cannot read or post in it: invite me with "
        "`/invite @smtpcheck`, then mention me again."
    ),
    "channel_not_found": N_(
        "I cannot see this conversation (a private channel or a direct message I am not part "
        "of): invite me with `/invite @smtpcheck`, then mention me again."
    ),
    "thread_not_found": N_(
        "I cannot find this thread's first message (it may have been deleted): paste what to "
        "check after the mention instead."
    ),
    "is_archived": N_("This channel is archived, so I cannot post in it."),
    "ratelimited": N_(
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
    return _(text).format(needed=f"`{needed}`" if needed else _("it needs"))


async def guarded(
    client: AsyncWebClient, conv: Conversation, work: Callable[[], Awaitable[None]]
) -> None:
    """Run `work`; on a crash, apologise to the person with an error id that is also logged.

    Every reply goes through here, so the asker's language is settled first (`settle`).
    """
    await settle()
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


async def keep_or_say_why(
    store: Store,
    reports: Sequence[Mapping[str, Any]],
    command: Command,
    conv: Conversation,
    thread_ts: str | None,
) -> bool:
    """`keep`, but a database that is down, read-only, corrupt or full only costs the history.

    False when the reports were not kept (counted in /metrics, logged).
    """
    try:
        await keep(store, reports, command, conv, thread_ts)
    except Exception:
        metrics.record_store_error("save_report")
        log.warning("could not keep the report of %s", describe(command), exc_info=True)
        return False
    return True


async def publish(
    client: AsyncWebClient,
    conv: Conversation,
    placeholder: Placeholder,
    rendered: blocks.Rendered,
) -> str:
    """Show the report, by the first way Slack takes; returns which ("nowhere" if none did).

    The "checking…" message is edited into the report; failing that (errors after the
    retries, no answer in time, too long), the command's response_url; then an ephemeral
    message to the person; then the same ways with the fallback text alone.
    """
    placement = placeholder.placement
    if placement is not None:
        try:
            await update(client, placement, rendered)
            return "message"
        except Exception as exc:
            metrics.record_slack_error("chat.update", _failure(exc))
            log.warning("chat.update of %s failed (%s)", placement.ts, _failure(exc))
    short = blocks.Rendered([], blocks.clip(rendered.text, SHORT_TEXT))
    for shown, how in ((rendered, ""), (short, "short ")):
        if conv.response_url:
            try:
                await respond(conv.response_url, shown, ephemeral=False)
                if placeholder.not_member and not how:
                    await respond(conv.response_url, blocks.notice(_(INVITE_HINT)), ephemeral=True)
                return how + "response_url"
            except Exception as exc:
                log.warning("response_url post failed (%s)", _failure(exc))
        try:
            await client.chat_postEphemeral(
                channel=conv.channel,
                user=conv.user,
                thread_ts=conv.thread_ts,
                text=shown.text,
                blocks=shown.blocks or None,
            )
            return how + "ephemeral"
        except Exception as exc:
            metrics.record_slack_error("chat.postEphemeral", _failure(exc))
            log.warning("chat.postEphemeral failed (%s)", _failure(exc))
    try:
        await client.chat_postMessage(
            channel=conv.channel, thread_ts=conv.thread_ts, text=short.text
        )
        return "short message"
    except Exception as exc:
        metrics.record_slack_error("chat.postMessage", _failure(exc))
        log.error(
            "the report for %s in %s reached nobody (%s)", conv.user, conv.channel, _failure(exc)
        )
        return "nowhere"


async def note_not_kept(
    client: AsyncWebClient,
    conv: Conversation,
    placement: Placement | None,
    rendered: blocks.Rendered,
) -> None:
    """Add the "not kept" note to the report shown (or tell the person, where it cannot be edited)."""
    if placement is not None:
        noted = blocks.Rendered(
            [*rendered.blocks[: blocks.MAX_BLOCKS - 1], blocks.notice(_(NOT_KEPT)).blocks[0]],
            rendered.text,
        )
        try:
            await update(client, placement, noted)
            return
        except Exception as exc:
            metrics.record_slack_error("chat.update", _failure(exc))
    try:
        await tell(client, conv, _(NOT_KEPT))
    except Exception as exc:
        log.warning("could not say the report was not kept (%s)", _failure(exc))


def describe(command: Command) -> str:
    """What is being checked, for the "checking…" message: as typed, else what it names."""
    if isinstance(command, Bounce):
        return _("the bounce")
    if isinstance(command, Egress) and not command.expected:
        return _("the egress address")
    for attribute in ("display", "target", "network", "domain", "host", "expected"):
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
    if not recheck:  # a re-check's target was good input once
        try:
            await refuse_early(command, deps.resolver)
        except UsageError as exc:
            await tell(client, conv, blocks.esc(str(exc)))
            return None
    posting = asyncio.create_task(post_progress(client, conv, describe(command)))
    try:
        reports = await _check(client, deps, command, conv, posting, recheck)
    except BaseException:
        _discard(client, posting)
        raise
    placeholder = await posting
    if reports is None:
        if placeholder.placement:
            await delete_quietly(client, placeholder.placement)
        return None
    found = [r.to_json() for r in reports]
    placement = placeholder.placement
    saving: asyncio.Task[bool] | None = None
    if deps.store is not None and not isinstance(command, Range):
        thread = conv.thread_ts or (placement.ts if placement else None)
        saving = asyncio.create_task(keep_or_say_why(deps.store, found, command, conv, thread))
    said: list[str] | None = None
    if recheck:
        said = changes(previous, found[0]) if previous is not None and found else None
    try:
        rendered = blocks.render(
            found,
            values=recheck_values(command, found),
            changes=said,
            requested_by=requested_by,
            watch=deps.watch_enabled,
        )
        went = await publish(client, conv, placeholder, rendered)
    except BaseException:
        if placement is not None:
            _background(delete_quietly(client, placement))
        raise
    if went != "message":
        if placement is not None:  # the "checking…" message will not become the report
            _background(delete_quietly(client, placement))
        placement = None
    elif isinstance(command, Range) and placement is not None:
        await post_table(client, placement, reports)
    if saving is not None and not await saving:
        await note_not_kept(client, conv, placement, rendered)
    return Delivered(placement, found)


async def _check(
    client: AsyncWebClient,
    deps: Deps,
    command: Command,
    conv: Conversation,
    posting: asyncio.Task[Placeholder],
    recheck: bool,
) -> list[Report] | None:
    """The reports of `command`; None when there are none (the person was told why)."""
    resolver = deps.fresh_resolver() if recheck else deps.resolver
    try:
        if isinstance(command, Smtp | Mx | Egress):
            async with deps.probes.slot(conv.user):
                return await run(command, resolver, deps.settings)
        if isinstance(command, Range):
            shown = range_progress(client, posting, command.network)
            return await run(command, resolver, deps.settings, shown)
        return await run(command, resolver, deps.settings)
    except ProbeLimitExceeded as exc:
        await tell(
            client,
            conv,
            ngettext(
                "You already have {n} SMTP probe running; wait for it to finish and try again.",
                "You already have {n} SMTP probes running; wait for one to finish and try again.",
                exc.limit,
            ).format(n=exc.limit),
        )
        return None
    except UsageError as exc:
        await tell(client, conv, blocks.esc(str(exc)))
        return None
    finally:
        if recheck:
            resolver.close()  # its sockets; the shared resolver stays open


#: Tasks nobody awaits (a placeholder's removal): kept referenced until they finish.
_PENDING: set[asyncio.Task[Any]] = set()


def _background(work: Awaitable[Any]) -> None:
    async def run_it() -> None:
        await work

    task = asyncio.get_running_loop().create_task(run_it())
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


def _discard(client: AsyncWebClient, posting: asyncio.Task[Placeholder]) -> None:
    """The check crashed: remove its "checking…" message once it is posted."""

    async def remove() -> None:
        placeholder = await posting
        if placeholder.placement:
            await delete_quietly(client, placeholder.placement)

    _background(remove())
