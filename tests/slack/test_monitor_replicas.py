"""Monitors in Slack, with two app instances sharing the machine's PostgreSQL.

Both run `python -m bot` against one fake Slack and one test DNS server. A monitor's
run is written as chunks that both replicas claim: the run is shared out between them,
and its result is told once in the monitor's thread, whichever replica closed it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import monitors, normalise_url
from tests.support.databases import fresh_database
from tests.support.dns_server import DnsServer, reverse_name
from tests.support.fake_slack import Call, FakeSlack
from tests.support.slack_app import SPAMCOP, BotProcess, bot_env, list_address

NET = "51.158.203.0/24"
#: Four lists: a /24 is 1,024 questions, which the test DNS server answers in a moment.
ZONES_TOML = "\n".join(
    ["replace_builtin = true", ""]
    + [
        f'[[list]]\nzone = "{zone}"\nname = "{name}"\nselftest = false\n'
        f'lookup_url = "https://{zone}/lookup?ip={{ip}}"\n'
        for zone, name in [
            ("zen.spamhaus.org", "Spamhaus ZEN"),
            (SPAMCOP, "SpamCop"),
            ("bl00.lists-example.net", "List BL00"),
            ("bl01.lists-example.net", "List BL01"),
        ]
    ]
)


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


def start_bot(slack: FakeSlack, dns: DnsServer, url: str, tmp: Path, name: str) -> BotProcess:
    env = bot_env(
        slack.api_url,
        dns,
        tmp,
        ZONES_TOML,
        SMTPCHECK_DATABASE_URL=url,
        SMTPCHECK_TIMEOUT="3",
        SMTPCHECK_WATCH_POLL="0.05",
    )
    return BotProcess(env, tmp / f"{name}.log").start()


def rows(url: str) -> list[sa.RowMapping]:
    engine = sa.create_engine(normalise_url(url))
    with engine.connect() as conn:
        found = list(conn.execute(sa.select(monitors)).mappings())
    engine.dispose()
    return found


def make_due(url: str) -> None:
    engine = sa.create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(sa.update(monitors).values(next_due_at=datetime(2000, 1, 1, tzinfo=UTC)))
    engine.dispose()


def thread_posts(slack: FakeSlack, channel: str) -> list[Call]:
    return [c for c in slack.find("chat.postMessage", channel) if c.body.get("thread_ts")]


def test_two_replicas_share_a_monitor_run_and_tell_each_change_once(
    slack: FakeSlack, dns_server: DnsServer, pg_url: str, tmp_path: Path
) -> None:
    list_address(dns_server, "51.158.203.7", SPAMCOP, ttl=0)
    list_address(dns_server, "51.158.203.200", SPAMCOP, ttl=0)
    dns_server.delay = 0.02  # each chunk takes a moment: the other replica claims the next
    one = start_bot(slack, dns_server, pg_url, tmp_path, "one")
    two = start_bot(slack, dns_server, pg_url, tmp_path, "two")
    try:
        one.command(f"monitor {NET} every 30m", channel="C_MON")
        slack.wait_for(lambda: rows(pg_url) and rows(pg_url)[0]["finished_run"] == 1, timeout=30)
        [row] = rows(pg_url)
        assert row["every_seconds"] == 1800 and row["addresses"] == 256
        assert len(row["last_run_by"]) == 2, row["last_run_by"]  # both replicas took chunks
        assert sum(row["last_run_by"].values()) == 4
        slack.wait_for(lambda: thread_posts(slack, "C_MON"), timeout=10)
        [first] = thread_posts(slack, "C_MON")
        text = first.all_text()
        assert f"{NET}: 2 of 256 addresses listed now" in text
        assert "51.158.203.7 newly listed on SpamCop" in text

        # Nothing changes: a run, and nothing said.
        make_due(pg_url)
        slack.wait_for(lambda: rows(pg_url)[0]["finished_run"] == 2, timeout=30)
        # One delisted, one newly listed: exactly one post saying both.
        dns_server.remove(reverse_name("51.158.203.7", SPAMCOP))
        list_address(dns_server, "51.158.203.9", SPAMCOP, ttl=0)
        make_due(pg_url)
        slack.wait_for(lambda: rows(pg_url)[0]["finished_run"] == 3, timeout=30)
        slack.wait_for(lambda: len(thread_posts(slack, "C_MON")) >= 2, timeout=10)
        said = thread_posts(slack, "C_MON")[1:]
        assert len(said) == 1, [c.all_text()[:200] for c in said]
        assert "51.158.203.9 newly listed on SpamCop" in said[0].all_text()
        assert "51.158.203.7 delisted (was on SpamCop)" in said[0].all_text()

        two.command("watch", channel="C_MON")
        listing = slack.wait_call("chat.postEphemeral", "C_MON")[-1].all_text()
        assert f"{NET} (256 addresses), every 30 min" in listing
        assert "2 listed at the last run" in listing
        metrics = two.http.get("/metrics").text
        assert (
            f'smtpcheck_monitor_listed_addresses{{channel="C_MON",list="SpamCop",monitor="{NET}"}} 2.0'
            in metrics
        )

        one.command(f"unmonitor {NET}", channel="C_MON")
        slack.wait_for(lambda: rows(pg_url)[0]["state"] == "stopped", timeout=10)
    finally:
        dns_server.delay = 0.0
        one.stop()
        two.stop()


POOLS = """
[[pool]]
name = "Frankfurt egress"
ranges = ["51.158.204.0/26", "51.158.205.0/27", "2a01:4f8:10a::/48"]

[[pool]]
name = "Everything"
ranges = ["51.150.0.0/16"]
"""


def test_a_pool_is_monitored_by_its_name_and_a_wrong_name_is_told(
    slack: FakeSlack, dns_server: DnsServer, tmp_path: Path
) -> None:
    pools = tmp_path / "pools.toml"
    pools.write_text(POOLS)
    list_address(dns_server, "51.158.205.3", SPAMCOP, ttl=0)
    env = bot_env(
        slack.api_url,
        dns_server,
        tmp_path,
        ZONES_TOML,
        SMTPCHECK_POOLS=str(pools),
        SMTPCHECK_WATCH_POLL="0.05",
    )
    bot = BotProcess(env, tmp_path / "pool.log").start()
    try:
        bot.command("monitor frankfurt EGRESS", channel="C_POOL")
        posted = slack.wait_for(
            lambda: [c for c in thread_posts(slack, "C_POOL") if "listed now" in c.all_text()],
            timeout=30,
        )
        text = posted[0].all_text()
        assert "Frankfurt egress: 1 of 96 addresses listed now" in text
        assert "51.158.205.3 newly listed on SpamCop" in text
        bot.command("monitor nowhere", channel="C_POOL")
        bot.command("monitor everything", channel="C_POOL")
        said = slack.wait_call("chat.postEphemeral", "C_POOL", count=2, timeout=10)
        texts = [c.all_text() for c in said]
        assert any(
            "nowhere is not a range nor a pool I know" in t and "Frankfurt egress" in t
            for t in texts
        )
        assert any("65,536 addresses" in t or "cannot be monitored" in t for t in texts)
        bot.command("unmonitor Frankfurt egress", channel="C_POOL")
        slack.wait_for(
            lambda: any(
                "Stopped monitoring Frankfurt egress" in c.all_text()
                for c in thread_posts(slack, "C_POOL")
            ),
            timeout=10,
        )
    finally:
        bot.stop()
