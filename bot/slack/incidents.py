"""Incident threads in Slack: keep every report, watch addresses, answer history.

The commands that need the store: `Incidents.dispatch` serves watch, unwatch and history
(the router sends them here), and `Incidents.post_watch` is how the watch loop speaks in
a thread. Every report's storing is `bot.slack.delivery.keep`. The watch loop itself
(`bot.watches.WatchRunner`) knows nothing of Slack.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import metrics
from bot.config import make_resolver
from bot.grammar import Check, Command, History, Monitor, Unmonitor, Unwatch, UsageError, Watch
from bot.monitors import ChunkResult, MonitorRunner
from bot.slack import blocks
from bot.slack.delivery import CANNOT_POST, deliver, tell
from bot.slack.deps import Conversation, Deps
from bot.slack.threads import command_in, first_message
from bot.store import HISTORY_NOTE, MonitorExistsError, Store, WatchExistsError, history_lines
from bot.store import Monitor as MonitorRow
from bot.store import Watch as WatchRow
from bot.watches import Undeliverable, WatchRunner
from handlers import i18n
from handlers.check import full_check
from handlers.i18n import N_, Language, _, ngettext
from handlers.ranges import RangeError, check_addresses, parse_range

#: Most addresses one monitor covers: a pool from SMTPCHECK_POOLS may be several ranges.
MAX_MONITOR_ADDRESSES = 4096

log = logging.getLogger("smtpcheck.incidents")

STOP_ACTION = "watch_stop"
NEED_THREAD = N_(
    "I can only watch where I can post: invite me with `/invite @smtpcheck`, then start the "
    "watch again."
)
#: A watch or monitor lives in the database; one that cannot be written is not started.
WATCH_NOT_KEPT = N_(
    ":warning: I could not start watching {target}: the database that keeps watches cannot "
    "be written to right now. Nothing was started; try again once it is back."
)
MONITOR_NOT_KEPT = N_(
    ":warning: I could not start monitoring {target}: the database that keeps monitors "
    "cannot be written to right now. Nothing was started; try again once it is back."
)


def _minutes(seconds: int) -> str:
    minutes = seconds // 60
    if minutes % 60 == 0 and minutes >= 60:
        return _("{n} h").format(n=minutes // 60)
    return _("{n} min").format(n=minutes)


def with_stop_button(rendered: blocks.Rendered, watch_id: int) -> blocks.Rendered:
    """Add a "Stop watching" button beside the report's Re-check button (pure)."""
    button = {
        "type": "button",
        "action_id": STOP_ACTION,
        "text": {"type": "plain_text", "text": _(":no_bell: Stop watching"), "emoji": True},
        "value": str(watch_id),
        "style": "danger",
    }
    out = [dict(b) for b in rendered.blocks]
    for block in out:
        if block.get("type") == "actions" and len(block.get("elements", [])) < 25:
            block["elements"] = [*block["elements"][:1], button, *block["elements"][1:]][:25]
            return blocks.Rendered(out, rendered.text)
    if len(out) >= blocks.MAX_BLOCKS:
        out = out[: blocks.MAX_BLOCKS - 1]
    out.append({"type": "actions", "elements": [button]})
    return blocks.Rendered(out, rendered.text)


