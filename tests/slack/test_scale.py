"""Ranges and metrics through the front door: progress in the message, the table in the thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dns_server import DnsServer, reverse_name
from tests.support.fake_slack import FakeSlack, Fault
from tests.support.slack_app import BotProcess, bot_env

ZONES = """
replace_builtin = true
[[list]]
zone = "bl.spamcop.net"
name = "SpamCop"
tier = "major"
lookup_url = "https://www.spamcop.net/bl.shtml?{ip}"

[[list]]
zone = "psbl.surriel.com"
name = "PSBL"
tier = "secondary"
lookup_url = "https://psbl.org/listing?ip={ip}"
"""


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp: Path = tmp_path_factory.mktemp("scale")
    env = bot_env(slack.api_url, dns_server_session, tmp, ZONES, SMTPCHECK_TIMEOUT="3")
    process = BotProcess(env, tmp / "bot.log").start()
    yield process
    process.stop()


def test_range_progress_summary_and_table(
    bot: BotProcess, slack: FakeSlack, dns_server: DnsServer
) -> None:
    for zone in ("bl.spamcop.net", "psbl.surriel.com"):
        dns_server.add(reverse_name("127.0.0.2", zone), "A", "127.0.0.2")
    dns_server.add(reverse_name("51.158.30.5", "bl.spamcop.net"), "A", "127.0.0.2")
    dns_server.add(reverse_name("51.158.30.9", "psbl.surriel.com"), "A", "127.0.0.2")
    # Slow enough for a progress update (at most one a second): addresses and the
    # self-test are asked together, so the range takes about one answer's time.
    dns_server.delay = 1.5
    bot.command("51.158.30.0/28", channel="C_R1")
    updates = slack.wait_call("chat.update", "C_R1", count=2, timeout=15)
    final = slack.wait_for(
        lambda: [
            u
            for u in slack.find("chat.update", "C_R1")
            if "Blocklists for the range" in u.all_text()
        ],
        timeout=15,
    )[0]
    assert any("of 16 addresses" in u.all_text() for u in updates)
    text = final.all_text()
    assert "51.158.30.5: SpamCop" in text and "51.158.30.9: PSBL" in text
    assert "14 addresses clean" in text
    table = slack.wait_for(
        lambda: [
            c
            for c in slack.find("chat.postMessage", "C_R1")
            if c.body.get("thread_ts") == final.body["ts"]
        ],
        timeout=10,
    )
    body = " ".join(c.all_text() for c in table)
    assert all(f"51.158.30.{n}" in body for n in range(16))
    assert body.index("51.158.30.5") < body.index("51.158.30.1 ")  # listed first


def test_ipv6_range_is_refused_privately(bot: BotProcess, slack: FakeSlack) -> None:
    response = bot.command("2a01:4f8:10a::/64", channel="C_R2")
    assert response.status_code == 200
    answer = response.json()  # bad input is answered in the acknowledgement, to the person only
    assert answer.get("response_type", "ephemeral") == "ephemeral"
    assert "IPv6 range" in str(answer)
    assert not slack.find("chat.postMessage", "C_R2")


def test_metrics_count_checks_dns_and_slack_errors(
    bot: BotProcess, slack: FakeSlack, dns_server: DnsServer
) -> None:
    slack.fail("chat.postMessage", Fault(error="not_in_channel"))
    bot.command("51.158.31.7", channel="C_R3", response_url=slack.response_url("r3"))
    slack.wait_call("response_url", "r3", count=2, timeout=10)
    metrics = bot.http.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'smtpcheck_checks_total{kind="full"' in text
    assert 'smtpcheck_dns_questions_total{list="bl.spamcop.net",outcome="clean"}' in text
    assert (
        'smtpcheck_slack_api_errors_total{error="not_in_channel",method="chat.postMessage"}' in text
    )
