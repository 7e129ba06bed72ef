"""Being a good client of the blocklists: a per-list question rate, and counts per list.

Why: the resolver's global cap bounds how many questions are in flight, but not how fast
one list is asked. A /24 over a fast resolver would fire thousands of questions a second
at every list; free lists throttle or block resolvers that do that. `ListRate` spaces
the questions to each list, and `QueryStats` counts what each list answered, for
/metrics and for tests.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Literal, Protocol


class ListZone(Protocol):
    """What the transport needs to know of a blocklist zone (the catalogue's `Zone` is one)."""

    @property
    def zone(self) -> str: ...

    @property
    def error_codes(self) -> Mapping[str, str]: ...


#: Questions per second to one list. Over a 100 ms resolver, the global cap (256 in
#: flight) spread over ~30 lists already asks each about 85 times a second, so this
#: default does not slow a /24 there; over a fast local resolver it is what keeps a /24
#: from reaching thousands of questions a second per list.
DEFAULT_PER_LIST_RATE = 100.0
#: Questions one list may get back to back before the spacing applies.
DEFAULT_PER_LIST_BURST = 20

QuestionOutcome = Literal["listed", "clean", "timeout", "blocked", "error"]
OUTCOMES: tuple[QuestionOutcome, ...] = ("listed", "clean", "timeout", "blocked", "error")


class ListRate:
    """Spacing of questions per key (a list's zone), as a GCRA token bucket.

    Each key has a "theoretical arrival time"; a question takes the next free slot and
    sleeps until `burst` slots before it. Slots are reserved without a lock because the
    event loop runs one coroutine at a time between awaits. `rate` <= 0 disables it.
    """

    def __init__(
        self,
        rate: float = DEFAULT_PER_LIST_RATE,
        burst: int = DEFAULT_PER_LIST_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._next: dict[str, float] = {}

    def delay(self, key: str) -> float:
        """Reserve a slot for `key`; the seconds to wait before using it."""
        if self.rate <= 0:
            return 0.0
        interval = 1.0 / self.rate
        now = self._clock()
        slot = max(self._next.get(key, now), now)
        self._next[key] = slot + interval
        return max(0.0, slot - now - (self.burst - 1) * interval)

    async def acquire(self, key: str) -> None:
        wait = self.delay(key)
        if wait > 0:
            await asyncio.sleep(wait)


class QueryStats:
    """Questions sent to each list, by what came back. Adds into `parent` too (process totals)."""

    def __init__(self, parent: QueryStats | None = None) -> None:
        self.counts: Counter[tuple[str, QuestionOutcome]] = Counter()
        self.parent = parent

    def record(self, zone: str, outcome: QuestionOutcome) -> None:
        self.counts[(zone, outcome)] += 1
        if self.parent is not None:
            self.parent.record(zone, outcome)

    def by_zone(self, zone: str) -> dict[QuestionOutcome, int]:
        """Counts of one list, every outcome present (zeros included)."""
        return {outcome: self.counts[(zone, outcome)] for outcome in OUTCOMES}

    def total(self, zone: str | None = None) -> int:
        return sum(n for (z, _), n in self.counts.items() if zone is None or z == zone)

    def snapshot(self) -> dict[tuple[str, QuestionOutcome], int]:
        return dict(self.counts)


#: Every resolver's counts added up, for the process's /metrics.
TOTALS = QueryStats()
