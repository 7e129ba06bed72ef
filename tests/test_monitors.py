"""Monitors: whole ranges on a schedule, shared out in chunks, changes only, told at least once.

The store runs on SQLite and PostgreSQL (`db_url`); the check is a function of the
address so each test sets what the lists say. Two Store objects on one database are two
replicas: each has its own lease owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from bot.monitors import ChunkResult, MonitorRunner, change_lines
from bot.store import Monitor, MonitorExistsError, MonitorIntervalError, Store

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
NET = "51.158.10.0/25"  # 128 addresses: two chunks


class Lists:
    """What the blocklists say now: address -> list names; addresses a list could not answer."""

    def __init__(self) -> None:
        self.listed: dict[str, list[str]] = {}
        self.unknown: dict[str, list[str]] = {}
        self.checked: list[str] = []

    async def check(self, addresses: Sequence[str]) -> ChunkResult:
        self.checked += addresses
        return ChunkResult(
            {ip: self.listed[ip] for ip in addresses if ip in self.listed},
            {ip: self.unknown[ip] for ip in addresses if ip in self.unknown},
            sum(1 for ip in addresses if ip in self.unknown and ip not in self.listed),
        )


class Posts:
    def __init__(self) -> None:
        self.said: list[tuple[int, str]] = []
        self.failing = False

    async def post(self, monitor: Monitor, text: str) -> None:
        if self.failing:
            raise ConnectionError("Slack is away")
        self.said.append((monitor.id, text))


def start(store: Store, target: str = NET) -> Monitor:
    return store.add_monitor(
        target, [target], channel_id="C1", thread_ts="1700000000.000100", user_id="U1", now=T0
    )


@pytest.fixture
def store(db_url: str) -> Store:
    return Store.open(db_url)


async def test_first_run_says_what_is_listed_then_only_changes(store: Store) -> None:
    lists, posts = Lists(), Posts()
    lists.listed = {"51.158.10.7": ["SpamCop"], "51.158.10.99": ["Spamhaus ZEN"]}
    monitor = start(store)
    runner = MonitorRunner(store, lists.check, posts.post)

    await runner.run_until_idle(T0)
    assert sorted(lists.checked, key=lambda ip: int(ip.split(".")[-1])) == [
        f"51.158.10.{n}" for n in range(128)
    ]
    [(_, first)] = posts.said
    assert first.startswith(f"{NET}: 2 of 128 addresses listed now:")
    assert "51.158.10.7 newly listed on SpamCop" in first

    await runner.run_until_idle(T0 + HOUR)  # nothing changed: nothing said
    assert len(posts.said) == 1
    await runner.run_until_idle(T0 + HOUR + timedelta(minutes=5))  # not due yet
    assert len(lists.checked) == 256

    lists.listed = {"51.158.10.7": ["SpamCop", "Barracuda"], "51.158.10.20": ["SpamCop"]}
    await runner.run_until_idle(T0 + 2 * HOUR)
    [_, (_, change)] = posts.said
    assert change.startswith(f"{NET}: 3 changes (2 of 128 addresses listed now):")
    assert "51.158.10.20 newly listed on SpamCop" in change
    assert "51.158.10.7 now also on Barracuda" in change
    assert "51.158.10.99 delisted (was on Spamhaus ZEN)" in change
    [row] = store.list_monitors("C1")
    assert row.id == monitor.id and row.runs == row.finished_run == 3
    assert row.listed_now == 2 and row.state == "active"  # a monitor never ends by itself
    assert store.monitor_listings() == [
        (NET, "C1", "Barracuda", 1),
        (NET, "C1", "SpamCop", 2),
    ]


async def test_a_change_slack_did_not_take_is_told_by_the_next_run(store: Store) -> None:
    lists, posts = Lists(), Posts()
    start(store)
    runner = MonitorRunner(store, lists.check, posts.post)
    await runner.run_until_idle(T0)
    assert posts.said[0][1].endswith("all 128 addresses are clean on every list.")

    lists.listed = {"51.158.10.3": ["SpamCop"]}
    posts.failing = True
    await runner.run_until_idle(T0 + HOUR)
    assert len(posts.said) == 1
    posts.failing = False
    await runner.run_until_idle(T0 + 2 * HOUR)
    assert "51.158.10.3 newly listed on SpamCop" in posts.said[1][1]
    await runner.run_until_idle(T0 + 3 * HOUR)
    assert len(posts.said) == 2  # told once it went out, not again


async def test_a_list_that_did_not_answer_is_not_a_delisting(store: Store) -> None:
    lists, posts = Lists(), Posts()
    lists.listed = {"51.158.10.3": ["SpamCop"]}
    start(store)
    runner = MonitorRunner(store, lists.check, posts.post)
    await runner.run_until_idle(T0)
    lists.listed, lists.unknown = {}, {"51.158.10.3": ["SpamCop"]}
    await runner.run_until_idle(T0 + HOUR)
    assert len(posts.said) == 1
    lists.unknown = {}
    await runner.run_until_idle(T0 + 2 * HOUR)
    assert "51.158.10.3 delisted (was on SpamCop)" in posts.said[1][1]


async def test_two_replicas_share_a_run_and_tell_it_once(db_url: str) -> None:
    one, two = Store.open(db_url), Store.open(db_url)
    lists, posts = Lists(), Posts()
    lists.listed = {"51.158.10.7": ["SpamCop"]}
    monitor = start(one, "51.158.10.0/24")  # four chunks
    a = MonitorRunner(one, lists.check, posts.post, chunks_per_round=1)
    b = MonitorRunner(two, lists.check, posts.post, chunks_per_round=1)
    for _ in range(3):
        await a.run_round(T0)
        await b.run_round(T0)
    await a.run_until_idle(T0)
    await b.run_until_idle(T0)
    assert len(posts.said) == 1 and len(lists.checked) == 256
    row = one.get_monitor(monitor.id)
    assert row is not None and row.last_run_by is not None
    assert sorted(row.last_run_by.values()) == [1, 3] or sorted(row.last_run_by.values()) == [
        2,
        2,
    ]
    assert set(row.last_run_by) == {one.owner, two.owner}


async def test_a_replica_that_died_mid_chunk_loses_it_when_its_lease_ends(db_url: str) -> None:
    one, two = Store.open(db_url), Store.open(db_url)
    lists, posts = Lists(), Posts()
    start(one)
    one.start_due_runs(T0)
    taken = one.claim_chunks(T0, limit=1, lease_seconds=300)
    assert len(taken) == 1  # ... and replica one dies holding it
    runner = MonitorRunner(two, lists.check, posts.post)
    await runner.run_until_idle(T0 + timedelta(minutes=1))
    assert not posts.said and len(lists.checked) == 64  # the other chunk only
    await runner.run_until_idle(T0 + timedelta(minutes=6))
    assert len(posts.said) == 1 and len(lists.checked) == 128
    assert not one.finish_chunk(taken[0], {}, {}, 0)  # too late: not its chunk any more


def test_monitors_are_one_per_target_and_channel_and_stop_when_asked(store: Store) -> None:
    monitor = start(store)
    with pytest.raises(MonitorExistsError):
        start(store)
    with pytest.raises(MonitorIntervalError):
        store.add_monitor(
            "51.158.11.0/24",
            ["51.158.11.0/24"],
            channel_id="C1",
            thread_ts="",
            every_seconds=60,
            now=T0,
        )
    assert [m.id for m in store.list_monitors()] == [monitor.id]
    assert store.list_monitors("C2") == []
    stopped = store.stop_monitor(NET, "C1", reason="stopped by <@U1>", now=T0)
    assert stopped is not None and stopped.state == "stopped"
    assert (
        store.list_monitors("C1") == []
        and store.stop_monitor(NET, "C1", reason="x", now=T0) is None
    )
    assert store.start_due_runs(T0 + HOUR) == []


def test_change_lines_name_the_lists() -> None:
    assert change_lines({"51.158.10.2": ["A"]}, {"51.158.10.10": ["B"], "51.158.10.2": ["A"]}) == [
        "51.158.10.10 newly listed on B"
    ]
    assert change_lines({"51.158.10.2": ["A", "B"]}, {"51.158.10.2": ["B"]}) == [
        "51.158.10.2 no longer on A (on B)"
    ]
