"""Oldest check first: questions are let in at the resolver's cap by their check's ticket."""

from __future__ import annotations

import asyncio

import pytest

from handlers.check import full_check
from handlers.dns.priority import PriorityCap, current_ticket, first_wave
from handlers.dns.resolver import Resolver
from handlers.settings import Settings
from handlers.spf import check_spf
from tests.support.dns_server import DnsServer


def spy_on_ranks(resolver: Resolver) -> list[int]:
    """The rank of every question the resolver sends, in the order they reach the cap."""
    ranks: list[int] = []
    cap = resolver._cap
    acquire = cap.acquire

    async def recording(rank: int = 0) -> None:
        ranks.append(rank)
        await acquire(rank)

    cap.acquire = recording  # type: ignore[method-assign]
    return ranks


async def test_waiters_are_let_in_by_rank_then_arrival() -> None:
    cap = PriorityCap(1)
    await cap.acquire()
    order: list[str] = []

    async def wait(label: str, rank: int) -> None:
        await cap.acquire(rank)
        order.append(label)
        cap.release()

    tasks = [
        asyncio.create_task(wait("newer-a", 7)),
        asyncio.create_task(wait("newer-b", 7)),
        asyncio.create_task(wait("older", 3)),
    ]
    await asyncio.sleep(0)
    assert cap.waiting == 3
    cap.release()
    await asyncio.gather(*tasks)
    assert order == ["older", "newer-a", "newer-b"]
    assert cap.in_use == 0


async def test_unordered_cap_is_first_come_first_served() -> None:
    cap = PriorityCap(1, ordered=False)
    await cap.acquire()
    order: list[str] = []

    async def wait(label: str, rank: int) -> None:
        await cap.acquire(rank)
        order.append(label)
        cap.release()

    tasks = [asyncio.create_task(wait("a", 9)), asyncio.create_task(wait("b", 1))]
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


async def test_tickets_grow_and_tasks_inherit_their_checks() -> None:
    async def check() -> tuple[int, int, int]:
        mine = first_wave()
        inherited = await asyncio.create_task(asyncio.sleep(0, current_ticket()))
        return mine, inherited, current_ticket()

    older, newer = await asyncio.gather(check(), check())
    assert older[0] == older[1] == older[2]  # a child task asks for the check it belongs to
    assert newer[0] == newer[1] == newer[2]
    assert older[0] < newer[0]

    async def outside_any_check() -> tuple[int, int]:
        return current_ticket(), current_ticket()  # takes one when first asked, then keeps it

    first, again = await asyncio.create_task(outside_any_check())
    assert first == again and first > newer[0]


async def test_an_older_checks_first_question_goes_before_a_newer_checks_follow_up(
    dns_server: DnsServer,
) -> None:
    """Follow-up or not does not matter: the check that started first is served first."""
    for n in range(4):
        dns_server.add(f"new{n}.example-mail.net", "A", f"51.158.10.{n + 1}")
    dns_server.add("old.example-mail.net", "A", "51.158.10.99")
    resolver = Resolver([(dns_server.host, dns_server.port)], timeout=2, max_in_flight=1)
    done: list[str] = []
    old_ticket = first_wave()

    async def ask(name: str, ticket: int | None = None) -> None:
        if ticket is None:
            first_wave()  # a check started after the old one
        await resolver.lookup(name, "A", ticket=ticket)
        done.append(name)

    dns_server.delay = 0.3  # each answer takes long enough to queue the rest behind it
    try:
        newer = [asyncio.create_task(ask(f"new{n}.example-mail.net")) for n in range(4)]
        await dns_server.until_questions(1)  # new0 holds the only slot
        old = asyncio.create_task(ask("old.example-mail.net", old_ticket))
        await asyncio.gather(*newer, old)
    finally:
        dns_server.delay = 0.0
    resolver.close()
    assert done[:2] == ["new0.example-mail.net", "old.example-mail.net"]


async def test_all_questions_of_a_full_check_carry_its_ticket_even_spfs_from_its_thread(
    dns_server: DnsServer,
) -> None:
    for n in (4, 6):  # two checks that share no question
        ip = f"51.159.3.{n}"
        dns_server.add(f"{n}.3.159.51.in-addr.arpa", "PTR", f"mail{n}.example-mail.net.")
        dns_server.add(f"mail{n}.example-mail.net", "A", ip)
        dns_server.add(
            f"d{n}.example-mail.net", "TXT", f"v=spf1 include:_spf{n}.shop-example.de -all"
        )
        dns_server.add(f"_spf{n}.shop-example.de", "TXT", f"v=spf1 ip4:{ip} -all")
    resolver = Resolver([(dns_server.host, dns_server.port)], timeout=2)
    settings = Settings(catalogue=(), nameservers=((dns_server.host, dns_server.port),))
    ranks = spy_on_ranks(resolver)
    before = current_ticket()
    try:
        first = await asyncio.create_task(
            full_check("51.159.3.4", "d4.example-mail.net", resolver, settings)
        )
        after_first = len(ranks)
        second = await asyncio.create_task(
            full_check("51.159.3.6", "d6.example-mail.net", resolver, settings)
        )
    finally:
        resolver.close()
    assert first.checks["spf"].status == "ok"  # the include was asked from pyspf's thread
    assert second.checks["spf"].status == "ok"
    assert len(set(ranks[:after_first])) == 1 and ranks[0] > before
    assert after_first > 4  # PTR, A, SPF, include, DMARC, DKIM selectors ...
    assert len(set(ranks[after_first:])) == 1 and ranks[-1] > ranks[0]


async def test_spf_alone_asks_with_the_ticket_of_its_check(dns_server: DnsServer) -> None:
    ip, domain = "51.159.3.5", "d2.example-mail.net"
    dns_server.add(domain, "TXT", "v=spf1 include:_spf2.shop-example.de -all")
    dns_server.add("_spf2.shop-example.de", "TXT", f"v=spf1 ip4:{ip} -all")
    resolver = Resolver([(dns_server.host, dns_server.port)], timeout=2)
    ranks = spy_on_ranks(resolver)

    async def check() -> tuple[int, str]:
        ticket = first_wave()
        result = await check_spf(domain, ip, resolver, Settings(catalogue=()))
        return ticket, result.status

    try:
        ticket, status = await asyncio.create_task(check())
    finally:
        resolver.close()
    assert status == "ok"
    assert ranks and set(ranks) == {ticket}
