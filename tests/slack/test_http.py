"""The Slack app end to end over HTTP: `python -m bot` against a fake Slack and the test DNS server.

Each test uses its own channel id, so a check still finishing from an earlier test can
never satisfy (or spoil) a later test's assertions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk.models.blocks import Block

from tests.support.dns_server import DnsServer, reverse_name
from tests.support.fake_slack import Call, FakeSlack, Fault
from tests.support.mail_auth import publish_authentication
from tests.support.slack_app import (
    SECRET,
    SPAMCOP,
    SPAMHAUS,
    TOKEN,
    BotProcess,
    catalogue_toml,
    good_ptr,
    list_address,
    sign,
    zone_names,
)

IP = "51.158.10.22"
_next = iter(range(1, 10_000))


def mail_name(ip: str) -> str:
    """A PTR name of its own per address (cached A records must not leak between tests)."""
    return "mail-" + "".join(chr(97 + int(d)) for d in ip if d.isdigit()) + ".example-mail.net"


def fresh_ip() -> str:
    """A new address per test: the bot's resolver caches answers (negative ones for 60 s)."""
    n = next(_next)
    return f"51.158.{20 + n // 250}.{n % 250 + 1}"


def http_env(slack: FakeSlack, dns: DnsServer, tmp: Path, **extra: str) -> dict[str, str]:
    zones = tmp / "zones.toml"
    zones.write_text(catalogue_toml())
    env = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "SMTPCHECK_NAMESERVERS": dns.address,
        "SMTPCHECK_TIMEOUT": "2",  # a loaded machine; the server itself answers at once
        "SMTPCHECK_ZONES": str(zones),
        "SMTPCHECK_DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}",
        "SMTPCHECK_USER_RATE": "1000",
        "LOG_LEVEL": "DEBUG",
        **extra,
    }
    env.pop("SLACK_APP_TOKEN", None)
    return env


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("bot")
    process = BotProcess(http_env(slack, dns_server_session, tmp), tmp / "bot.log").start()
    yield process
    process.stop()
    assert TOKEN not in process.log() and SECRET not in process.log(), "a secret reached the log"


@pytest.fixture
def dns(dns_server: DnsServer) -> DnsServer:
    return dns_server


def report_of(slack: FakeSlack, channel: str, timeout: float = 5.0) -> Call:
    """The chat.update that turned "checking…" into the report."""
    return slack.wait_call("chat.update", channel, timeout=timeout)[-1]


def section_texts(call: Call) -> str:
    return "\n".join(
        str(b.get("text", {}).get("text", ""))
        for b in call.blocks()
        if b.get("type") in ("section", "header")
    )


def assert_valid(blocks: list[dict[str, object]]) -> None:
    assert len(blocks) <= 50
    for raw in blocks:
        block = Block.parse(raw)  # type: ignore[arg-type]
        assert block is not None
        block.validate_json()
        if raw["type"] == "actions":
            assert len(raw["elements"]) <= 25  # type: ignore[arg-type]


# ---- the front door ------------------------------------------------------------------


def test_healthz(bot: BotProcess) -> None:
    assert bot.http.get("/healthz").status_code == 200


def test_bad_signature_is_401(bot: BotProcess, slack: FakeSlack) -> None:
    ip = fresh_ip()
    headers = sign("something else")
    response = bot.command(ip, channel="C_SIG", **headers)
    assert response.status_code == 401
    assert not slack.find("chat.postMessage", "C_SIG")


def test_stale_signature_is_401(bot: BotProcess, slack: FakeSlack) -> None:
    ip = fresh_ip()
    from urllib.parse import urlencode

    body = urlencode({"command": "/smtpcheck", "text": ip, "channel_id": "C_OLD", "user_id": "U1"})
    stale = sign(body, timestamp=int(time.time()) - 6 * 60)
    assert bot.post(body, "application/x-www-form-urlencoded", stale).status_code == 401
    assert not slack.find("chat.postMessage", "C_OLD")