class Incidents:
    """Storage-backed commands and the watch loop's voice in Slack."""

    def __init__(self, store: Store, deps: Deps, client: AsyncWebClient) -> None:
        """`client` is the app's own Web API client: the watch loop posts outside any request."""
        self.store = store
        self.deps = deps
        self.client = client
        self.runner = WatchRunner(store, self.check, self.post_watch, language=self.language_of)
        self.monitors = MonitorRunner(
            store, self.check_chunk, self.post_monitor, language=self.language_of
        )
        self._loop_task: asyncio.Task[None] | None = None
        self._monitor_task: asyncio.Task[None] | None = None

    # ---- the watch loop ----------------------------------------------------------------

    async def language_of(self, watch: WatchRow | MonitorRow) -> Language:
        """A watch or a monitor speaks the language of whoever started it."""
        return await self.deps.locales.language(self.client, watch.user_id or "")

    async def check(self, target: str, domain: str | None) -> dict[str, Any]:
        """A watch's re-check, on a fresh resolver so no cached answer hides a delisting."""
        resolver = make_resolver(self.deps.settings)
        try:
            report = await full_check(target, domain, resolver, self.deps.settings)
        finally:
            resolver.close()
        return report.to_json()

    async def post_watch(
        self,
        watch: WatchRow,
        text: str,
        report: Mapping[str, Any] | None,
        changes: Sequence[str],
    ) -> None:
        """Say in the watch's thread what changed (with the fresh report), or why it stopped.

        Raises when Slack did not take the post (the runner tells it again next run), and
        Undeliverable when it never will (the conversation is gone, or the bot was removed).
        """
        thread = watch.thread_ts or None
        if report is None or watch.state != "active":
            shown = blocks.notice(blocks.esc(text))
        else:
            value = blocks.button_value(watch.target, watch.domain, "full", report)
            rendered = blocks.render([report], values=[value], changes=list(changes))
            shown = with_stop_button(rendered, watch.id)
            shown = blocks.Rendered(shown.blocks, blocks.clip(f"{text} {shown.text}", 3000))
        try:
            await self.client.chat_postMessage(
                channel=watch.channel_id, thread_ts=thread, text=shown.text, blocks=shown.blocks
            )
        except SlackApiError as exc:
            if exc.response is not None and exc.response.get("error") in CANNOT_POST:
                raise Undeliverable(str(exc.response.get("error"))) from exc
            raise

    async def check_chunk(self, addresses: Sequence[str]) -> ChunkResult:
        """Blocklists for one chunk of a monitor's run, on a fresh resolver (no cached answer)."""
        settings = self.deps.settings
        names = {zone.zone: zone.name for zone in settings.catalogue}
        resolver = make_resolver(settings)
        try:
            tally = await check_addresses(addresses, len(addresses), resolver, settings)
        finally:
            resolver.close()
        listed = {row.address: list(row.lists) for row in tally.rows if row.lists}
        unknown = {
            row.address: [names.get(zone, zone) for zone in row.unavailable]
            for row in tally.rows
            if row.unavailable
        }
        unchecked = sum(1 for row in tally.rows if row.unavailable and not row.lists)
        return ChunkResult(listed, unknown, unchecked)

    async def post_monitor(self, monitor: MonitorRow, text: str) -> None:
        """Say in the monitor's thread what changed; raises when Slack did not take it."""
        shown = blocks.notice(blocks.esc(text))
        await self.client.chat_postMessage(
            channel=monitor.channel_id,
            thread_ts=monitor.thread_ts or None,
            text=shown.text,
            blocks=shown.blocks,
        )

    def start(self, interval: float = 30.0) -> None:
        """Run due watches and monitors every `interval` seconds here (every replica does)."""
        if self._loop_task is None:
            log.info("watching for due watches and monitors every %g s", interval)
            loop = asyncio.get_running_loop()
            self._loop_task = loop.create_task(self.runner.run_forever(interval))
            self._monitor_task = loop.create_task(self.monitors.run_forever(interval))

    async def stop(self) -> None:
        for task in (self._loop_task, self._monitor_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._loop_task = self._monitor_task = None

    # ---- commands ----------------------------------------------------------------------

    async def dispatch(self, command: Command, conv: Conversation, client: AsyncWebClient) -> None:
        """Serve watch, unwatch and history; a usage slip is told to the person only."""
        try:
            await self._dispatch(command, conv, client)
        except UsageError as exc:
            await tell(client, conv, blocks.esc(str(exc)))

    async def _dispatch(self, command: Command, conv: Conversation, client: AsyncWebClient) -> None:
        if isinstance(command, History):
            await self._history(command, conv, client)
        elif isinstance(command, Unwatch):
            await self._unwatch(command, conv, client)
        elif isinstance(command, Watch):
            await self._watch(command, conv, client)
        elif isinstance(command, Monitor):
            await self._monitor(command, conv, client)
        elif isinstance(command, Unmonitor):
            await self._unmonitor(command, conv, client)
        else:
            raise TypeError(f"{type(command).__name__} is not an incident command")

    async def _history(self, command: History, conv: Conversation, client: AsyncWebClient) -> None:
        entries = await asyncio.to_thread(self.store.history, command.target)
        lines = history_lines(entries)
        if not lines:
            text = _("No reports of {target} yet.").format(target=blocks.esc(command.target))
        else:
            body = "\n".join(blocks.esc(line) for line in lines).replace("```", "'''")
            title = _("*History of {target}* (newest first, UTC)").format(
                target=blocks.esc(command.target)
            )
            text = f"{title}\n```{body}```\n{blocks.esc(_(HISTORY_NOTE))}"
        if conv.thread_ts and not conv.response_url:  # a mention in a thread: the team asked
            shown = blocks.notice(text)
            await client.chat_postMessage(
                channel=conv.channel, thread_ts=conv.thread_ts, text=shown.text, blocks=shown.blocks
            )
            return
        await tell(client, conv, text)

    async def _unwatch(self, command: Unwatch, conv: Conversation, client: AsyncWebClient) -> None:
        stopped = await asyncio.to_thread(
            self.store.stop_watch, command.target, conv.channel, reason=f"stopped by <@{conv.user}>"
        )
        if not stopped:
            await tell(
                client,
                conv,
                _("I was not watching {target} in this channel.").format(
                    target=blocks.esc(command.target)
                ),
            )
            return
        for watch in stopped:
            await self._say(client, watch, _stopped_by(watch, conv.user))
        if not any(w.thread_ts == (conv.thread_ts or "") for w in stopped):
            await tell(
                client,
                conv,
                _("Stopped watching {target}.").format(target=blocks.esc(command.target)),
            )

    async def stop_by_id(self, watch_id: int, conv: Conversation, client: AsyncWebClient) -> None:
        """The Stop button."""
        if await self.stop_watch(watch_id, conv.user, client) is None:
            await tell(client, conv, _("That watch has already stopped."))

    async def stop_watch(self, watch_id: int, user: str, client: AsyncWebClient) -> WatchRow | None:
        """Stop one watch and say so in its thread; None when it had already stopped."""
        watch = await asyncio.to_thread(
            self.store.stop_watch_by_id, watch_id, reason=f"stopped by <@{user}>"
        )
        if watch is not None:
            await self._say(client, watch, _stopped_by(watch, user))
        return watch

    async def _say(self, client: AsyncWebClient, watch: WatchRow, text: str) -> None:
        shown = blocks.notice(text)
        await client.chat_postMessage(
            channel=watch.channel_id,
            thread_ts=watch.thread_ts or None,
            text=shown.text,
            blocks=shown.blocks,
        )

    async def _watch(self, command: Watch, conv: Conversation, client: AsyncWebClient) -> None:
        if command.target is None and conv.thread_ts and not conv.response_url:
            command = await self._watch_from_thread(command, conv, client)
        if command.target is None:
            await self._list(conv, client)
            return
        thread = conv.thread_ts
        baseline: Mapping[str, Any] | None = None
        if thread is None:
            # A slash command: the report is the watch's first message and its thread.
            delivered = await deliver(
                client, self.deps, Check(command.target, command.domain), conv
            )
            if delivered is None or delivered.placement is None:
                await tell(client, conv, _(NEED_THREAD))
                return
            thread = delivered.placement.ts
            baseline = delivered.reports[0] if delivered.reports else None
        else:
            latest = await asyncio.to_thread(self.store.latest_report, command.target)
            baseline = latest.report if latest else None
        try:
            watch = await asyncio.to_thread(
                lambda: self.store.add_watch(
                    command.target or "",
                    channel_id=conv.channel,
                    thread_ts=thread,
                    domain=command.domain,
                    user_id=conv.user,
                    every_seconds=command.every_minutes * 60,
                    last_report=baseline,
                )
            )
        except WatchExistsError as exc:
            await tell(
                client,
                conv,
                _("I am already watching {target} in this thread (every {interval}).").format(
                    target=blocks.esc(exc.watch.target), interval=_minutes(exc.watch.every_seconds)
                ),
            )
            return
        except Exception:  # the database is down, read-only, full: the watch would not run
            metrics.record_store_error("add_watch")
            log.warning("watch %s: cannot be kept", command.target, exc_info=True)
            await tell(client, conv, _(WATCH_NOT_KEPT).format(target=blocks.esc(command.target)))
            return
        text = _(
            ":eyes: Watching {target} every {interval} (asked by <@{user}>). I will post here "
            "only when something changes, and stop when all is clean or after 7 days. Stop with "
            "the button or `/smtpcheck unwatch {target}`."
        ).format(
            target=blocks.esc(watch.target), interval=_minutes(watch.every_seconds), user=conv.user
        )
        shown = with_stop_button(blocks.notice(text), watch.id)
        await client.chat_postMessage(
            channel=conv.channel, thread_ts=thread, text=shown.text, blocks=shown.blocks
        )

    async def _watch_from_thread(
        self, command: Watch, conv: Conversation, client: AsyncWebClient
    ) -> Watch:
        """`@smtpcheck watch` in a thread: watch the address its first message is about."""
        found = command_in(
            await first_message(client, conv.channel, str(conv.thread_ts)),
            self.deps.settings.smtp_ports,
        )
        target = found.target if isinstance(found, Check) and not found.is_hostname else None
        if target is None:
            raise UsageError(
                _(
                    "I found no address in this thread's first message: say which, e.g. "
                    "`@smtpcheck watch 51.158.10.22`."
                )
            )
        return Watch(
            target, found.domain if isinstance(found, Check) else None, command.every_minutes
        )

    async def _list(self, conv: Conversation, client: AsyncWebClient) -> None:
        watches = await asyncio.to_thread(self.store.list_watches, conv.channel)
        monitors = await asyncio.to_thread(self.store.list_monitors, conv.channel)
        if not watches and not monitors:
            await tell(client, conv, _("Nothing is being watched or monitored in this channel."))
            return
        parts = []
        if watches:
            lines = [_watch_line(w) for w in watches]
            parts.append(_("*Watching in this channel:*") + "\n" + "\n".join(lines))
        if monitors:
            lines = [_monitor_line(m) for m in monitors]
            parts.append(_("*Monitoring in this channel:*") + "\n" + "\n".join(lines))
        await tell(client, conv, "\n\n".join(parts))

    # ---- monitors ----------------------------------------------------------------------

    def _label(self, target: str) -> str:
        """A pool's name as SMTPCHECK_POOLS spells it (people type it in any case)."""
        if "/" in target:
            return target
        pool = next((p for p in self.deps.settings.pools if p.name.lower() == target.lower()), None)
        return pool.name if pool is not None else target

    def _networks(self, command: Monitor) -> list[str]:
        """The IPv4 networks of a range or of a pool named in SMTPCHECK_POOLS."""
        if command.is_range:
            return [command.target]
        pools = self.deps.settings.pools
        pool = next((p for p in pools if p.name.lower() == command.target.lower()), None)
        if pool is None:
            known = ", ".join(p.name for p in pools) or _("none are configured (SMTPCHECK_POOLS)")
            raise UsageError(
                _("{target} is not a range nor a pool I know; pools: {known}.").format(
                    target=command.target, known=known
                )
            )
        networks = [str(n) for n in pool.ranges if n.version == 4]
        if not networks:
            raise UsageError(
                _("The pool {pool} has no IPv4 range to monitor.").format(pool=pool.name)
            )
        try:
            for network in networks:
                parse_range(network, 32 - MAX_MONITOR_ADDRESSES.bit_length() + 1)
        except RangeError as exc:
            raise UsageError(
                _("The pool {pool} cannot be monitored: {error}").format(pool=pool.name, error=exc)
            ) from None
        total = sum(ipaddress.IPv4Network(n).num_addresses for n in networks)
        if total > MAX_MONITOR_ADDRESSES:
            raise UsageError(
                _(
                    "The pool {pool} has {total} addresses; a monitor covers at most {most}: "
                    "monitor its ranges one by one."
                ).format(
                    pool=pool.name,
                    total=i18n.number(total),
                    most=i18n.number(MAX_MONITOR_ADDRESSES),
                )
            )
        return networks

    async def _monitor(self, command: Monitor, conv: Conversation, client: AsyncWebClient) -> None:
        networks = self._networks(command)
        label = self._label(command.target)
        existing = await asyncio.to_thread(self.store.active_monitor, label, conv.channel)
        if existing is not None:
            await tell(
                client,
                conv,
                _("I am already monitoring {target} in this channel (every {interval}).").format(
                    target=blocks.esc(label), interval=_minutes(existing.every_seconds)
                ),
            )
            return
        size = sum(ipaddress.IPv4Network(n).num_addresses for n in networks)
        text = ngettext(
            ":satellite: Monitoring {target} ({n} address) on every blocklist, every {interval} "
            "(asked by <@{user}>). The first run says what is listed now; after that I post here "
            "only what changes (newly listed addresses and by which list, delisted ones). Stop "
            "with `/smtpcheck unmonitor {target}`.",
            ":satellite: Monitoring {target} ({n} addresses) on every blocklist, every {interval} "
            "(asked by <@{user}>). The first run says what is listed now; after that I post here "
            "only what changes (newly listed addresses and by which list, delisted ones). Stop "
            "with `/smtpcheck unmonitor {target}`.",
            size,
        ).format(
            target=blocks.esc(label),
            n=i18n.number(size),
            interval=_minutes(command.every_minutes * 60),
            user=conv.user,
        )
        shown = blocks.notice(text)
        try:
            posted = await client.chat_postMessage(
                channel=conv.channel, thread_ts=conv.thread_ts, text=shown.text, blocks=shown.blocks
            )
        except Exception:
            log.warning("monitor %s: cannot post in %s", label, conv.channel, exc_info=True)
            await tell(client, conv, _(NEED_THREAD))
            return
        thread = conv.thread_ts or str(posted.get("ts") or "")
        try:
            await asyncio.to_thread(
                lambda: self.store.add_monitor(
                    label,
                    networks,
                    channel_id=conv.channel,
                    thread_ts=thread,
                    user_id=conv.user,
                    every_seconds=command.every_minutes * 60,
                    now=datetime.now(UTC),
                )
            )
        except MonitorExistsError as exc:  # started by someone else meanwhile
            await self._take_back(client, conv.channel, posted)
            await tell(
                client,
                conv,
                _("I am already monitoring {target} here.").format(
                    target=blocks.esc(exc.monitor.target)
                ),
            )
        except Exception:  # the database is down, read-only, full: the monitor would not run
            metrics.record_store_error("add_monitor")
            log.warning("monitor %s: cannot be kept", label, exc_info=True)
            await self._take_back(client, conv.channel, posted)
            await tell(client, conv, _(MONITOR_NOT_KEPT).format(target=blocks.esc(label)))

    async def _take_back(self, client: AsyncWebClient, channel: str, posted: Any) -> None:
        """Delete an announcement of something that did not start; best effort."""
        ts = str(posted.get("ts") or "")
        if not ts:
            return
        try:
            await client.chat_delete(channel=channel, ts=ts)
        except Exception:
            log.warning("could not take back the announcement %s in %s", ts, channel, exc_info=True)

    async def stop_monitor(
        self, monitor_id: int, user: str, client: AsyncWebClient
    ) -> MonitorRow | None:
        """Stop one monitor (App Home's Stop) and say so in its thread; None if already stopped."""
        stopped = await asyncio.to_thread(
            lambda: self.store.stop_monitor_by_id(
                monitor_id, reason=f"stopped by <@{user}>", now=datetime.now(UTC)
            )
        )
        if stopped is not None:
            shown = blocks.notice(
                _("Stopped monitoring {target} (asked by <@{user}>).").format(
                    target=blocks.esc(stopped.target), user=user
                )
            )
            await client.chat_postMessage(
                channel=stopped.channel_id,
                thread_ts=stopped.thread_ts or None,
                text=shown.text,
                blocks=shown.blocks,
            )
        return stopped

    async def _unmonitor(
        self, command: Unmonitor, conv: Conversation, client: AsyncWebClient
    ) -> None:
        stopped = await asyncio.to_thread(
            lambda: self.store.stop_monitor(
                self._label(command.target),
                conv.channel,
                reason=f"stopped by <@{conv.user}>",
                now=datetime.now(UTC),
            )
        )
        if stopped is None:
            await tell(
                client,
                conv,
                _("I was not monitoring {target} in this channel.").format(
                    target=blocks.esc(command.target)
                ),
            )
            return
        shown = blocks.notice(
            _("Stopped monitoring {target} (asked by <@{user}>).").format(
                target=blocks.esc(stopped.target), user=conv.user
            )
        )
        await client.chat_postMessage(
            channel=stopped.channel_id,
            thread_ts=stopped.thread_ts or None,
            text=shown.text,
            blocks=shown.blocks,
        )
        if stopped.thread_ts != (conv.thread_ts or ""):
            await tell(
                client,
                conv,
                _("Stopped monitoring {target}.").format(target=blocks.esc(stopped.target)),
            )


def _stopped_by(watch: WatchRow, user: str) -> str:
    return _("Stopped watching {target} (asked by <@{user}>).").format(
        target=blocks.esc(watch.target), user=user
    )


def _watch_line(watch: WatchRow) -> str:
    """• target (domain), every 15 min, until 8 Dec 2026, 09:41 UTC, asked by @someone"""
    target = blocks.esc(watch.target)
    if watch.domain:
        target += f" ({blocks.esc(watch.domain)})"
    said = (
        _("• {target}, every {interval}, until {until}, asked by <@{user}>")
        if watch.user_id
        else _("• {target}, every {interval}, until {until}")
    )
    return said.format(
        target=target,
        interval=_minutes(watch.every_seconds),
        until=i18n.moment(watch.expires_at, seconds=False),
        user=watch.user_id,
    )


def _monitor_line(monitor: MonitorRow) -> str:
    """• 51.158.10.0/24 (256 addresses), every 1 h, since …, 2 listed at the last run"""
    state = (
        ngettext(
            "{n} listed at the last run", "{n} listed at the last run", monitor.listed_now
        ).format(n=monitor.listed_now)
        if monitor.finished_run
        else _("first run under way")
    )
    said = (
        _(
            "• {target} ({n} addresses), every {interval}, since {since}, {state}, asked by <@{user}>"
        )
        if monitor.user_id
        else _("• {target} ({n} addresses), every {interval}, since {since}, {state}")
    )
    return said.format(
        target=blocks.esc(monitor.target),
        n=i18n.number(monitor.addresses),
        interval=_minutes(monitor.every_seconds),
        since=i18n.moment(monitor.created_at, seconds=False),
        state=state,
        user=monitor.user_id,
    )
