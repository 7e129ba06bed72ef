"""Watches over SQLite and PostgreSQL, re-checking with the real DNSBL and PTR checks.

The check talks to the loopback test DNS server; tests change its zone data between
runs (a delisting, a new listing, a zone that stops answering) and count the posts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.store import Store, Watch
from bot.watches import CheckFn, WatchRunner
from handlers import i18n
from handlers.catalogue import builtin
from handlers.dns.resolver import Resolver
from handlers.dnsbl import SelfTestCache, check_dnsbl, query_name
from handlers.i18n import Language
from handlers.ptr import check_ptr, reverse_name
from handlers.report import Report
from handlers.settings import Settings
from tests.support.dns_server import ANSWER_TIMEOUT, DnsServer

IP = "51.158.10.22"
ZEN, SPAMCOP, BARRACUDA = "zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
EVERY = timedelta(minutes=15)


class Posts:
    """The thread posts a runner made, as (watch id, text, changes)."""

    def __init__(self) -> None:
        self.items: list[tuple[int, str, list[str]]] = []
        self._lock = threading.Lock()

    async def __call__(
        self, watch: Watch, text: str, report: Mapping[str, Any] | None, changes: Sequence[str]
    ) -> None:
        assert report is not None and report["target"] == watch.target
        with self._lock:
            self.items.append((watch.id, text, list(changes)))

    def texts(self) -> list[str]:
        return [text for _, text, _ in self.items]


class DnsCheck:
    """The full check's DNSBL and PTR parts against the test DNS server; counts its runs."""

    def __init__(self, server: DnsServer, timeout: float = ANSWER_TIMEOUT) -> None:
        self.server = server
        zones = tuple(z for z in builtin() if z.zone in (ZEN, SPAMCOP, BARRACUDA))
        self.zones = zones
        self.set_timeout(timeout)
        self.calls: list[str] = []
        self._lock = threading.Lock()
        self.serve_test_points()

    def set_timeout(self, timeout: float) -> None:
        """Seconds each question of the next runs may take. The default is generous: on a
        loaded machine a 0.3 s timeout turned answers on their way into "could not be
        checked" (a verdict of error, or an extra change). Only a run that needs a zone's
        silence to be told sets a short one."""
        self.timeout = timeout
        self.settings = Settings(
            catalogue=self.zones,
            nameservers=((self.server.host, self.server.port),),
            timeout=timeout,
        )

    def serve_test_points(self) -> None:
        """RFC 5782's positive test point, so each list counts as working."""
        for zone in (ZEN, SPAMCOP, BARRACUDA):
            self.server.add(query_name("127.0.0.2", zone), "A", "127.0.0.2")

    async def __call__(self, target: str, domain: str | None) -> dict[str, Any]:
        with self._lock:
            self.calls.append(target)
        # A fresh resolver per run, as answers are cached for their TTL.
        resolver = Resolver([(self.server.host, self.server.port)], timeout=self.timeout)
        dnsbl, ptr = await asyncio.gather(
            check_dnsbl(target, resolver, self.settings, cache=SelfTestCache()),
            check_ptr(target, resolver, self.settings),
        )
        report = Report(target=target, checks={"dnsbl": dnsbl, "ptr": ptr})
        return report.to_json()

    def list_on(self, ip: str, zone: str) -> None:
        self.server.add(query_name(ip, zone), "A", "127.0.0.2")

    def delist(self, ip: str, zone: str) -> None:
        self.server.remove(query_name(ip, zone))

    def good_ptr(self, ip: str, name: str) -> None:
        self.server.add(reverse_name(ip), "PTR", name + ".")
        self.server.add(name, "A", ip)


@pytest.fixture
def dns_check(dns_server: DnsServer) -> DnsCheck:
    check = DnsCheck(dns_server)
    check.good_ptr(IP, "mail.example-mail.net")
    return check


async def watch_listed_address(
    store: Store, check: DnsCheck, thread: str = "1700000000.1"
) -> Watch:
    """An address listed on SpamCop and Spamhaus ZEN, its first report kept, then watched."""
    check.list_on(IP, SPAMCOP)
    check.list_on(IP, ZEN)
    first = await check(IP, None)
    assert first["verdict"] == "fail"
    store.save_report(first, channel_id="C1", thread_ts=thread, now=T0)
    return store.add_watch(IP, channel_id="C1", thread_ts=thread, user_id="U1", now=T0)


