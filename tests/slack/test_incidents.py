"""Incident threads end to end: watches, history, Stop, bounces read from a thread.

`python -m bot` runs against the fake Slack and the test DNS server with its own SQLite
store. Time passing is simulated by moving a watch's due time into the past in that
store, so the bot's real watch loop (polling every 0.2 s) picks it up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.slack import blocks
from bot.store import watches
from tests.support.dns_server import DnsServer, reverse_name
from tests.support.fake_slack import Call, FakeSlack, Fault
from tests.support.slack_app import (
    SECRET,
    SPAMCOP,
    TOKEN,
    BotProcess,
    bot_env,
    good_ptr,
    list_address,
)

_next = iter(range(1, 10_000))


def fresh_ip() -> str:
    n = next(_next)
    return f"51.158.{120 + n // 250}.{n % 250 + 1}"


def mail_name(ip: str) -> str:
    return "inc-" + "".join(chr(97 + int(d)) for d in ip if d.isdigit()) + ".example-mail.net"


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('incidents') / 'bot.db'}"


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack,
    dns_server_session: DnsServer,
    db_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("bot")
    env = bot_env(
        slack.api_url,
        dns_server_session,
        tmp,
        SMTPCHECK_DATABASE_URL=db_url,
        SMTPCHECK_WATCH_POLL="0.2",
    )
    process = BotProcess(env, tmp / "bot.log").start()
    yield process
    process.stop()


@pytest.fixture
def dns(dns_server: DnsServer) -> DnsServer:
    return dns_server


def make_due(db_url: str) -> None:
    """Pretend the watch interval has passed: every active watch is due now."""
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.update(watches)
            .where(watches.c.state == "active")
            .values(next_due_at=datetime(2000, 1, 1, tzinfo=UTC))
        )
    engine.dispose()


def runs_of(db_url: str, target: str) -> int:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        query = sa.select(sa.func.sum(watches.c.runs)).where(watches.c.target == target)
        runs = conn.execute(query).scalar()
    engine.dispose()
    return int(runs or 0)


def thread_posts(slack: FakeSlack, channel: str, thread: str) -> list[Call]:
    return [c for c in slack.find("chat.postMessage", channel) if c.body.get("thread_ts") == thread]


def buttons(call: Call) -> list[dict[str, Any]]:
    return [e for b in call.blocks() if b.get("type") == "actions" for e in b["elements"]]


def test_watch_reports_the_delisting_once_then_stops_when_clean(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer, db_url: str
) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    list_address(dns, ip, SPAMCOP, ttl=0)
    bot.command(f"watch {ip} every 5m", channel="C_W1")
    report = slack.wait_call("chat.update", "C_W1")[0]
    thread = report.body["ts"]
    assert "SpamCop" in report.all_text()
    confirm = slack.wait_for(lambda: thread_posts(slack, "C_W1", thread))[0]
    assert f"Watching {ip} every 5 min" in confirm.all_text()
    stop = [b for b in buttons(confirm) if b["action_id"] == "watch_stop"]
    assert stop and stop[0]["value"].isdigit()

    # Nothing changed: the watch runs and says nothing.
    before = len(thread_posts(slack, "C_W1", thread))
    make_due(db_url)
    slack.wait_for(lambda: runs_of(db_url, ip) >= 1)
    assert len(thread_posts(slack, "C_W1", thread)) == before
    dns.remove(reverse_name(ip, SPAMCOP))  # now delisted
    make_due(db_url)
    posts = slack.wait_for(
        lambda: (p := thread_posts(slack, "C_W1", thread)) and len(p) > before and p
    )
    said = " ".join(p.all_text() for p in posts[before:])
    assert "delisted from SpamCop" in said
    assert "stopped watching" in said.lower()
    # The run is recorded after its post went out (at least once): wait for it.
    slack.wait_for(lambda: runs_of(db_url, ip) == 2)
    # It stopped: further due times post nothing more.
    count = len(thread_posts(slack, "C_W1", thread))
    make_due(db_url)
    with pytest.raises(AssertionError):
        slack.wait_for(lambda: len(thread_posts(slack, "C_W1", thread)) > count, timeout=1.0)


def test_watch_button_stop_button_and_listing(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer, db_url: str
) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    list_address(dns, ip, SPAMCOP, ttl=0)
    bot.command(ip, channel="C_W2")
    report = slack.wait_call("chat.update", "C_W2")[0]
    watch_button = next(b for b in buttons(report) if b["action_id"] == "watch_start")
    message = {"ts": report.body["ts"], "text": report.body["text"], "blocks": report.blocks()}
    bot.click(watch_button, channel="C_W2", message=message)
    confirm = slack.wait_for(lambda: thread_posts(slack, "C_W2", report.body["ts"]))[0]
    assert f"Watching {ip} every 15 min" in confirm.all_text()

    bot.command("watch", channel="C_W2")
    listing = slack.wait_call("chat.postEphemeral", "C_W2")[-1]
    assert ip in listing.all_text() and "every 15 min" in listing.all_text()

    stop = next(b for b in buttons(confirm) if b["action_id"] == "watch_stop")
    bot.click(
        stop,
        channel="C_W2",
        message={"ts": confirm.body.get("ts", report.body["ts"]), "thread_ts": report.body["ts"]},
    )
    stopped = slack.wait_for(
        lambda: [
            p
            for p in thread_posts(slack, "C_W2", report.body["ts"])
            if "Stopped watching" in p.all_text()
        ]
    )
    assert "<@U1>" in stopped[0].all_text()
    bot.command("watch", channel="C_W2")
    slack.wait_call("chat.postEphemeral", "C_W2", count=2)
    assert "Nothing is being watched" in slack.find("chat.postEphemeral", "C_W2")[-1].all_text()


def test_unwatch_and_duplicate_watch(bot: BotProcess, slack: FakeSlack, dns: DnsServer) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    bot.mention(
        f"<@UBOT> watch {ip}", channel="C_W3", ts="1700001000.000100", thread_ts="1700000999.000100"
    )
    slack.wait_for(lambda: thread_posts(slack, "C_W3", "1700000999.000100"))
    bot.mention(
        f"<@UBOT> watch {ip}", channel="C_W3", ts="1700001001.000100", thread_ts="1700000999.000100"
    )
    already = slack.wait_call("chat.postEphemeral", "C_W3")[0]
    assert "already watching" in already.all_text()
    bot.command(f"unwatch {ip}", channel="C_W3")
    slack.wait_for(
        lambda: [
            p
            for p in thread_posts(slack, "C_W3", "1700000999.000100")
            if "Stopped watching" in p.all_text()
        ]
    )
    bot.command(f"unwatch {ip}", channel="C_W3")
    # Three by now: "already watching", the first unwatch's "Stopped watching" (asked from
    # outside the watch's thread), and this one.
    slack.wait_call("chat.postEphemeral", "C_W3", count=3)
    assert "was not watching" in slack.find("chat.postEphemeral", "C_W3")[-1].all_text()


def test_bare_watch_mention_in_a_thread_watches_the_parent_address(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    slack.add_thread(
        "C_W4",
        "1700002000.000100",
        {"ts": "1700002000.000100", "text": f"mail from {ip} bounces since 9:00"},
    )
    bot.mention(
        "<@UBOT> watch", channel="C_W4", ts="1700002001.000100", thread_ts="1700002000.000100"
    )
    confirm = slack.wait_for(lambda: thread_posts(slack, "C_W4", "1700002000.000100"))[0]
    assert f"Watching {ip}" in confirm.all_text()


def test_history_lists_reports_with_changes(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    list_address(dns, ip, SPAMCOP, ttl=0)
    bot.command(ip, channel="C_H1")
    slack.wait_call("chat.update", "C_H1")
    dns.remove(reverse_name(ip, SPAMCOP))
    report = slack.find("chat.update", "C_H1")[0]
    recheck = next(b for b in buttons(report) if b["action_id"] == "recheck")
    bot.click(recheck, channel="C_H1", message={"ts": report.body["ts"], "blocks": report.blocks()})
    slack.wait_call("chat.update", "C_H1", count=2)
    bot.command(f"history {ip}", channel="C_H1")
    told = slack.wait_call("chat.postEphemeral", "C_H1")[0]
    text = told.all_text()
    assert f"History of {ip}" in text
    assert "delisted from SpamCop" in text
    assert text.count(" fail ") + text.count(" ok ") >= 2


def test_bare_mention_on_a_bounce_thread_explains_and_checks(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    list_address(dns, ip, SPAMCOP, txt="Blocked - see https://www.spamcop.net/bl.shtml")
    bounce = (
        "This is the mail system at host mail.example-mail.net.\n"
        "<ana@example.org>: host mx.example.org[198.18.0.5] said: 554 5.7.1 Service unavailable; "
        f"Client host [{ip}] blocked using bl.spamcop.net; Blocked - see https://www.spamcop.net/bl.shtml?{ip}"
    )
    slack.add_thread("C_B1", "1700003000.000100", {"ts": "1700003000.000100", "text": bounce})
    bot.mention("<@UBOT>", channel="C_B1", ts="1700003001.000100", thread_ts="1700003000.000100")
    report = slack.wait_call("chat.update", "C_B1")[0]
    text = report.all_text()
    assert ip in text and "SpamCop" in text
    assert "554" in text or "5.7.1" in text  # the bounce section is in the report


def test_unknown_bounce_is_private(bot: BotProcess, slack: FakeSlack) -> None:
    bot.command("bounce the printer is on fire again", channel="C_B2")
    told = slack.wait_call("chat.postEphemeral", "C_B2")[0]
    assert "I could not find an address or a known rejection in this" in told.all_text()
    assert not slack.find("chat.update", "C_B2")


def test_reports_are_stored_with_who_and_where(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer, db_url: str
) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    bot.command(ip, channel="C_S1", user="U77")
    report = slack.wait_call("chat.update", "C_S1")[0]
    engine = sa.create_engine(db_url)

    def stored_rows() -> list[Any]:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(
                        "SELECT user_id, channel_id, thread_ts, verdict, report FROM reports "
                        "WHERE target = :t"
                    ),
                    {"t": ip},
                ).all()
            )

    # The report is saved while chat.update is in flight, not before it.
    rows = slack.wait_for(stored_rows, timeout=5)
    engine.dispose()
    assert len(rows) == 1
    user, channel, thread, verdict, stored = rows[0]
    assert (user, channel, thread, verdict) == ("U77", "C_S1", report.body["ts"], "ok")
    assert json.loads(stored)["target"] == ip if isinstance(stored, str) else stored["target"] == ip


def test_log_has_no_secrets(bot: BotProcess, tmp_path: Path) -> None:
    assert TOKEN not in bot.log() and SECRET not in bot.log()


def test_a_bounce_report_has_recheck_and_watch_and_checks_the_bounce_domain(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    list_address(dns, ip, SPAMCOP)
    dns.add("shop-example.org", "TXT", f"v=spf1 ip4:{ip} -all")
    bounce = (
        "Dec  1 09:20:11 mail postfix/smtp[1211]: 8AB21: to=<a@example.org>, "
        "relay=mx.example.org[198.18.0.5]:25, dsn=5.7.1, status=bounced (host mx.example.org"
        f"[198.18.0.5] said: 554 5.7.1 Service unavailable; Client host [{ip}] blocked using "
        "bl.spamcop.net; from=<orders@shop-example.org>)"
    )
    bot.command(f"bounce {bounce}", channel="C_B3")
    report = slack.wait_call("chat.update", "C_B3")[0]
    ids = [b["action_id"] for b in buttons(report)]
    assert "recheck" in ids and "watch_start" in ids
    text = report.all_text()
    assert "shop-example.org" in text and "mx.example.org" in text
    recheck = next(b for b in buttons(report) if b["action_id"] == "recheck")
    value = blocks.read_button_value(recheck["value"])
    assert (value["t"], value["d"]) == (ip, "shop-example.org")


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("missing_scope", "lacks the permission"),
        ("not_in_channel", "/invite @smtpcheck"),
        ("channel_not_found", "invite me"),
    ],
)
def test_a_mention_slack_refuses_says_why_and_what_to_do(
    bot: BotProcess, slack: FakeSlack, error: str, says: str
) -> None:
    channel = f"C_R_{error}"
    n = len(error)  # a distinct message per case: the bot runs a repeated delivery once
    slack.fail("conversations.replies", Fault(error=error))
    bot.mention(
        "<@UBOT>", channel=channel, ts=f"17000040{n:02d}.000100", thread_ts="1700004000.000100"
    )
    told = slack.wait_call("chat.postEphemeral", channel)[0]
    text = told.all_text()
    assert says in text
    assert "error id" not in text and "something went wrong" not in text


def test_a_thread_naming_a_host_and_a_domain_is_checked_as_such(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    host = mail_name(ip)
    dns.add(host, "A", ip)
    good_ptr(dns, ip, host)
    domain = host.split(".", 1)[1]
    dns.add(domain, "TXT", f"v=spf1 ip4:{ip} -all")
    first = f"Mail from {host} bounces for {domain} since this morning, can someone look?"
    slack.add_thread("C_HD1", "1700005000.000100", {"ts": "1700005000.000100", "text": first})
    bot.mention("<@UBOT>", channel="C_HD1", ts="1700005001.000100", thread_ts="1700005000.000100")
    report = slack.wait_call("chat.update", "C_HD1")[0]
    text = report.all_text()
    assert host in text and f"SPF pass: {domain} allows {ip}" in text
