"""The monitor loop: blocklists of whole ranges and pools, shared out in chunks, changes only.

Independent of Slack: the runner gets a `check` that asks the blocklists about a list of
addresses and a `post` that says something in the monitor's thread. Every replica runs
the loop: each round it starts the runs that are due, claims a few pending chunks of any
run (its own or another replica's), checks them, and closes a run when its last chunk
is in. The replica that closes a run tells the thread what changed since it was last
told; only once Slack has taken the post does that state count as told, so a post that
failed is made by the next run. A monitor never ends by itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.store import Chunk, FinishedRun, Monitor, Store
from handlers import i18n
from handlers.i18n import Language, _, ngettext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkResult:
    """What one chunk's check found: address -> listing lists; address -> lists not asked."""

    listed: dict[str, list[str]] = field(default_factory=dict)
    unknown: dict[str, list[str]] = field(default_factory=dict)
    unchecked: int = 0


CheckFn = Callable[[Sequence[str]], Awaitable[ChunkResult]]
#: Says `text` in the monitor's thread; raises when Slack did not take it.
PostFn = Callable[[Monitor, str], Awaitable[None]]
#: The language a monitor speaks (its starter's); None: the process default.
LanguageFn = Callable[[Monitor], Awaitable[Language]]

#: Lines of changes in one post; the rest are counted ("and 12 more").
MAX_LINES = 40


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Round:
    """What one round did: chunks checked, and the runs it closed."""

    chunks: int
    told: list[Told]


@dataclass(frozen=True)
class Told:
    """What closing one run said (for logs and tests)."""

    monitor: Monitor
    run: int
    text: str | None
    posted: bool


def effective(run: FinishedRun) -> dict[str, list[str]]:
    """What the run saw, with the told state carried forward for lists it could not ask.

    A list that timed out for an address says nothing about it: it is not a delisting.
    """
    told = run.monitor.told or {}
    out = {ip: sorted(lists) for ip, lists in run.seen.items()}
    for ip, missing in run.unknown.items():
        kept = [name for name in told.get(ip, []) if name in missing]
        if kept:
            out[ip] = sorted({*out.get(ip, []), *kept})
    return out


def change_lines(
    before: Mapping[str, Sequence[str]], after: Mapping[str, Sequence[str]]
) -> list[str]:
    """One line per address whose listings changed: newly listed (and where), delisted."""
    lines: list[tuple[int, str, str]] = []
    for ip in sorted(set(before) | set(after), key=_address_key):
        old, new = set(before.get(ip, ())), set(after.get(ip, ()))
        if old == new:
            continue
        if not old:
            said = _("{ip} newly listed on {lists}").format(ip=ip, lists=", ".join(sorted(new)))
            lines.append((0, ip, said))
        elif not new:
            said = _("{ip} delisted (was on {lists})").format(ip=ip, lists=", ".join(sorted(old)))
            lines.append((1, ip, said))
        else:
            parts = []
            if new - old:
                parts.append(_("now also on {lists}").format(lists=", ".join(sorted(new - old))))
            if old - new:
                parts.append(_("no longer on {lists}").format(lists=", ".join(sorted(old - new))))
            said = _("{ip} {changes} (on {lists})").format(
                ip=ip, changes="; ".join(parts), lists=", ".join(sorted(new))
            )
            lines.append((0, ip, said))
    return [text for _order, _ip, text in sorted(lines, key=lambda x: (x[0], _address_key(x[1])))]


def _address_key(ip: str) -> tuple[int, ...]:
    return tuple(int(part) for part in ip.split("."))


def render_change(
    monitor: Monitor, run: FinishedRun, now: Mapping[str, Sequence[str]]
) -> str | None:
    """The thread post for a closed run, or None when nothing changed since it was told."""
    listed = len(now)
    total = monitor.addresses
    unchecked = (
        " "
        + ngettext(
            "{n} address could not be fully checked (a list did not answer).",
            "{n} addresses could not be fully checked (a list did not answer).",
            run.unchecked,
        ).format(n=run.unchecked)
        if run.unchecked
        else ""
    )
    if monitor.told is None:
        if not now:
            said = _("{target}: all {total} addresses are clean on every list.").format(
                target=monitor.target, total=total
            )
            return said + unchecked
        lines = change_lines({}, now)
        head = ngettext(
            "{target}: {n} of {total} addresses listed now:",
            "{target}: {n} of {total} addresses listed now:",
            listed,
        ).format(target=monitor.target, n=listed, total=total)
        return _clip(head, lines) + unchecked
    lines = change_lines(monitor.told, now)
    if not lines:
        return None
    head = ngettext(
        "{target}: {changes} change ({n} of {total} addresses listed now):",
        "{target}: {changes} changes ({n} of {total} addresses listed now):",
        len(lines),
    ).format(target=monitor.target, changes=len(lines), n=listed, total=total)
    return _clip(head, lines) + unchecked