async def test_watch_posts_a_delisting_once_then_stops_when_clean(
    store: Store, dns_check: DnsCheck
) -> None:
    watch = await watch_listed_address(store, dns_check)
    posts = Posts()
    runner = WatchRunner(store, dns_check, posts)

    assert [r.outcome for r in await runner.run_due(T0 + EVERY)] == ["unchanged"]
    assert posts.items == []

    dns_check.delist(IP, SPAMCOP)
    [result] = await runner.run_due(T0 + 2 * EVERY)
    assert result.outcome == "changed" and result.posted
    assert posts.items == [(watch.id, f"{IP}: delisted from SpamCop.", ["delisted from SpamCop"])]

    # Nothing new: the next runs stay silent, and nothing runs before it is due.
    assert await runner.run_due(T0 + 2 * EVERY + timedelta(minutes=14)) == []
    assert [r.outcome for r in await runner.run_due(T0 + 3 * EVERY)] == ["unchanged"]
    assert len(posts.items) == 1

    dns_check.delist(IP, ZEN)
    [result] = await runner.run_due(T0 + 4 * EVERY)
    assert result.outcome == "clean" and result.watch.state == "clean"
    assert posts.texts()[1] == (
        f"{IP} is clean now: verdict fail → ok; delisted from Spamhaus ZEN (SBL). "
        "I stopped watching it."
    )
    assert await runner.run_due(T0 + 10 * EVERY) == []
    assert store.list_watches("C1") == []
    assert len(dns_check.calls) == 1 + 4  # the first report, then one check per due run
    # Every run was kept: the history shows the delisting in the thread's words.
    lines = [e.changes for e in store.history(IP)]
    assert lines[0] == ["verdict fail → ok", "delisted from Spamhaus ZEN (SBL)"]
    assert ["delisted from SpamCop"] in lines
    assert store.history(IP)[0].row.thread_ts == watch.thread_ts


async def test_new_listing_and_ptr_change_are_posted(store: Store, dns_check: DnsCheck) -> None:
    await watch_listed_address(store, dns_check)
    posts = Posts()
    runner = WatchRunner(store, dns_check, posts)
    dns_check.list_on(IP, BARRACUDA)
    dns_check.server.remove("mail.example-mail.net", "A")  # the PTR stops confirming
    [result] = await runner.run_due(T0 + EVERY)
    assert result.posted
    assert result.changes == [
        "newly listed on Barracuda BRBL",
        "PTR broken: mail.example-mail.net no longer resolves back to the address",
    ]
    dns_check.good_ptr(IP, "mail.example-mail.net")
    await runner.run_due(T0 + 2 * EVERY)
    assert posts.items[-1][2] == ["PTR fixed: mail.example-mail.net now confirms"]


async def test_a_zone_that_times_out_is_no_news_and_no_delisting(
    store: Store, dns_check: DnsCheck
) -> None:
    await watch_listed_address(store, dns_check)
    posts = Posts()
    runner = WatchRunner(store, dns_check, posts)
    dns_check.server.misbehave(SPAMCOP, "timeout")
    dns_check.set_timeout(1.0)  # this run waits SpamCop's silence out; the others answer
    [result] = await runner.run_due(T0 + EVERY)
    assert result.outcome == "unchanged" and not result.posted
    assert result.changes == ["SpamCop could not be checked (timeout)"]
    dns_check.set_timeout(ANSWER_TIMEOUT)
    # SpamCop answers again, and no longer lists the address: that is the delisting.
    dns_check.server.clear()
    dns_check.serve_test_points()
    dns_check.good_ptr(IP, "mail.example-mail.net")
    dns_check.list_on(IP, ZEN)
    [result] = await runner.run_due(T0 + 2 * EVERY)
    assert posts.texts() == [f"{IP}: delisted from SpamCop."]


async def test_watch_survives_a_restart(db_url: str, dns_check: DnsCheck) -> None:
    first = Store.open(db_url)
    watch = await watch_listed_address(first, dns_check)
    posts = Posts()
    await WatchRunner(first, dns_check, posts).run_due(T0 + EVERY)
    # The process dies mid-run: it had claimed the next run when it went away.
    [claimed] = first.claim_due_watches(T0 + 2 * EVERY, lease_seconds=300)
    first.close()

    dns_check.delist(IP, SPAMCOP)
    second = Store.open(db_url)
    try:
        runner = WatchRunner(second, dns_check, posts)
        assert [w.id for w in second.list_watches("C1")] == [watch.id]
        # Not before the dead replica's lease and the next slot are over...
        assert await runner.run_due(T0 + 2 * EVERY + timedelta(minutes=1)) == []
        [result] = await runner.run_due(T0 + 3 * EVERY)
        assert result.watch.id == claimed.id and result.posted
        assert posts.texts() == [f"{IP}: delisted from SpamCop."]
        assert result.watch.runs == 2
    finally:
        second.close()


