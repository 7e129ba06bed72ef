"""Follow-up questions first: the resolver's cap lets dependent questions in before new ones.

A check's critical path is a chain: PTR, then the A of the name it gave; an SPF record,
then its includes; a listing, then its TXT reason. When many checks start at once (200
commands in an incident), their first questions fill the cap, and a check whose PTR has
come back would wait behind everyone else's first wave for its forward lookup: every
report then arrives at about the time of the last. Letting follow-up questions in first
finishes each started check before starting new work, so reports arrive in the order
commands came, spread over the burst instead of bunched at its end.

A question is a follow-up when the task asking it has already had an answer (a
ContextVar set by the resolver), or when its caller says so (SPF's evaluation runs in a
thread and asks through the loop, where the variable cannot follow). Work that loops
over independent targets (a range's addresses) calls `first_wave()` per target.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from contextvars import ContextVar

FOLLOW_UP, FIRST = 0, 1

#: True once the current task has had an answer: what it asks next depends on one.
_answered: ContextVar[bool] = ContextVar("smtpcheck_answered", default=False)


def mark_answered() -> None:
    _answered.set(True)


def first_wave() -> None:
    """What the current task asks next starts a new chain (a new address of a range)."""
    _answered.set(False)


def current_priority(follow_up: bool | None) -> int:
    """FOLLOW_UP or FIRST for a question about to be asked (`follow_up` None: from context)."""
    if follow_up is None:
        follow_up = _answered.get()
    return FOLLOW_UP if follow_up else FIRST


class PriorityCap:
    """At most `size` holders at once; waiters let in by priority, then in arrival order.

    `ordered=False` ignores priorities (plain FIFO, like a semaphore): the baseline the
    benchmark compares against.
    """

    def __init__(self, size: int, *, ordered: bool = True) -> None:
        self.size = size
        self.ordered = ordered
        self._free = size
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrival = itertools.count()

    @property
    def in_use(self) -> int:
        return self.size - self._free

    @property
    def waiting(self) -> int:
        return sum(1 for _, _, future in self._waiting if not future.done())

    async def acquire(self, priority: int = FIRST) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        rank = priority if self.ordered else FIRST
        heapq.heappush(self._waiting, (rank, next(self._arrival), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # let in, then cancelled before it could use the slot
            raise

    def release(self) -> None:
        self._free += 1
        while self._waiting and self._free > 0:
            _, _, future = heapq.heappop(self._waiting)
            if future.done():  # its waiter was cancelled
                continue
            self._free -= 1
            future.set_result(None)
