"""Who may ask and how often, secrets kept out of logs, configuration errors, Socket Mode."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dns_server import DnsServer
from tests.support.fake_slack import FakeSlack
from tests.support.slack_app import APP_TOKEN, ROOT, SECRET, TOKEN, BotProcess, catalogue_toml

IP = "51.158.30.7"


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def base_env(slack: FakeSlack, dns: DnsServer, tmp: Path) -> dict[str, str]:
    zones = tmp / "zones.toml"
    zones.write_text(catalogue_toml())
    return {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "SMTPCHECK_NAMESERVERS": dns.address,
        "SMTPCHECK_TIMEOUT": "0.5",
        "SMTPCHECK_ZONES": str(zones),
        "SMTPCHECK_DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}",
        "LOG_LEVEL": "DEBUG",
    }


@pytest.fixture(scope="module")
def guarded_bot(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("guarded")
    env = base_env(slack, dns_server_session, tmp) | {
        "SMTPCHECK_ALLOWED_CHANNELS": "C_OK, C_OK2",
        "SMTPCHECK_ALLOWED_USERS": "U_OK",
        "SMTPCHECK_USER_RATE": "2",
    }
    process = BotProcess(env, tmp / "bot.log").start()
    yield process
    process.stop()


def test_channel_not_on_the_list(guarded_bot: BotProcess, slack: FakeSlack) -> None:
    body = guarded_bot.command(IP, channel="C_OTHER", user="U_OK").json()
    assert (
        body["response_type"] == "ephemeral" and "not enabled in this conversation" in body["text"]
    )
    time.sleep(0.2)
    assert not slack.find("chat.postMessage", "C_OTHER")


def test_user_not_on_the_list(guarded_bot: BotProcess, slack: FakeSlack) -> None:
    body = guarded_bot.command(IP, channel="C_OK2", user="U_STRANGER").json()
    assert body["response_type"] == "ephemeral" and "SMTPCHECK_ALLOWED_USERS" in body["text"]
    time.sleep(0.2)
    assert not slack.find("chat.postMessage", "C_OK2")


def test_mention_in_a_channel_not_on_the_list(guarded_bot: BotProcess, slack: FakeSlack) -> None:
    guarded_bot.mention(f"<@UBOT> {IP}", channel="C_NOPE", ts="1700001000.000100", user="U_OK")
    told = slack.wait_call("chat.postEphemeral", "C_NOPE")[0]
    assert "not enabled" in told.body["text"] and told.body["user"] == "U_OK"
    assert not slack.find("chat.postMessage", "C_NOPE")


def test_rate_limit_is_friendly(
    guarded_bot: BotProcess, slack: FakeSlack, dns_server: DnsServer
) -> None:
    for _ in range(2):
        assert guarded_bot.command(IP, channel="C_OK", user="U_OK").status_code == 200
    body = guarded_bot.command(IP, channel="C_OK", user="U_OK").json()
    assert body["response_type"] == "ephemeral" and "Try again in" in body["text"]
    assert len(slack.wait_call("chat.update", "C_OK", count=2)) == 2
    time.sleep(0.3)
    assert len(slack.find("chat.postMessage", "C_OK")) == 2


def test_debug_log_has_no_secrets(guarded_bot: BotProcess, slack: FakeSlack) -> None:
    guarded_bot.command("help", channel="C_OK", user="U_OK")
    log = guarded_bot.log()
    assert "DEBUG" in log and "auth.test" in log
    assert TOKEN not in log and SECRET not in log


def test_missing_token_is_one_sentence(slack: FakeSlack, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    done = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_socket_mode(slack: FakeSlack, dns_server: DnsServer, tmp_path: Path) -> None:
    env = base_env(slack, dns_server, tmp_path) | {"SLACK_APP_TOKEN": APP_TOKEN}
    env.pop("SLACK_SIGNING_SECRET")
    process = BotProcess(env, tmp_path / "socket.log").start(wait_healthy=False)
    try:
        slack.wait_for(slack.socket_connected, timeout=15)
        opened = slack.find("apps.connections.open")
        assert opened
        slack.send_envelope(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "token": "legacy",
                    "team_id": "T1",
                    "channel_id": "C_SOCKET",
                    "user_id": "U1",
                    "command": "/smtpcheck",
                    "text": IP,
                    "response_url": slack.response_url("socket"),
                    "trigger_id": "1.2.3",
                    "api_app_id": "A1",
                },
            }
        )
        slack.wait_for(lambda: any(m.get("envelope_id") == "env-1" for m in slack.socket_received))
        report = slack.wait_call("chat.update", "C_SOCKET")[0]
        assert IP in report.body["text"]
        assert APP_TOKEN not in process.log() and TOKEN not in process.log()
    finally:
        process.stop()