async def test_two_replicas_run_each_due_watch_once(db_url: str, dns_check: DnsCheck) -> None:
    dns_check = DnsCheck(dns_check.server)  # eight loops share the test server: the long timeout
    addresses = [f"51.158.10.{n}" for n in range(30, 42)]
    replicas = [Store.open(db_url), Store.open(db_url)]
    try:
        for ip in addresses:
            dns_check.list_on(ip, SPAMCOP)
            dns_check.list_on(ip, ZEN)
            baseline = await dns_check(ip, None)
            replicas[0].add_watch(
                ip, channel_id="C1", thread_ts=f"t-{ip}", last_report=baseline, now=T0
            )
            dns_check.delist(ip, SPAMCOP)  # each will see one change: delisted from SpamCop
        dns_check.calls.clear()
        posts = Posts()
        runners = [WatchRunner(s, dns_check, posts, batch=3) for s in replicas]

        def replica_round(i: int, now: datetime) -> int:
            # Each thread is its own event loop, as two app instances would be.
            results = asyncio.run(runners[i % 2].run_due(now))
            return len(results)

        for due in (T0 + EVERY, T0 + 2 * EVERY):
            with ThreadPoolExecutor(max_workers=8) as pool:
                ran = sum(pool.map(replica_round, range(24), [due] * 24))
            assert ran == len(addresses)
        # Round one: each watch checked once and posted once; round two: checked, silent.
        assert sorted(dns_check.calls) == sorted(addresses * 2)
        watch_ids = [w for w, _, _ in posts.items]
        assert len(watch_ids) == len(addresses) == len(set(watch_ids))
        # (Under this load a zone may time out now and then: that is said, but is no news.)
        assert all("delisted from SpamCop" in c for _, _, c in posts.items)
        watches = replicas[1].list_watches("C1")
        assert len(watches) == len(addresses)
        assert all(w.runs == 2 and w.lease_owner is None for w in watches)
    finally:
        for s in replicas:
            s.close()


async def test_watch_expires_after_seven_days(store: Store, dns_check: DnsCheck) -> None:
    watch = await watch_listed_address(store, dns_check)
    posts = Posts()
    now = [T0]
    runner = WatchRunner(store, dns_check, posts, clock=lambda: now[0])
    now[0] = T0 + EVERY
    assert [r.outcome for r in await runner.run_due()] == ["unchanged"]
    calls = len(dns_check.calls)
    now[0] = T0 + timedelta(days=7)
    [result] = await runner.run_due()
    assert result.outcome == "expired" and result.posted
    assert result.watch.state == "expired" and result.watch.stopped_reason == "7 days passed"
    assert posts.texts() == [
        f"I stopped watching {IP}: a watch lasts 7 days, and this one started "
        "28 Nov 2026, 09:00 UTC. Last verdict: fail. Start a new watch if it is still needed."
    ]
    assert len(dns_check.calls) == calls  # an expired watch is not checked again
    now[0] = T0 + timedelta(days=8)
    assert await runner.run_due() == []
    assert store.get_watch(watch.id).state == "expired"  # type: ignore[union-attr]


async def test_unwatch_during_a_run_posts_nothing(store: Store, dns_check: DnsCheck) -> None:
    await watch_listed_address(store, dns_check)
    dns_check.delist(IP, SPAMCOP)
    posts = Posts()
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_check(target: str, domain: str | None) -> dict[str, Any]:
        started.set()
        await release.wait()
        return await dns_check(target, domain)

    runner = WatchRunner(store, slow_check, posts)
    run = asyncio.create_task(runner.run_due(T0 + EVERY))
    await started.wait()
    assert await asyncio.to_thread(store.stop_watch, IP, "C1")
    release.set()
    [result] = await run
    assert result.outcome == "gone" and posts.items == []


async def test_failed_check_or_post_does_not_lose_the_watch(
    store: Store, dns_check: DnsCheck
) -> None:
    watch = await watch_listed_address(store, dns_check)
    posts = Posts()

    async def broken(target: str, domain: str | None) -> dict[str, Any]:
        raise OSError("network is down")

    [result] = await WatchRunner(store, broken, posts).run_due(T0 + EVERY)
    assert result.outcome == "failed" and posts.items == []
    assert store.get_watch(watch.id).lease_owner is None  # type: ignore[union-attr]

    async def refuse(*args: Any) -> None:
        raise ConnectionError("Slack is away")

    dns_check.delist(IP, SPAMCOP)
    [result] = await WatchRunner(store, dns_check, refuse).run_due(T0 + 2 * EVERY)
    assert result.outcome == "changed" and not result.posted
    assert store.get_watch(watch.id).state == "active"  # type: ignore[union-attr]

    # The change was never told: the next run tells it, once.
    [result] = await WatchRunner(store, dns_check, posts).run_due(T0 + 3 * EVERY)
    assert result.posted and posts.texts() == [f"{IP}: delisted from SpamCop."]
    [result] = await WatchRunner(store, dns_check, posts).run_due(T0 + 4 * EVERY)
    assert result.outcome == "unchanged" and len(posts.items) == 1


