"""The watch loop: re-check watched addresses when due and speak only when something changed.

Independent of Slack: the runner gets a `check` that produces a JSON report and a
`post` that says something in the watch's thread. State lives in the store, so a
restarted process (or another replica) carries on where this one stopped.

Notification is at least once: a run with something to say posts first and records
the new baseline (or the watch's end) only once the post went out. A post that fails,
or a replica killed mid-post, leaves the watch as it was, and the next run, wherever it
happens, finds the same change and says it again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from bot.changes import carry_forward, changes, is_clean, material
from bot.store import Store, Watch, WatchState
from handlers import i18n
from handlers.i18n import Language, _

log = logging.getLogger(__name__)

#: Produces the JSON report (INTERFACE.md) for (target, domain).
CheckFn = Callable[[str, str | None], Awaitable[dict[str, Any]]]
#: Says `text` in the watch's thread; the report and the change sentences are there to render.
PostFn = Callable[[Watch, str, Mapping[str, Any] | None, Sequence[str]], Awaitable[None]]
#: The language a watch speaks (its starter's); None: the process default.
LanguageFn = Callable[[Watch], Awaitable[Language]]


class Undeliverable(Exception):
    """The post can never go out (the conversation is gone, the bot was removed from it):
    nobody is left to tell, so the run counts as told."""


Outcome = Literal["unchanged", "changed", "clean", "expired", "failed", "gone"]


@dataclass(frozen=True)
class RunResult:
    """What one claimed run did (for logs and tests)."""

    watch: Watch
    outcome: Outcome
    posted: bool
    changes: list[str]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class WatchRunner:
    """Claims due watches from the store, re-checks them and posts what changed."""

    def __init__(
        self,
        store: Store,
        check: CheckFn,
        post: PostFn,
        *,
        clock: Callable[[], datetime] = _utc_now,
        batch: int = 20,
        lease_seconds: int = 300,
        concurrency: int = 4,
        language: LanguageFn | None = None,
    ) -> None:
        self.store = store
        self.check = check
        self.post = post
        self.clock = clock
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.concurrency = concurrency
        self.language = language

    async def run_due(self, now: datetime | None = None) -> list[RunResult]:
        """Run every watch due at `now` that this replica can claim; return what each did."""
        now = now or self.clock()
        claimed = await asyncio.to_thread(
            self.store.claim_due_watches, now, self.batch, self.lease_seconds
        )
        cap = asyncio.Semaphore(self.concurrency)  # per call: a runner may serve several loops
        return list(await asyncio.gather(*(self._guarded(cap, w, now) for w in claimed)))

    async def run_forever(self, interval: float = 30.0) -> None:
        """Poll for due watches every `interval` seconds until cancelled."""
        while True:
            try:
                await self.run_due(self.clock())
            except asyncio.CancelledError:
                raise
            except Exception:  # the database was away: try again next round
                log.exception("watch round failed")
            await asyncio.sleep(interval)

    async def _guarded(self, cap: asyncio.Semaphore, watch: Watch, now: datetime) -> RunResult:
        async with cap:
            if self.language is None:
                return await self._run(watch, now)
            with i18n.use(await self.language(watch)):
                return await self._run(watch, now)

    async def _run(self, watch: Watch, now: datetime) -> RunResult:
        if now >= watch.expires_at:
            return await self._finish(watch, None, "expired", now, _expired_text(watch), [])
        try:
            report = await self.check(watch.target, watch.domain)
        except Exception:
            log.exception("watch %s: check of %s failed", watch.id, watch.target)
            await asyncio.to_thread(self.store.release_watch, watch)
            return RunResult(watch, "failed", False, [])
        found = changes(watch.last_report, report)
        if is_clean(report):
            return await self._finish(watch, report, "clean", now, _clean_text(watch, found), found)
        if material(watch.last_report, report):
            text = _("{target}: {changes}.").format(target=watch.target, changes="; ".join(found))
            return await self._finish(watch, report, "changed", now, text, found)
        return await self._finish(watch, report, "unchanged", now, None, found)

    async def _finish(
        self,
        watch: Watch,
        report: dict[str, Any] | None,
        outcome: Outcome,
        now: datetime,
        text: str | None,
        found: list[str],
    ) -> RunResult:
        """Tell what there is to tell, then record the run: a change counts as told only
        once the post went out, and a watch ends only after its last post."""
        state: WatchState = "active"
        reason = None
        if outcome == "clean":
            state, reason = "clean", "all clean"
        elif outcome == "expired":
            state, reason = "expired", "7 days passed"
        posted = False
        if text is not None:
            if not await asyncio.to_thread(self.store.holds_lease, watch):
                return RunResult(watch, "gone", False, found)  # stopped meanwhile: say nothing
            shown = report if report is not None else watch.last_report
            try:
                await self.post(dataclasses.replace(watch, state=state), text, shown, found)
                posted = True
            except Undeliverable:
                log.warning("watch %s: its thread cannot be posted to; ending it", watch.id)
                state, reason = ("stopped", "the thread cannot be posted to")
            except Exception:  # Slack was away: the next run finds the same change
                log.exception("watch %s: post failed; the next run tells it again", watch.id)
                await asyncio.to_thread(self.store.release_watch, watch)
                return RunResult(watch, outcome, False, found)
        baseline = carry_forward(watch.last_report, report) if report is not None else None
        done = await asyncio.to_thread(
            self.store.record_watch_result,
            watch,
            report,
            baseline=baseline,
            state=state,
            reason=reason,
            now=now,
        )
        if done is None:
            return RunResult(watch, "gone", posted, found)
        return RunResult(done, outcome, posted, found)


def _clean_text(watch: Watch, found: Sequence[str]) -> str:
    if found:
        return _("{target} is clean now: {changes}. I stopped watching it.").format(
            target=watch.target, changes="; ".join(found)
        )
    return _("{target} is clean now: I stopped watching it.").format(target=watch.target)


def _expired_text(watch: Watch) -> str:
    verdict = (watch.last_report or {}).get("verdict", "unknown")
    return _(
        "I stopped watching {target}: a watch lasts 7 days, and this one started {started}. "
        "Last verdict: {verdict}. Start a new watch if it is still needed."
    ).format(
        target=watch.target, started=i18n.moment(watch.created_at, seconds=False), verdict=verdict
    )