def test_ack_comes_before_any_dns(slack: FakeSlack, dns: DnsServer, tmp_path: Path) -> None:
    """The command is acknowledged before any DNS answer: with the server held, it gets its 200.

    This bot waits up to 300 s for a DNS answer, so while the server is held its check can
    neither finish nor give up: a 200 then can only come from acknowledging first. The
    HTTP client's own 10 s timeout is only a liveness bound. The DNS log shows the check
    had begun (its questions arrived) with nothing answered; once released, the report comes.
    """
    ip = fresh_ip()
    env = http_env(slack, dns, tmp_path, SMTPCHECK_TIMEOUT="300")
    patient = BotProcess(env, tmp_path / "bot.log").start()
    try:
        dns.hold()
        response = patient.command(ip, channel="C_FAST")
        assert response.status_code == 200
        dns.wait_questions(1, lambda q: q.name == reverse_name(ip, SPAMHAUS))
        progress = slack.wait_call("chat.postMessage", "C_FAST")[0]
        assert f"Checking {ip}" in progress.body["text"]
        assert dns.answered == 0 and dns.held > 0
        assert not slack.find("chat.update", "C_FAST")  # no report while nothing is answered
        dns.release()
        assert f"{ip}" in report_of(slack, "C_FAST", timeout=20).all_text()
    finally:
        dns.release()
        patient.stop()


# ---- reports ---------------------------------------------------------------------------


def test_clean_address(bot: BotProcess, slack: FakeSlack, dns: DnsServer) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    dns.add("example-mail.net", "TXT", f"v=spf1 ip4:{ip} -all")
    publish_authentication(dns, "example-mail.net")
    assert bot.command(f"{ip} example-mail.net", channel="C_CLEAN").status_code == 200
    posted = slack.wait_call("chat.postMessage", "C_CLEAN")[0]
    report = report_of(slack, "C_CLEAN")
    assert report.body["ts"] == posted.body.get("ts") or report.body["ts"]
    text = section_texts(report)
    assert f"{ip}: looks clean" in text
    assert "and 60 lists clean" in text
    assert mail_name(ip) in text and "resolves back" in text
    assert "result *pass*" in text and f"v=spf1 ip4:{ip} -all" in text
    assert f"{ip}: looks clean" in report.body["text"]
    buttons = [e for b in report.blocks() if b["type"] == "actions" for e in b["elements"]]
    assert any(b.get("action_id") == "recheck" for b in buttons)
    context = next(b for b in report.blocks() if b["type"] == "context")
    assert "ms" in context["elements"][0]["text"] and "resolver" in context["elements"][0]["text"]
    assert_valid(report.blocks())


def test_pbl_only_is_a_warning(bot: BotProcess, slack: FakeSlack, dns: DnsServer) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    list_address(dns, ip, SPAMHAUS, "127.0.0.10")
    bot.command(ip, channel="C_PBL")
    report = report_of(slack, "C_PBL")
    text = section_texts(report)
    assert f"{ip}: warnings" in text
    assert "Spamhaus ZEN" in text and "PBL" in text and "127.0.0.10" in text
    urls = [e.get("url") for b in report.blocks() if b["type"] == "actions" for e in b["elements"]]
    assert f"https://check.spamhaus.org/results/?query={ip}" in urls


def test_listed_address(bot: BotProcess, slack: FakeSlack, dns: DnsServer) -> None:
    ip = fresh_ip()
    list_address(
        dns, ip, SPAMCOP, "127.0.0.2", txt=f"Blocked - see https://www.spamcop.net/bl.shtml?{ip}"
    )
    list_address(dns, ip, SPAMHAUS, "127.0.0.4")
    bot.command(ip, channel="C_LISTED")
    report = report_of(slack, "C_LISTED")
    text = section_texts(report)
    assert f"{ip}: problems found" in text
    assert "SpamCop" in text and "Blocked - see https://www.spamcop.net" in text
    assert "XBL" in text
    assert "has no PTR (reverse DNS) record" in text and "No PTR record" not in text
    urls = [e.get("url") for b in report.blocks() if b["type"] == "actions" for e in b["elements"]]
    assert f"https://www.spamcop.net/bl.shtml?{ip}" in urls


def test_hostile_txt_is_escaped(bot: BotProcess, slack: FakeSlack, dns: DnsServer) -> None:
    ip = fresh_ip()
    list_address(
        dns, ip, SPAMCOP, "127.0.0.2", txt="<!channel> spam & <@U999> <https://evil.example|click>"
    )
    bot.command(ip, channel="C_HOSTILE")
    report = report_of(slack, "C_HOSTILE")
    everything = report.all_text()
    assert "&lt;!channel&gt;" in everything and "&amp;" in everything
    assert (
        "<!channel>" not in everything
        and "<@U999>" not in everything
        and "<https://evil" not in everything
    )


