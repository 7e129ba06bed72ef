"""The HTTP endpoint against hostile senders: unsigned junk, oversized bodies, replays.

Over real HTTP into `python -m bot`. Nothing an unsigned sender shapes may reach a parser:
every malformed request is a 4xx, never a 500 or a traceback in the log; a body over
1 MiB is refused before it is read whole; a delivery Slack repeats runs once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from tests.support.dns_server import DnsServer
from tests.support.fake_slack import FakeSlack
from tests.support.slack_app import BotProcess, bot_env, sign

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("front")
    process = BotProcess(bot_env(slack.api_url, dns_server_session, tmp), tmp / "bot.log").start()
    yield process
    process.stop()


def command_body(text: str, channel: str) -> str:
    return urlencode(
        {
            "command": "/smtpcheck",
            "text": text,
            "channel_id": channel,
            "user_id": "U1",
            "team_id": "T1",
            "response_url": "",
            "trigger_id": "1.2.3",
            "api_app_id": "A1",
        }
    )


@pytest.mark.parametrize(
    ("body", "content_type", "headers"),
    [
        ("[]", "application/json", {}),
        (
            "[]",
            "application/json",
            {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=1"},
        ),
        ("{}", "application/json", {"X-Slack-Request-Timestamp": "abc"}),
        ("payload=[]", "application/x-www-form-urlencoded", {"X-Slack-Signature": "v0=00"}),
        ("\xff\xfe", "text/plain", {"X-Slack-Request-Timestamp": "-1e9", "X-Slack-Signature": "x"}),
        ("", "application/json", {"X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": ""}),
    ],
)
def test_unsigned_junk_is_401(
    bot: BotProcess, body: str, content_type: str, headers: dict[str, str]
) -> None:
    response = bot.post(body, content_type, headers)
    assert response.status_code == 401, response.text
    assert "Traceback" not in bot.log()


def test_stale_signature_on_junk_is_401(bot: BotProcess) -> None:
    stale = sign("[]", timestamp=int(time.time()) - 301)
    assert bot.post("[]", "application/json", stale).status_code == 401


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("[]", "application/json"),
        ('"text"', "application/json"),
        ("{not json", "application/json"),
        ("payload=[]", "application/x-www-form-urlencoded"),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
        ("just some words", "application/x-www-form-urlencoded"),
    ],
)
def test_signed_garbage_is_400(bot: BotProcess, body: str, content_type: str) -> None:
    response = bot.post(body, content_type)
    assert response.status_code == 400, response.text
    assert "Traceback" not in bot.log()


def test_signed_body_that_is_not_utf8_is_400(bot: BotProcess) -> None:
    raw = b"text=\xff\xfe"
    signed = sign(raw.decode("latin-1"))  # what an HMAC over those bytes would be
    response = bot.http.post(
        "/slack/events",
        content=raw,
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed},
    )
    assert response.status_code == 401  # Slack signs UTF-8 text only


def test_declared_oversized_body_is_413_before_it_is_sent(bot: BotProcess) -> None:
    sent = [0]

    def body() -> Iterator[bytes]:
        for _ in range(100):
            sent[0] += 1
            yield b"x" * MIB

    response = bot.http.post(
        "/slack/events",
        content=body(),
        headers={"Content-Type": "application/json", "Content-Length": str(100 * MIB)},
    )
    assert response.status_code == 413
    assert "Traceback" not in bot.log()


def test_chunked_oversized_body_is_413(bot: BotProcess) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(3):
            yield b"x" * (MIB // 2 + 1)

    response = bot.http.post(
        "/slack/events", content=body(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_signed_body_just_over_the_limit_is_413(bot: BotProcess) -> None:
    body = "text=" + "a" * MIB
    assert bot.post(body, "application/x-www-form-urlencoded").status_code == 413


def test_a_replayed_command_runs_once(bot: BotProcess, slack: FakeSlack) -> None:
    body = command_body("bl 51.158.99.1", "C_REPLAY")
    headers = sign(body)
    assert bot.post(body, "application/x-www-form-urlencoded", headers).status_code == 200
    slack.wait_call("chat.update", "C_REPLAY")
    again = bot.post(body, "application/x-www-form-urlencoded", headers)
    assert again.status_code == 200
    assert again.headers.get("X-Slack-No-Retry") == "1"
    time.sleep(1.0)
    assert len(slack.find("chat.postMessage", "C_REPLAY")) == 1
    # The same command signed anew (a second person, or a second second) is a new request.
    later = sign(body, timestamp=int(time.time()) + 1)
    assert bot.post(body, "application/x-www-form-urlencoded", later).status_code == 200
    slack.wait_call("chat.update", "C_REPLAY", count=2)


def mention_event(event_id: str, channel: str) -> str:
    ts = f"{time.time():.6f}"
    return json.dumps(
        {
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {
                "type": "app_mention",
                "user": "U1",
                "text": "<@UBOT> bl 51.158.99.2",
                "ts": ts,
                "channel": channel,
                "event_ts": ts,
            },
            "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
        }
    )


def test_a_slack_retry_of_an_event_runs_once(bot: BotProcess, slack: FakeSlack) -> None:
    body = mention_event("EvRETRY1", "C_RETRY")
    assert bot.post(body, "application/json").status_code == 200
    slack.wait_call("chat.update", "C_RETRY")
    # Slack signs its retry anew and says which attempt it is.
    retry = {**sign(body, timestamp=int(time.time()) + 2), "X-Slack-Retry-Num": "1"}
    retry["X-Slack-Retry-Reason"] = "http_timeout"
    response = bot.post(body, "application/json", retry)
    assert response.status_code == 200
    time.sleep(1.0)
    assert len(slack.find("chat.postMessage", "C_RETRY")) == 1


def test_a_retry_of_an_event_never_seen_runs(bot: BotProcess, slack: FakeSlack) -> None:
    """The first attempt got lost on the way: the retry is the delivery, and it runs."""
    body = mention_event("EvLOST1", "C_LOST")
    retry = {**sign(body), "X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"}
    assert bot.post(body, "application/json", retry).status_code == 200
    slack.wait_call("chat.update", "C_LOST")


def test_good_requests_still_work_after_the_junk(bot: BotProcess, slack: FakeSlack) -> None:
    body = command_body("help", "C_AFTER")
    response = bot.post(body, "application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert "smtpcheck" in response.text  # help is answered in the acknowledgement
    assert bot.http.get("/healthz").status_code == 200
