"""Two app instances sharing the machine's PostgreSQL: each due watch runs exactly once.

Both run `python -m bot` in HTTP mode against one fake Slack and one test DNS server,
with a fresh PostgreSQL schema. Their watch loops poll every 50 ms, so they race for
every due watch; the store's row locking must make each run (and each post) happen once.
A restart (one replica stopped, a new one started) must pick the watches up: they are
rows, not timers in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import normalise_url, watches
from tests.support.databases import fresh_database
from tests.support.dns_server import DnsServer, reverse_name
from tests.support.fake_slack import Call, FakeSlack
from tests.support.slack_app import (
    SPAMCOP,
    BotProcess,
    bot_env,
    good_ptr,
    list_address,
)

ADDRESSES = [f"51.158.200.{n}" for n in range(1, 7)]


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


def start_bot(slack: FakeSlack, dns: DnsServer, url: str, tmp: Path, name: str) -> BotProcess:
    # Two bots starting six checks at once load this small machine: allow for it, so the
    # baseline reports are complete and only the delisting is a change.
    env = bot_env(
        slack.api_url,
        dns,
        tmp,
        SMTPCHECK_DATABASE_URL=url,
        SMTPCHECK_TIMEOUT="3",
        SMTPCHECK_WATCH_POLL="0.05",
    )
    return BotProcess(env, tmp / f"{name}.log").start()


def make_due(url: str) -> None:
    engine = sa.create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(
            sa.update(watches)
            .where(watches.c.state == "active")
            .values(next_due_at=datetime(2000, 1, 1, tzinfo=UTC))
        )
    engine.dispose()


def watch_rows(url: str) -> list[sa.Row[tuple[str, str, int]]]:
    engine = sa.create_engine(normalise_url(url))
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(watches.c.target, watches.c.state, watches.c.runs)))
    engine.dispose()
    return rows


def thread_posts(slack: FakeSlack, channel: str) -> list[Call]:
    return [c for c in slack.find("chat.postMessage", channel) if c.body.get("thread_ts")]


def test_two_replicas_post_each_change_once(
    slack: FakeSlack, dns_server: DnsServer, pg_url: str, tmp_path: Path
) -> None:
    for ip in ADDRESSES:
        letters = "".join(chr(97 + int(d)) for d in ip.split(".")[-1])  # not a generic-looking name
        good_ptr(dns_server, ip, f"relay-{letters}.example-mail.net")
        list_address(dns_server, ip, SPAMCOP, ttl=0)
    one = start_bot(slack, dns_server, pg_url, tmp_path, "one")
    two = start_bot(slack, dns_server, pg_url, tmp_path, "two")
    try:
        for n, ip in enumerate(ADDRESSES):
            (one if n % 2 else two).command(f"watch {ip}", channel="C_REP")
        slack.wait_for(lambda: len(watch_rows(pg_url)) == len(ADDRESSES), timeout=10)
        # The watch row exists a moment before its confirmation is posted.
        slack.wait_for(lambda: len(thread_posts(slack, "C_REP")) >= len(ADDRESSES), timeout=10)
        confirmations = len(thread_posts(slack, "C_REP"))
        assert confirmations == len(ADDRESSES), [
            c.all_text()[:120] for c in thread_posts(slack, "C_REP")
        ]

        # Three rounds where nothing changes: both replicas race, nobody posts, each runs once.
        for round_ in range(1, 4):
            make_due(pg_url)
            slack.wait_for(
                lambda r=round_: all(row.runs >= r for row in watch_rows(pg_url)), timeout=10
            )
            assert all(row.runs == round_ for row in watch_rows(pg_url))
        quiet = thread_posts(slack, "C_REP")[confirmations:]
        assert not quiet, [c.all_text()[:300] for c in quiet]

        # Delisted everywhere: exactly one post per watch, and every watch stops (clean).
        for ip in ADDRESSES:
            dns_server.remove(reverse_name(ip, SPAMCOP))
        make_due(pg_url)
        slack.wait_for(lambda: all(row.state == "clean" for row in watch_rows(pg_url)), timeout=10)
        # The store records a run before its post goes out: wait for the posts too.
        slack.wait_for(lambda: len(thread_posts(slack, "C_REP")) >= confirmations + len(ADDRESSES))
        said = thread_posts(slack, "C_REP")[confirmations:]
        assert len(said) == len(ADDRESSES)
        assert sorted(ip for c in said for ip in ADDRESSES if ip in c.all_text()) == sorted(
            ADDRESSES
        )
        assert all("delisted from SpamCop" in c.all_text() for c in said)
        assert all(row.runs == 4 for row in watch_rows(pg_url))
    finally:
        one.stop()
        two.stop()


def test_a_restart_mid_watch_picks_the_watch_up(
    slack: FakeSlack, dns_server: DnsServer, pg_url: str, tmp_path: Path
) -> None:
    ip = "51.158.201.9"
    good_ptr(dns_server, ip, "mail-restart.example-mail.net")
    list_address(dns_server, ip, SPAMCOP, ttl=0)
    first = start_bot(slack, dns_server, pg_url, tmp_path, "first")
    first.command(f"watch {ip}", channel="C_RESTART")
    slack.wait_for(lambda: len(watch_rows(pg_url)) == 1, timeout=10)
    first.stop()  # the process that started the watch is gone

    dns_server.remove(reverse_name(ip, SPAMCOP))
    make_due(pg_url)
    second = start_bot(slack, dns_server, pg_url, tmp_path, "second")
    try:
        slack.wait_for(lambda: watch_rows(pg_url)[0].state == "clean", timeout=10)
        slack.wait_for(  # the store records the run before the post goes out
            lambda: any(
                "delisted from SpamCop" in c.all_text() for c in thread_posts(slack, "C_RESTART")
            )
        )
    finally:
        second.stop()


def test_two_replicas_run_a_repeated_delivery_once(
    slack: FakeSlack, dns_server: DnsServer, pg_url: str, tmp_path: Path
) -> None:
    """Behind one Service, Slack's retry or a replay may land on the other replica."""
    from urllib.parse import urlencode

    from tests.support.slack_app import sign

    one = start_bot(slack, dns_server, pg_url, tmp_path, "one")
    two = start_bot(slack, dns_server, pg_url, tmp_path, "two")
    try:
        body = urlencode(
            {
                "command": "/smtpcheck",
                "text": "bl 51.158.202.7",
                "channel_id": "C_TWICE",
                "user_id": "U1",
                "team_id": "T1",
                "response_url": "",
                "trigger_id": "1.2.3",
                "api_app_id": "A1",
            }
        )
        headers = sign(body)
        for bot in (one, two, one, two):
            assert bot.post(body, "application/x-www-form-urlencoded", headers).status_code == 200
        slack.wait_call("chat.update", "C_TWICE")
        import time

        time.sleep(1.5)
        assert len(slack.find("chat.postMessage", "C_TWICE")) == 1
    finally:
        one.stop()
        two.stop()