def test_sixty_listings_stay_within_limits(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    for zone in zone_names():
        list_address(dns, ip, zone, "127.0.0.2", txt="x" * 400 + " <!here>")
    bot.command(f"{ip} example-mail.net", channel="C_SIXTY")
    report = report_of(slack, "C_SIXTY")
    assert_valid(report.blocks())
    text = section_texts(report)
    assert "more listings" in text
    assert "<!here>" not in report.all_text()
    recheck = next(
        e
        for b in report.blocks()
        if b["type"] == "actions"
        for e in b["elements"]
        if e.get("action_id") == "recheck"
    )
    assert len(recheck["value"]) <= 2000


# ---- privacy of mistakes -----------------------------------------------------------------


def test_bad_input_stays_private(bot: BotProcess, slack: FakeSlack) -> None:
    fresh_ip()
    response = bot.command("999.1.1.1 <!channel>", channel="C_BAD")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "999.1.1.1 looks like an IPv4 address" in body["text"]
    assert body["text"].endswith("See `/smtpcheck help`.") and "Usage:" not in body["text"]
    time.sleep(0.3)
    assert not slack.find("chat.postMessage", "C_BAD") and not slack.find("chat.update", "C_BAD")


def test_help_is_ephemeral(bot: BotProcess) -> None:
    body = bot.command("help", channel="C_HELP").json()
    assert body["response_type"] == "ephemeral" and "/smtpcheck spf DOMAIN" in body["text"]


def test_unresolvable_name_is_private(bot: BotProcess, slack: FakeSlack, dns: DnsServer) -> None:
    bot.command("mail.nowhere-example.net", channel="C_NXNAME")
    told = slack.wait_call("chat.postEphemeral", "C_NXNAME")[0]
    assert "does not resolve" in told.body["text"]
    # Bad input: nothing is posted in the channel first (not even a "checking…" to delete).
    assert not slack.find("chat.postMessage", "C_NXNAME")
    assert not slack.find("chat.delete", "C_NXNAME")
    assert not slack.find("chat.update", "C_NXNAME")


def test_an_unresolvable_idn_is_named_as_typed(bot: BotProcess, slack: FakeSlack) -> None:
    bot.command("mail.münchen-nowhere.de", channel="C_NXIDN")
    told = slack.wait_call("chat.postEphemeral", "C_NXIDN")[0]
    assert "mail.münchen-nowhere.de does not resolve" in told.body["text"]
    assert "xn--" not in told.body["text"]


def test_a_refused_placeholder_is_no_crash(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    """The "checking…" post refused: the report still comes, through the response_url."""
    ip = fresh_ip()
    slack.fail("chat.postMessage", Fault(error="fatal_error"))
    bot.command(ip, channel="C_CRASH", response_url=slack.response_url("C_CRASH"))
    answer = slack.wait_call("response_url", "C_CRASH", timeout=10)[0]
    assert ip in answer.all_text() and answer.body["response_type"] == "in_channel"
    assert not slack.find("chat.update", "C_CRASH")
    assert not any(
        "went wrong" in c.all_text() for c in slack.find("chat.postEphemeral", "C_CRASH")
    )


# ---- Slack faults ----------------------------------------------------------------------


def test_rate_limited_then_success(bot: BotProcess, slack: FakeSlack, dns: DnsServer) -> None:
    """A 429 is tried again and the report still comes. That the wait before the second try
    is the one Retry-After asks for is shown, without a clock, by
    tests/slack/test_delivery_faults.py::test_a_429_waits_what_retry_after_says."""
    ip = fresh_ip()
    slack.fail("chat.postMessage", Fault(status=429, retry_after=1))
    bot.command(ip, channel="C_429")
    attempts = slack.wait_call("chat.postMessage", "C_429", count=2, timeout=6)
    assert [a.ok for a in attempts[:2]] == [False, True]
    assert report_of(slack, "C_429", timeout=6)


def test_server_error_then_success(bot: BotProcess, slack: FakeSlack, dns: DnsServer) -> None:
    ip = fresh_ip()
    slack.fail("chat.update", Fault(status=500))
    bot.command(ip, channel="C_500")
    updates = slack.wait_call("chat.update", "C_500", count=2, timeout=6)
    assert f"{ip}" in updates[-1].body["text"]


def test_not_in_channel_falls_back_to_response_url(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    slack.fail("chat.postMessage", Fault(error="not_in_channel"))
    slack.fail("response_url", Fault(status=500))
    bot.command(ip, channel="C_GUEST", response_url=slack.response_url("guest"))
    posts = slack.wait_call("response_url", "guest", count=3, timeout=6)
    report = [p for p in posts if p.body.get("response_type") == "in_channel"][-1]
    assert f"{ip}" in report.body["text"]
    hint = [p for p in posts if p.body.get("response_type") == "ephemeral"][-1]
    assert "/invite @smtpcheck" in hint.all_text()
    assert not slack.find("chat.update", "C_GUEST")


# ---- threads ---------------------------------------------------------------------------


def test_recheck_in_thread_states_the_change(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    list_address(dns, ip, SPAMCOP, "127.0.0.2", ttl=0)
    bot.command(ip, channel="C_RE")
    report = report_of(slack, "C_RE")
    assert "SpamCop" in section_texts(report)
    button = next(
        e
        for b in report.blocks()
        if b["type"] == "actions"
        for e in b["elements"]
        if e.get("action_id") == "recheck"
    )
    dns.remove(reverse_name(ip, SPAMCOP))
    message = {
        "type": "message",
        "ts": report.body["ts"],
        "text": report.body["text"],
        "blocks": report.blocks(),
    }
    response = bot.click(
        {"action_id": "recheck", "block_id": "b", "value": button["value"], "type": "button"},
        channel="C_RE",
        message=message,
        user="U2",
    )
    assert response.status_code == 200
    posted = slack.wait_call("chat.postMessage", "C_RE", count=2)[-1]
    assert posted.body["thread_ts"] == report.body["ts"]
    fresh = slack.wait_call("chat.update", "C_RE", count=2)[-1]
    text = section_texts(fresh)
    assert (
        "Since the previous check" in text and "delisted from SpamCop" in text and "<@U2>" in text
    )


def test_mention_in_thread_answers_there(bot: BotProcess, slack: FakeSlack, dns: DnsServer) -> None:
    ip = fresh_ip()
    bot.mention(
        f"<@UBOT> {ip} example-mail.net",
        channel="C_MENTION",
        ts="1700000100.000200",
        thread_ts="1700000000.000100",
    )
    posted = slack.wait_call("chat.postMessage", "C_MENTION")[0]
    assert posted.body["thread_ts"] == "1700000000.000100"
    assert f"{ip}" in report_of(slack, "C_MENTION").body["text"]


def test_mention_outside_thread_starts_one(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    bot.mention(f"<@UBOT> bl {ip}", channel="C_TOP", ts="1700000200.000300")
    posted = slack.wait_call("chat.postMessage", "C_TOP")[0]
    assert posted.body["thread_ts"] == "1700000200.000300"


def test_bare_mention_reads_the_thread_parent(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    parent = {
        "type": "message",
        "ts": "1700000300.000100",
        "user": "U3",
        "text": f"Customer says mail from 10.0.0.1 via {ip} bounces since this morning",
    }
    slack.add_thread("C_BARE", "1700000300.000100", parent)
    bot.mention("<@UBOT>", channel="C_BARE", ts="1700000400.000200", thread_ts="1700000300.000100")
    replies = slack.wait_call("conversations.replies")
    assert any(c.body.get("ts") == "1700000300.000100" for c in replies)
    posted = slack.wait_call("chat.postMessage", "C_BARE")[0]
    assert posted.body["thread_ts"] == "1700000300.000100"
    assert f"{ip}" in report_of(slack, "C_BARE").body["text"]


def test_bare_mention_without_address_says_so(bot: BotProcess, slack: FakeSlack) -> None:
    slack.add_thread(
        "C_NOADDR",
        "1700000500.000100",
        {"type": "message", "ts": "1700000500.000100", "text": "mail is broken again"},
    )
    bot.mention(
        "<@UBOT>", channel="C_NOADDR", ts="1700000600.000200", thread_ts="1700000500.000100"
    )
    told = slack.wait_call("chat.postEphemeral", "C_NOADDR")[0]
    assert "found no address" in told.body["text"]
    assert not slack.find("chat.postMessage", "C_NOADDR")


def test_json_blocks_round_trip(bot: BotProcess, slack: FakeSlack, dns: DnsServer) -> None:
    ip = fresh_ip()
    """The update carries blocks as JSON Slack accepts (a list of objects), and a fallback text."""
    bot.command(ip, channel="C_JSON")
    report = report_of(slack, "C_JSON")
    assert isinstance(report.blocks(), list) and report.body["text"]
    json.dumps(report.blocks())


def test_log_has_no_secrets_so_far(bot: BotProcess, tmp_path: Path) -> None:
    log = bot.log()
    assert "DEBUG" in log, "the bot should be logging at DEBUG in this module"
    assert TOKEN not in log and SECRET not in log


def test_mention_with_bad_input_stays_private(bot: BotProcess, slack: FakeSlack) -> None:
    bot.mention("<@UBOT> 300.1.1.1", channel="C_MBAD", ts="1700000700.000100")
    told = slack.wait_call("chat.postEphemeral", "C_MBAD")[0]
    assert "300.1.1.1 looks like an IPv4 address" in told.body["text"]
    assert told.body["thread_ts"] == "1700000700.000100"
    assert not slack.find("chat.postMessage", "C_MBAD")
