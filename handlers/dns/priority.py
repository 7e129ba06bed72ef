"""Oldest check first: the resolver's cap lets questions in by the age of the check asking.

A check's critical path is a chain: PTR, then the A of the name it gave; an SPF record,
then its includes; a listing, then its TXT reason. When many checks start at once (200
commands in an incident), first come, first served makes every check wait behind every
other check's questions, so every report arrives at about the time of the last. Letting
only follow-up questions jump the queue is not enough either: all 200 checks' PTR and SPF
chains then run ahead of the blocklists of the first checks.

So every check takes a ticket when it starts (`first_wave()`, in the full check and per
address of a range), its tasks inherit it (a ContextVar), and waiting questions are let in
by ticket: an older check's next question, follow-up or not, goes before a newer check's.
Each check then finishes about as soon as the work before it is done: reports arrive in
the order commands came, spread over the burst instead of bunched at its end. A question
asked outside any check takes a ticket of its own when it is asked.

SPF's evaluation runs in a thread, where the variable cannot follow; it passes the ticket
of the check it belongs to (`current_ticket()`, read before the thread starts).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from contextvars import ContextVar

#: Process-wide: tickets from every resolver compare, and only their order matters.
_tickets = itertools.count()

#: The ticket of the check the current task works for; None outside any check.
_ticket: ContextVar[int | None] = ContextVar("smtpcheck_ticket", default=None)


def first_wave() -> int:
    """The current task starts a new check (or a range's next address): a new ticket."""
    ticket = next(_tickets)
    _ticket.set(ticket)
    return ticket


def current_ticket() -> int:
    """The ticket of the current check; a question outside any check starts one now."""
    ticket = _ticket.get()
    return first_wave() if ticket is None else ticket


class PriorityCap:
    """At most `size` holders at once; waiters let in by rank (a ticket), then arrival.

    `ordered=False` ignores ranks (plain FIFO, like a semaphore): the baseline the
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

    async def acquire(self, rank: int = 0) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (rank if self.ordered else 0, next(self._arrival), future))
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