async def test_a_watch_ends_clean_only_after_its_last_post(
    store: Store, dns_check: DnsCheck
) -> None:
    watch = await watch_listed_address(store, dns_check)
    dns_check.delist(IP, SPAMCOP)
    dns_check.delist(IP, ZEN)

    async def refuse(*args: Any) -> None:
        raise ConnectionError("Slack is away")

    [result] = await WatchRunner(store, dns_check, refuse).run_due(T0 + EVERY)
    assert result.outcome == "clean" and not result.posted
    kept = store.get_watch(watch.id)
    assert kept is not None and kept.state == "active" and kept.lease_owner is None

    posts = Posts()
    [result] = await WatchRunner(store, dns_check, posts).run_due(T0 + 2 * EVERY)
    assert result.outcome == "clean" and result.posted
    assert store.get_watch(watch.id).state == "clean"  # type: ignore[union-attr]
    assert len(posts.items) == 1 and "is clean now" in posts.texts()[0]
    assert await WatchRunner(store, dns_check, posts).run_due(T0 + 3 * EVERY) == []


async def test_a_thread_that_is_gone_ends_the_watch(store: Store, dns_check: DnsCheck) -> None:
    from bot.watches import Undeliverable

    watch = await watch_listed_address(store, dns_check)
    dns_check.delist(IP, SPAMCOP)

    async def archived(*args: Any) -> None:
        raise Undeliverable("is_archived")

    [result] = await WatchRunner(store, dns_check, archived).run_due(T0 + EVERY)
    assert not result.posted
    assert store.get_watch(watch.id).state == "stopped"  # type: ignore[union-attr]


async def test_run_forever_polls_until_cancelled(store: Store, dns_check: DnsCheck) -> None:
    await watch_listed_address(store, dns_check)
    dns_check.delist(IP, SPAMCOP)
    posted = asyncio.Event()
    posts = Posts()

    async def post(watch: Watch, text: str, report: Any, changes: Sequence[str]) -> None:
        await posts(watch, text, report, changes)
        posted.set()

    check: CheckFn = dns_check
    runner = WatchRunner(store, check, post, clock=lambda: T0 + EVERY)
    task = asyncio.create_task(runner.run_forever(0.01))
    await asyncio.wait_for(posted.wait(), 5)
    await asyncio.sleep(0.05)  # more rounds: nothing else is due
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert posts.texts() == [f"{IP}: delisted from SpamCop."]


async def test_a_watch_speaks_the_language_of_whoever_started_it(
    store: Store, dns_check: DnsCheck
) -> None:
    """The runner asks the watch's language, then checks, compares and posts in it."""
    watch = await watch_listed_address(store, dns_check)
    posts = Posts()
    asked: list[str | None] = []

    async def language(of: Watch) -> Language:
        asked.append(of.user_id)
        return "fr"

    runner = WatchRunner(store, dns_check, posts, language=language)
    dns_check.delist(IP, SPAMCOP)
    dns_check.delist(IP, ZEN)
    [result] = await runner.run_due(T0 + EVERY)
    assert result.outcome == "clean" and asked == [watch.user_id]
    assert posts.texts() == [
        f"{IP} est propre maintenant : verdict fail → ok; retirée de Spamhaus ZEN (SBL); "
        "retirée de SpamCop. J’ai arrêté de la surveiller."
    ]
    assert i18n.current() == "en"  # the language was the run's, not the process's


async def test_a_replica_killed_mid_post_leaves_the_change_to_the_next(
    db_url: str, dns_server: DnsServer
) -> None:
    """The process dies while its post is in flight: nothing was recorded, so once its
    lease runs out another replica finds the same change and tells it."""
    check = DnsCheck(dns_server)
    check.good_ptr(IP, "mail.example-mail.net")
    first, second = Store.open(db_url), Store.open(db_url)
    try:
        watch = await watch_listed_address(first, check)
        check.delist(IP, SPAMCOP)
        in_flight = asyncio.Event()

        async def dies(*args: Any) -> None:
            in_flight.set()
            await asyncio.sleep(3600)

        dying = asyncio.create_task(
            WatchRunner(first, check, dies, lease_seconds=300).run_due(T0 + EVERY)
        )
        await asyncio.wait_for(in_flight.wait(), 10)
        dying.cancel()  # the replica is gone mid-post
        with pytest.raises(asyncio.CancelledError):
            await dying
        kept = second.get_watch(watch.id)
        assert kept is not None and kept.state == "active" and kept.runs == 0

        posts = Posts()
        survivor = WatchRunner(second, check, posts)
        assert await survivor.run_due(T0 + EVERY + timedelta(seconds=60)) == []  # lease holds
        [result] = await survivor.run_due(T0 + 2 * EVERY + timedelta(seconds=300))
        assert result.posted and posts.texts() == [f"{IP}: delisted from SpamCop."]
    finally:
        first.close()
        second.close()