def test_two_replicas_tell_a_change_whose_post_failed_exactly_once(
    slack: FakeSlack, dns_server: DnsServer, pg_url: str, tmp_path: Path
) -> None:
    """Four 500s (the post and its three retries), then Slack is back: one post, clean after."""
    from tests.support.fake_slack import Fault

    ip = "51.158.203.4"
    good_ptr(dns_server, ip, "relay-fail.example-mail.net")
    list_address(dns_server, ip, SPAMCOP, ttl=0)
    one = start_bot(slack, dns_server, pg_url, tmp_path, "one")
    two = start_bot(slack, dns_server, pg_url, tmp_path, "two")
    try:
        one.command(f"watch {ip}", channel="C_FAILPOST")
        slack.wait_for(lambda: len(watch_rows(pg_url)) == 1, timeout=10)
        slack.wait_for(lambda: thread_posts(slack, "C_FAILPOST"), timeout=10)
        confirmations = len(slack.accepted("chat.postMessage", "C_FAILPOST"))

        dns_server.remove(reverse_name(ip, SPAMCOP))
        slack.fail("chat.postMessage", *[Fault(status=500)] * 4)
        make_due(pg_url)
        slack.wait_for(lambda: not slack.faults.get("chat.postMessage"), timeout=20)
        import time

        time.sleep(1.0)
        assert watch_rows(pg_url)[0].state == "active"  # not clean before the post went out
        assert len(slack.accepted("chat.postMessage", "C_FAILPOST")) == confirmations

        make_due(pg_url)
        slack.wait_for(lambda: watch_rows(pg_url)[0].state == "clean", timeout=15)
        time.sleep(1.0)  # both replicas keep polling: nothing more may be said
        told = slack.accepted("chat.postMessage", "C_FAILPOST")[confirmations:]
        assert len(told) == 1 and "delisted from SpamCop" in told[0].all_text()
    finally:
        one.stop()
        two.stop()
