"""Follow-up questions go ahead of new first questions at the resolver's cap."""

from __future__ import annotations

import asyncio

import pytest

from handlers.dns.priority import FIRST, FOLLOW_UP, PriorityCap, current_priority, first_wave
from handlers.dns.resolver import Resolver
from tests.support.dns_server import DnsServer


async def test_waiters_are_let_in_by_priority_then_arrival() -> None:
    cap = PriorityCap(1)
    await cap.acquire()
    order: list[str] = []

    async def wait(label: str, priority: int) -> None:
        await cap.acquire(priority)
        order.append(label)
        cap.release()

    tasks = [
        asyncio.create_task(wait("first-a", FIRST)),
        asyncio.create_task(wait("first-b", FIRST)),
        asyncio.create_task(wait("follow-up", FOLLOW_UP)),
    ]
    await asyncio.sleep(0)
    assert cap.waiting == 3
    cap.release()
    await asyncio.gather(*tasks)
    assert order == ["follow-up", "first-a", "first-b"]
    assert cap.in_use == 0


async def test_unordered_cap_is_first_come_first_served() -> None:
    cap = PriorityCap(1, ordered=False)
    await cap.acquire()
    order: list[str] = []

    async def wait(label: str, priority: int) -> None:
        await cap.acquire(priority)
        order.append(label)
        cap.release()

    tasks = [asyncio.create_task(wait("a", FIRST)), asyncio.create_task(wait("b", FOLLOW_UP))]
    await asyncio.sleep(0)
    cap.release()
    await asyncio.gather(*tasks)
    assert order == ["a", "b"]


async def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    cap = PriorityCap(1)
    await cap.acquire()
    waiter = asyncio.create_task(cap.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    cap.release()
    assert cap.in_use == 0
    await asyncio.wait_for(cap.acquire(), 1)  # the slot is free, not lost to the cancelled one
    # Let in, then cancelled before it ran: the slot comes back too.
    late = asyncio.create_task(cap.acquire())
    await asyncio.sleep(0)
    cap.release()
    late.cancel()
    with pytest.raises(asyncio.CancelledError):
        await late
    assert cap.in_use == 0


async def test_a_task_that_had_an_answer_asks_follow_ups(dns_server: DnsServer) -> None:
    dns_server.add("mail.example-mail.net", "A", "51.158.10.22")
    resolver = Resolver([(dns_server.host, dns_server.port)], timeout=1)

    async def chain() -> tuple[int, int, int]:
        before = current_priority(None)
        await resolver.lookup("mail.example-mail.net", "A")
        after = current_priority(None)
        first_wave()
        return before, after, current_priority(None)

    assert await asyncio.create_task(chain()) == (FIRST, FOLLOW_UP, FIRST)
    assert current_priority(True) == FOLLOW_UP and current_priority(False) == FIRST


async def test_under_a_full_cap_the_follow_up_is_answered_before_later_first_questions(
    dns_server: DnsServer,
) -> None:
    dns_server.delay = 0.05
    for n in range(8):
        dns_server.add(f"n{n}.example-mail.net", "A", f"51.158.10.{n + 1}")
    dns_server.add("next.example-mail.net", "A", "51.158.10.99")
    resolver = Resolver([(dns_server.host, dns_server.port)], timeout=2, max_in_flight=1)
    done: list[str] = []

    async def ask(name: str, follow_up: bool | None = None) -> None:
        await resolver.lookup(name, "A", follow_up=follow_up)
        done.append(name)

    try:
        first = [asyncio.create_task(ask(f"n{n}.example-mail.net")) for n in range(8)]
        await asyncio.sleep(0.02)  # n0 in flight, n1..n7 waiting
        follow = asyncio.create_task(ask("next.example-mail.net", follow_up=True))
        await asyncio.gather(*first, follow)
    finally:
        dns_server.delay = 0.0
    assert done.index("next.example-mail.net") <= 2
