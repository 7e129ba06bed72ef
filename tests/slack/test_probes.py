"""SMTP probes from Slack: the report's facts, and the per-person cap on probes at once."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dns_server import DnsServer
from tests.support.fake_slack import FakeSlack
from tests.support.slack_app import BotProcess, bot_env
from tests.support.smtp_servers import SmtpPeer


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp: Path = tmp_path_factory.mktemp("probes")
    env = bot_env(
        slack.api_url,
        dns_server_session,
        tmp,
        SMTPCHECK_ALLOW_PRIVATE_TARGETS="1",  # the peers live on loopback
        SMTPCHECK_SMTP_TIMEOUT="3",
    )
    process = BotProcess(env, tmp / "bot.log").start()
    yield process
    process.stop()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A server on 127.0.0.1:2525 that accepts connections and never says a word."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 2525))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield 2525
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


def test_smtp_report_in_slack(bot: BotProcess, slack: FakeSlack) -> None:
    with SmtpPeer(port=587):
        bot.command("smtp 127.0.0.1 587", channel="C_P1")
        report = slack.wait_call("chat.update", "C_P1", timeout=10)[0]
    text = report.all_text()
    assert "SMTP" in text and "connected to 127.0.0.1:587" in text
    assert "banner: `220" in text  # the server's words, as a code span


def test_probes_per_person_are_capped(
    bot: BotProcess, slack: FakeSlack, silent_server: int
) -> None:
    for _ in range(4):
        bot.command(f"smtp 127.0.0.1 {silent_server}", channel="C_P2", user="U_BUSY")
    told = slack.wait_call("chat.postEphemeral", "C_P2", timeout=5)[0]
    assert "already have 3 SMTP probes running" in told.all_text()
    # The three that run finish as timeouts (the server never speaks), each in its report.
    reports = slack.wait_call("chat.update", "C_P2", count=3, timeout=15)
    assert all("never sent its greeting" in r.all_text() for r in reports)
    # Another person is not affected by U_BUSY's probes.
    assert len([c for c in slack.find("chat.postEphemeral", "C_P2")]) == 1


def test_a_french_smtp_report_writes_its_milliseconds_the_french_way(
    bot: BotProcess, slack: FakeSlack
) -> None:
    """The summary said "connecté en 3.1 ms":'s connect time kept Python's digits (and six of them)."""
    slack.set_locale("U_FR_PROBE", "fr-FR")
    with SmtpPeer(port=2525):
        bot.command("smtp 127.0.0.1 2525", channel="C_P_FR", user="U_FR_PROBE")
        report = slack.wait_call("chat.update", "C_P_FR", timeout=10)[0]
    summary = report.blocks()[1]["text"]["text"].splitlines()[1]
    assert re.search(r"connecté en \d+(,\d)? ms", summary), summary
    assert not re.search(r"connecté en \d+\.\d", summary), summary
