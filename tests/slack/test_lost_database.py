"""In Slack, a database that fails costs the history, never the report.

`python -m bot` over PostgreSQL through a relay that is cut and restored, and over SQLite
files that turn corrupt, read-only or full while it runs. Each check is still answered,
with a note that it was not kept; /metrics counts the failures; when the database is
back, reports are kept again without a restart.
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from bot.store import normalise_url
from tests.support.broken_disks import corrupt, fill, read_only_over, tiny_disk
from tests.support.databases import fresh_database
from tests.support.dns_server import DnsServer, reverse_name
from tests.support.fake_slack import Call, FakeSlack
from tests.support.slack_app import SPAMCOP, BotProcess, bot_env
from tests.support.tcp_proxy import TcpProxy

NOT_KEPT = "was not kept"
_next = iter(range(1, 250))


def fresh_ip(dns: DnsServer) -> str:
    ip = f"51.158.150.{next(_next)}"
    dns.add(reverse_name(ip, SPAMCOP), "A", "127.0.0.2")
    return ip


def start(slack: FakeSlack, dns: DnsServer, tmp: Path, url: str) -> BotProcess:
    env = bot_env(slack.api_url, dns, tmp, SMTPCHECK_DATABASE_URL=url)
    return BotProcess(env, tmp / "bot.log").start()


def answer(bot: BotProcess, slack: FakeSlack, dns: DnsServer, channel: str) -> list[Call]:
    """Run a check in `channel`; every update of its message once it is settled."""
    ip = fresh_ip(dns)
    bot.command(f"bl {ip}", channel=channel)
    slack.wait_for(
        lambda: any(
            ip in c.all_text() and "SpamCop" in c.all_text() for c in updates(slack, channel)
        ),
        timeout=15,
    )
    return updates(slack, channel)


def updates(slack: FakeSlack, channel: str) -> list[Call]:
    return slack.accepted("chat.update", channel)


def noted(slack: FakeSlack, channel: str) -> bool:
    return any(NOT_KEPT in c.all_text() for c in updates(slack, channel))


def store_errors(bot: BotProcess) -> float:
    text = bot.http.get("/metrics").text
    found = re.search(r'smtpcheck_store_errors_total\{operation="save_report"\} ([0-9.]+)', text)
    return float(found.group(1)) if found else 0.0


def assert_told_not_kept(bot: BotProcess, slack: FakeSlack, dns: DnsServer, channel: str) -> None:
    before = store_errors(bot)
    answer(bot, slack, dns, channel)
    slack.wait_for(lambda: noted(slack, channel), timeout=10)
    assert store_errors(bot) == before + 1
    assert not any("went wrong" in c.all_text() for c in slack.find("chat.postEphemeral", channel))


def test_postgresql_lost_and_back(slack: FakeSlack, dns_server: DnsServer, tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        proxy = TcpProxy("127.0.0.1", 5432).up()
        relayed = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        relayed += "&connect_timeout=2"
        bot = start(slack, dns_server, tmp_path, relayed)
        engine = sa.create_engine(normalise_url(url))

        def kept() -> int:
            with engine.connect() as conn:
                return int(conn.execute(sa.text("select count(*) from reports")).scalar_one())

        try:
            answer(bot, slack, dns_server, "C_PG_UP")
            slack.wait_for(lambda: kept() == 1, timeout=5)
            assert not noted(slack, "C_PG_UP")

            proxy.down()
            assert_told_not_kept(bot, slack, dns_server, "C_PG_DOWN")
            assert kept() == 1

            proxy.up()  # the same address: the pool must notice its connections are dead
            answer(bot, slack, dns_server, "C_PG_BACK")
            slack.wait_for(lambda: kept() == 2, timeout=10)
            assert not noted(slack, "C_PG_BACK")
        finally:
            bot.stop()
            engine.dispose()
            proxy.close()


def test_postgresql_schema_dropped(slack: FakeSlack, dns_server: DnsServer, tmp_path: Path) -> None:
    """Tables gone under the running bot (a restore gone wrong): answered, not kept."""
    with fresh_database("postgresql", tmp_path) as url:
        bot = start(slack, dns_server, tmp_path, url)
        engine = sa.create_engine(normalise_url(url))
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("drop table reports"))
            assert_told_not_kept(bot, slack, dns_server, "C_PG_DROP")
        finally:
            bot.stop()
            engine.dispose()


def test_sqlite_corrupt(slack: FakeSlack, dns_server: DnsServer, tmp_path: Path) -> None:
    bot = start(slack, dns_server, tmp_path, f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        corrupt(tmp_path / "bot.db")
        assert_told_not_kept(bot, slack, dns_server, "C_SQ_CORRUPT")
    finally:
        bot.stop()


def test_sqlite_read_only_and_back(slack: FakeSlack, dns_server: DnsServer, tmp_path: Path) -> None:
    bot = start(slack, dns_server, tmp_path, f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        with read_only_over(tmp_path):
            assert_told_not_kept(bot, slack, dns_server, "C_SQ_RO")
        answer(bot, slack, dns_server, "C_SQ_RW")
        assert not noted(slack, "C_SQ_RW")
    finally:
        bot.stop()


def test_sqlite_on_a_full_disk(slack: FakeSlack, dns_server: DnsServer, tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "full") as where:
        bot = start(slack, dns_server, tmp_path, f"sqlite:///{where / 'bot.db'}")
        try:
            fill(where)
            assert_told_not_kept(bot, slack, dns_server, "C_SQ_FULL")
        finally:
            bot.stop()


def said_in(slack: FakeSlack, channel: str, words: str) -> list[Call]:
    return [
        c
        for method in ("chat.postEphemeral", "chat.postMessage")
        for c in slack.accepted(method, channel)
        if words in c.all_text()
    ]


def standing(slack: FakeSlack, channel: str, words: str) -> list[Call]:
    """Posts saying `words` that were not deleted afterwards."""
    deleted = {d.body.get("ts") for d in slack.accepted("chat.delete", channel)}
    return [
        c
        for c in slack.accepted("chat.postMessage", channel)
        if words in c.all_text() and (c.answer or {}).get("ts") not in deleted
    ]


def test_a_monitor_that_cannot_be_kept_is_not_announced(
    slack: FakeSlack, dns_server: DnsServer, tmp_path: Path
) -> None:
    """A monitor lives in the database: when it cannot be stored, nobody is told it runs."""
    bot = start(slack, dns_server, tmp_path, f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        with read_only_over(tmp_path):
            bot.command("monitor 51.158.251.0/30", channel="C_SQ_MON")
            told = slack.wait_for(
                lambda: said_in(slack, "C_SQ_MON", "could not start monitoring"), timeout=15
            )
            assert "51.158.251.0/30" in told[0].all_text()
            assert told[0].method == "chat.postEphemeral"  # to the person who asked
            assert not said_in(slack, "C_SQ_MON", "went wrong")
            slack.wait_for(lambda: slack.accepted("chat.delete", "C_SQ_MON"), timeout=10)
            assert not standing(slack, "C_SQ_MON", "Monitoring"), (
                "the channel was told a monitor runs that was never stored"
            )
        # Writable again: the same command starts it.
        bot.command("monitor 51.158.251.0/30", channel="C_SQ_MON2")
        slack.wait_for(lambda: standing(slack, "C_SQ_MON2", "Monitoring"), timeout=15)
        assert not said_in(slack, "C_SQ_MON2", "could not start")
    finally:
        bot.stop()


def test_a_watch_that_cannot_be_kept_says_so(
    slack: FakeSlack, dns_server: DnsServer, tmp_path: Path
) -> None:
    """The report is still delivered; the watch is refused in one sentence, not a crash."""
    bot = start(slack, dns_server, tmp_path, f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        ip = fresh_ip(dns_server)
        with read_only_over(tmp_path):
            bot.command(f"watch {ip}", channel="C_SQ_WATCH")
            told = slack.wait_for(
                lambda: said_in(slack, "C_SQ_WATCH", "could not start watching"), timeout=20
            )
            assert ip in told[0].all_text() and told[0].method == "chat.postEphemeral"
            assert any(
                ip in c.all_text() and "SpamCop" in c.all_text()
                for c in updates(slack, "C_SQ_WATCH")
            )
            assert not said_in(slack, "C_SQ_WATCH", "went wrong")
            assert not standing(slack, "C_SQ_WATCH", "Watching")
    finally:
        bot.stop()