def _clip(head: str, lines: Sequence[str]) -> str:
    shown = [f"• {line}" for line in lines[:MAX_LINES]]
    if len(lines) > MAX_LINES:
        shown.append("• " + _("and {n} more").format(n=len(lines) - MAX_LINES))
    return head + "\n" + "\n".join(shown)


class MonitorRunner:
    """Starts due runs, checks claimed chunks and tells the thread when a run closes."""

    def __init__(
        self,
        store: Store,
        check: CheckFn,
        post: PostFn,
        *,
        clock: Callable[[], datetime] = _utc_now,
        chunks_per_round: int = 1,
        lease_seconds: int = 300,
        language: LanguageFn | None = None,
    ) -> None:
        self.language = language
        self.store = store
        self.check = check
        self.post = post
        self.clock = clock
        self.chunks_per_round = chunks_per_round
        self.lease_seconds = lease_seconds

    async def run_round(self, now: datetime | None = None) -> Round:
        """One round: start due runs, check up to `chunks_per_round` chunks, close runs."""
        now = now or self.clock()
        await asyncio.to_thread(self.store.start_due_runs, now)
        chunks = await asyncio.to_thread(
            self.store.claim_chunks, now, self.chunks_per_round, self.lease_seconds
        )
        done = await asyncio.gather(*(self._chunk(c) for c in chunks))
        told: list[Told] = []
        finished_chunks = {(c.monitor_id, c.run) for c, ok in zip(chunks, done, strict=True) if ok}
        for monitor_id, run in sorted(finished_chunks):
            closed = await asyncio.to_thread(self.store.finish_run, monitor_id, run, self.clock())
            if closed is not None:
                told.append(await self._tell(closed))
        return Round(chunks=len(chunks), told=told)

    async def run_until_idle(self, now: datetime | None = None, rounds: int = 10_000) -> list[Told]:
        """Rounds until there is no chunk left to claim (tests, one-off runs)."""
        told: list[Told] = []
        for _round in range(rounds):
            result = await self.run_round(now)
            told += result.told
            if not result.chunks:
                break
        return told

    async def run_forever(self, interval: float = 30.0) -> None:
        """A round every `interval` seconds; at once again while there are chunks to take."""
        while True:
            busy = False
            try:
                busy = (await self.run_round()).chunks > 0
            except asyncio.CancelledError:
                raise
            except Exception:  # the database was away: try again next round
                log.exception("monitor round failed")
            if not busy:
                await asyncio.sleep(interval)

    async def _chunk(self, chunk: Chunk) -> bool:
        try:
            result = await self.check(chunk.addresses())
        except Exception:
            log.exception(
                "monitor %s run %s chunk %s failed", chunk.monitor_id, chunk.run, chunk.chunk
            )
            await asyncio.to_thread(self.store.release_chunk, chunk)
            return False
        return await asyncio.to_thread(
            self.store.finish_chunk, chunk, result.listed, result.unknown, result.unchecked
        )

    async def _tell(self, run: FinishedRun) -> Told:
        """Tell the thread, in the language of whoever started the monitor."""
        if self.language is None:
            return await self._tell_in_language(run)
        with i18n.use(await self.language(run.monitor)):
            return await self._tell_in_language(run)

    async def _tell_in_language(self, run: FinishedRun) -> Told:
        now = effective(run)
        text = render_change(run.monitor, run, now)
        if text is None:
            return Told(run.monitor, run.run, None, False)
        try:
            await self.post(run.monitor, text)
        except Exception:  # Slack did not take it: the next run tells it again
            log.exception("monitor %s: post failed; the next run tells it", run.monitor.id)
            return Told(run.monitor, run.run, text, False)
        await asyncio.to_thread(self.store.mark_told, run.monitor.id, now)
        return Told(run.monitor, run.run, text, True)
