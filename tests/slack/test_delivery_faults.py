"""A report that exists reaches the person, whatever Slack does to the posts.

`python -m bot` against the fake Slack with faults queued: errors after the retries
(429 and 500 five times, `ratelimited`, `msg_too_long`) and a 40 s stall. The report must
arrive by the next way (the message, the response_url, an ephemeral message, the fallback
text alone), never as an apology alone.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.support.dns_server import DnsServer
from tests.support.fake_slack import Call, FakeSlack, Fault
from tests.support.slack_app import BotProcess, bot_env

_next = iter(range(1, 250))


def fresh_ip() -> str:
    return f"51.158.177.{next(_next)}"


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("faults")
    process = BotProcess(bot_env(slack.api_url, dns_server_session, tmp), tmp / "bot.log").start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def no_leftover_faults(slack: FakeSlack) -> Iterator[None]:
    yield
    with slack._lock:
        slack.faults.clear()


def report_calls(slack: FakeSlack, channel: str, ip: str) -> list[Call]:
    """Every accepted call, to the channel or its response_url, that carries the report."""
    return [
        c
        for c in slack.calls
        if c.ok
        and (c.channel == channel or c.body.get("_to") == channel)
        and ip in c.all_text()
        and "checking" not in c.all_text().lower()
    ]


def assert_no_apology(slack: FakeSlack, channel: str) -> None:
    said = [c.all_text() for c in slack.calls if channel in (c.channel, c.body.get("_to"))]
    assert not any("went wrong" in text for text in said), said


def five(fault: Fault) -> list[Fault]:
    return [fault] * 5


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=500),
        Fault(status=429, retry_after=0),
        Fault(error="ratelimited"),
        Fault(error="msg_too_long"),
    ],
    ids=["500x5", "429x5", "ratelimited", "msg_too_long"],
)
def test_update_that_fails_goes_through_the_response_url(
    bot: BotProcess, slack: FakeSlack, fault: Fault
) -> None:
    ip, channel = fresh_ip(), f"C_UPD_{fault.status}_{fault.error}"
    slack.fail("chat.update", *five(fault))
    bot.command(f"bl {ip}", channel=channel, response_url=slack.response_url(channel))
    found = slack.wait_for(lambda: report_calls(slack, channel, ip), timeout=20)
    assert found[0].method == "response_url"
    assert found[0].body["response_type"] == "in_channel" and found[0].blocks()
    # The "checking…" message that could not become the report is removed.
    slack.wait_call("chat.delete", channel, timeout=10)
    assert_no_apology(slack, channel)


def test_placeholder_that_fails_still_gets_the_report_out(
    bot: BotProcess, slack: FakeSlack
) -> None:
    ip, channel = fresh_ip(), "C_NOPOST"
    slack.fail("chat.postMessage", *five(Fault(status=500)))
    bot.command(f"bl {ip}", channel=channel, response_url=slack.response_url(channel))
    found = slack.wait_for(lambda: report_calls(slack, channel, ip), timeout=20)
    assert found[0].method == "response_url" and found[0].blocks()
    assert not slack.find("chat.update", channel)
    assert_no_apology(slack, channel)


def test_without_response_url_the_report_is_ephemeral(bot: BotProcess, slack: FakeSlack) -> None:
    ip, channel = fresh_ip(), "C_EPH"
    slack.fail("chat.update", *five(Fault(status=500)))
    bot.command(f"bl {ip}", channel=channel)
    found = slack.wait_for(lambda: report_calls(slack, channel, ip), timeout=20)
    assert found[0].method == "chat.postEphemeral" and found[0].blocks()
    assert found[0].body["user"] == "U1"
    assert_no_apology(slack, channel)


def test_a_stalled_slack_costs_seconds_not_the_report(bot: BotProcess, slack: FakeSlack) -> None:
    """A chat.update that stalls for 40 s is given up on: the report goes by response_url.

    Stated as an order of events, not a duration: the report arrives while the stalled
    call is still unanswered at the fake Slack, so the bot cut the stall short (its 10 s
    timeout) instead of waiting it out, and did not try chat.update again. The wait below
    is only a liveness bound, kept under the stall so a bot that waited it out fails.
    """
    ip, channel = fresh_ip(), "C_STALL"
    slack.fail("chat.update", Fault(stall=40))
    bot.command(f"bl {ip}", channel=channel, response_url=slack.response_url(channel))
    found = slack.wait_for(lambda: report_calls(slack, channel, ip), timeout=35)
    assert found[0].method == "response_url"
    stalled = slack.find("chat.update", channel)
    assert len(stalled) == 1 and stalled[0].ok is None  # still stalled when the report came
    assert_no_apology(slack, channel)


def test_when_no_blocks_get_through_the_fallback_text_does(
    bot: BotProcess, slack: FakeSlack
) -> None:
    ip, channel = fresh_ip(), "C_SHORT"
    slack.fail("chat.update", *five(Fault(error="msg_too_long")))
    slack.fail("response_url", *([Fault(status=500)] * 10))  # four attempts a post
    slack.fail("chat.postEphemeral", Fault(error="msg_too_long"))
    bot.command(f"bl {ip}", channel=channel, response_url=slack.response_url(channel))
    found = slack.wait_for(lambda: report_calls(slack, channel, ip), timeout=30)
    assert found[0].method == "chat.postEphemeral"
    assert not found[0].blocks() and ip in found[0].body["text"]
    assert_no_apology(slack, channel)


def test_last_resort_is_the_fallback_text_in_the_channel(bot: BotProcess, slack: FakeSlack) -> None:
    ip, channel = fresh_ip(), "C_LAST"
    slack.fail("chat.update", *five(Fault(status=500)))
    slack.fail("chat.postEphemeral", Fault(error="user_not_in_channel"), Fault(error="fatal"))
    bot.command(f"bl {ip}", channel=channel)
    found = slack.wait_for(lambda: report_calls(slack, channel, ip), timeout=30)
    assert found[0].method == "chat.postMessage" and ip in found[0].body["text"]
    assert_no_apology(slack, channel)


def test_the_happy_path_is_one_post_and_one_update(bot: BotProcess, slack: FakeSlack) -> None:
    ip, channel = fresh_ip(), "C_HAPPY"
    bot.command(f"bl {ip}", channel=channel, response_url=slack.response_url(channel))
    slack.wait_call("chat.update", channel, timeout=10)
    time.sleep(0.5)
    assert len(slack.find("chat.postMessage", channel)) == 1
    assert not slack.find("response_url", channel) and not slack.find("chat.delete", channel)


async def test_a_crash_gives_an_apology_with_an_error_id(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Only a defect ends in an apology, and its error id is in the log to find it."""
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack.delivery import guarded
    from bot.slack.deps import Conversation

    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)

    async def defect() -> None:
        raise RuntimeError("a bug")

    await guarded(client, Conversation("C_CRASH", "U1"), defect)
    told = slack.wait_call("chat.postEphemeral", "C_CRASH")[0]
    match = re.search(r"error id `([0-9a-f]{8})`", told.body["text"])
    assert match, told.body["text"]
    assert f"error {match.group(1)}" in caplog.text


async def test_a_429_waits_what_retry_after_says(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot's client waits the Retry-After Slack gives before trying again, then succeeds.

    The waits are recorded where the retry handler sleeps, not measured: the test states
    what the bot asked to wait for, which load cannot change.
    """
    import types

    from slack_sdk.http_retry import builtin_async_handlers

    from bot.config import SlackConfig
    from bot.slack.app import make_client

    waits: list[float] = []

    async def recorded(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(builtin_async_handlers, "asyncio", types.SimpleNamespace(sleep=recorded))
    client = make_client(
        SlackConfig(bot_token="xoxb-test", signing_secret="s", api_url=slack.api_url)
    )
    slack.fail("chat.postMessage", Fault(status=429, retry_after=7))
    response = await client.chat_postMessage(channel="C_RETRY_AFTER", text="hello")
    assert response["ok"]
    assert [c.ok for c in slack.find("chat.postMessage", "C_RETRY_AFTER")] == [False, True]
    assert len(waits) == 1 and 7 <= waits[0] < 8, waits  # Retry-After plus under 1 s of jitter
