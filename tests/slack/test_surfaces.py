"""Slack-native surfaces end to end: shortcuts, the Check modal, App Home, the workflow step, DMs.

`python -m bot` runs against the fake Slack and the test DNS server; each test sends the
signed payload Slack would send and reads the Web API calls that come out. Every view and
message is checked against Slack's limits with slack_sdk's models. Each test uses its own
channel and person, so a check still finishing from another test cannot satisfy it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.grammar import UsageError, parse
from bot.slack.listeners.shortcuts import NOTHING_USABLE
from tests.support.dns_server import DnsServer
from tests.support.fake_slack import Call, FakeSlack, Fault
from tests.support.slack_app import (
    APP_TOKEN,
    SPAMCOP,
    BotProcess,
    bot_env,
    good_ptr,
    list_address,
)
from tests.support.slack_payloads import (
    direct_message,
    envelope,
    event_callback,
    function_executed,
    global_shortcut,
    home_action,
    home_opened,
    message_shortcut,
    post_event,
    post_interactive,
    view_submission,
)

_next = iter(range(1, 10_000))


def fresh_ip() -> str:
    n = next(_next)
    return f"51.158.{200 + n // 250}.{n % 250 + 1}"


def mail_name(ip: str) -> str:
    return "srf-" + "".join(chr(97 + int(d)) for d in ip if d.isdigit()) + ".example-mail.net"


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("surfaces")
    env = bot_env(slack.api_url, dns_server_session, tmp, SMTPCHECK_WATCH_POLL="0.2")
    process = BotProcess(env, tmp / "bot.log").start()
    yield process
    process.stop()


@pytest.fixture
def dns(dns_server: DnsServer) -> DnsServer:
    return dns_server


def assert_valid_blocks(blocks: list[dict[str, Any]], most: int = 50) -> None:
    assert 0 < len(blocks) <= most
    for raw in blocks:
        block = Block.parse(raw)  # type: ignore[arg-type]
        assert block is not None
        block.validate_json()


def assert_valid_view(view: dict[str, Any]) -> None:
    """Slack's limits for views, as slack_sdk's models enforce them (100 blocks, titles, ...)."""
    View(**view).validate_json()
    assert_valid_blocks(view["blocks"], most=100)


def report_in(slack: FakeSlack, channel: str, timeout: float = 8.0) -> Call:
    return slack.wait_call("chat.update", channel, timeout=timeout)[-1]


def listed(dns: DnsServer, ip: str) -> None:
    list_address(dns, ip, SPAMCOP, "127.0.0.2")


def grammar_sentence(text: str) -> str:
    with pytest.raises(UsageError) as raised:
        parse(text)
    return str(raised.value)


# ---- 1. the message shortcut ---------------------------------------------------------


def test_message_shortcut_checks_the_address_in_the_messages_thread(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    listed(dns, ip)
    payload = message_shortcut(
        f"mail from {ip} bounces since 9am, sender ops@northwind-example.com",
        channel="C_SC1",
        ts="1764600000.000100",
    )
    assert post_interactive(bot, payload).status_code == 200
    progress = slack.wait_call("chat.postMessage", "C_SC1")[0]
    assert progress.body["thread_ts"] == "1764600000.000100"
    report = report_in(slack, "C_SC1")
    assert f"{ip}: problems found" in report.body["text"]
    assert "northwind-example.com" in report.all_text()  # the sender's domain is the mail domain
    assert_valid_blocks(report.blocks())
    assert not slack.find("conversations.replies"), "the payload carries the message"


def test_message_shortcut_in_a_thread_answers_in_that_thread(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    payload = message_shortcut(
        f"still failing: {ip}", channel="C_SC2", ts="1764600100.000200", thread_ts="1764600000.1"
    )
    post_interactive(bot, payload)
    assert slack.wait_call("chat.postMessage", "C_SC2")[0].body["thread_ts"] == "1764600000.1"
    assert f"{ip}: looks clean" in report_in(slack, "C_SC2").body["text"]


def test_message_shortcut_explains_a_pasted_bounce(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    bounce = (
        "<ops@northwind-example.com>: host mx.fabrikam-example.com[203.0.113.9] said: "
        f"550 5.7.1 Service unavailable; Client host [{ip}] blocked using "
        "Spamhaus; To request removal from this list see https://www.spamhaus.org/query/ip/"
    )
    post_interactive(bot, message_shortcut(bounce, channel="C_SC3", ts="1764600200.000300"))
    report = report_in(slack, "C_SC3")
    assert ip in report.body["text"]
    assert "Bounce" in report.all_text() and "Spamhaus" in report.all_text()
    assert_valid_blocks(report.blocks())


def test_message_shortcut_checks_a_host_name(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    dns.add("relay-sc4.example-mail.net", "A", ip)
    post_interactive(
        bot,
        message_shortcut(
            "relay-sc4.example-mail.net is rejected, see attached log.txt",
            channel="C_SC4",
            ts="1764600300.000400",
        ),
    )
    report = report_in(slack, "C_SC4")
    assert ip in report.body["text"]


def test_message_shortcut_reads_attachments(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    listed(dns, ip)
    payload = message_shortcut(
        "",
        channel="C_SC5",
        ts="1764600400.000500",
        attachments=[{"pretext": "Alert from the relay", "text": f"deferred: {ip} rejected"}],
    )
    post_interactive(bot, payload)
    assert ip in report_in(slack, "C_SC5").body["text"]


def test_message_shortcut_with_nothing_usable_is_one_private_sentence(
    bot: BotProcess, slack: FakeSlack
) -> None:
    payload = message_shortcut(
        "can someone look at this? it is urgent", channel="C_SC6", ts="1764600500.000600"
    )
    post_interactive(bot, payload)
    told = slack.wait_call("chat.postEphemeral", "C_SC6")[0]
    assert told.body["user"] == "U1" and told.body["text"] == NOTHING_USABLE
    assert not slack.find("chat.postMessage", "C_SC6")


# ---- 2. the Check modal ----------------------------------------------------------------


def test_global_shortcut_opens_the_modal(bot: BotProcess, slack: FakeSlack) -> None:
    post_interactive(bot, global_shortcut(trigger_id="13.20.global"))
    opened = slack.wait_for(
        lambda: [c for c in slack.find("views.open") if c.body.get("trigger_id") == "13.20.global"]
    )[0]
    view = opened.view()
    assert view["type"] == "modal" and view["callback_id"] == "smtpcheck_check"
    assert json.loads(view["private_metadata"]) == {}  # no channel: the answer goes to the person
    kinds = next(b for b in view["blocks"] if b.get("block_id") == "kind")
    values = [o["value"] for o in kinds["element"]["options"]]
    assert values == ["full", "bl", "ptr", "spf", "auth", "smtp", "bounce"]
    assert_valid_view(view)


def test_bare_slash_command_opens_the_modal_for_this_channel(
    bot: BotProcess, slack: FakeSlack
) -> None:
    url = slack.response_url("bare")
    response = bot.command("", channel="C_MODAL", response_url=url)
    assert response.status_code == 200 and not response.text.strip()
    opened = slack.wait_for(
        lambda: [c for c in slack.find("views.open") if "C_MODAL" in str(c.body.get("view"))]
    )[0]
    metadata = json.loads(opened.view()["private_metadata"])
    assert metadata == {"c": "C_MODAL", "r": url}
    assert_valid_view(opened.view())


def test_modal_slack_will_not_open_falls_back_to_the_usage(
    bot: BotProcess, slack: FakeSlack
) -> None:
    slack.fail("views.open", Fault(error="expired_trigger_id"))
    bot.command("  ", channel="C_MODAL_GONE")
    told = slack.wait_call("chat.postEphemeral", "C_MODAL_GONE")[0]
    assert "Usage:" in told.all_text() and "/smtpcheck spf DOMAIN" in told.all_text()
    assert not slack.find("chat.postMessage", "C_MODAL_GONE")


def test_help_typed_is_still_the_usage(bot: BotProcess) -> None:
    body = bot.command("help", channel="C_MODAL_HELP").json()
    assert body["response_type"] == "ephemeral" and "/smtpcheck spf DOMAIN" in body["text"]


@pytest.mark.parametrize(
    ("fields", "block", "sentence"),
    [
        ({"target": "999.1.1.1"}, "target", grammar_sentence("999.1.1.1")),
        ({"target": "10.0.0.1"}, "target", grammar_sentence("10.0.0.1")),
        ({"target": "51.158.10.22", "domain": "not a domain"}, "domain", None),
        ({"target": ""}, "target", None),
        ({"kind": "bounce"}, "bounce", None),
        ({"kind": "spf"}, "domain", None),
    ],
)
def test_modal_refuses_with_the_grammars_sentence_on_the_field(
    bot: BotProcess, fields: dict[str, str], block: str, sentence: str | None
) -> None:
    response = post_interactive(bot, view_submission(**fields))
    body = response.json()
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [block]
    if sentence is not None:
        assert body["errors"][block] == sentence
    assert body["errors"][block].endswith(".")


def test_modal_answer_goes_to_the_channel_it_was_opened_in(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    listed(dns, ip)
    metadata = json.dumps({"c": "C_MODAL2"})
    response = post_interactive(
        bot, view_submission(target=ip, kind="bl", private_metadata=metadata, user="U_M2")
    )
    assert response.status_code == 200 and not response.text.strip()  # the modal closes
    report = report_in(slack, "C_MODAL2")
    assert f"{ip}: problems found" in report.body["text"]
    assert "Reverse DNS" not in report.all_text()  # blocklists only
    assert_valid_blocks(report.blocks())


def test_modal_opened_with_no_channel_answers_in_a_direct_message(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    post_interactive(bot, view_submission(target=ip, kind="ptr", user="U_M3"))
    opened = slack.wait_call("conversations.open")
    assert any(c.body.get("users") == "U_M3" for c in opened)
    report = report_in(slack, "DU_M3")
    assert mail_name(ip) in report.all_text()


def test_modal_answers_the_person_even_without_the_im_write_scope(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    good_ptr(dns, ip, mail_name(ip))
    slack.fail("conversations.open", Fault(error="missing_scope"))
    post_interactive(bot, view_submission(target=ip, kind="ptr", user="U_M5"))
    assert mail_name(ip) in report_in(slack, "U_M5").all_text()  # a user id posts in the DM


def test_modal_dmarc_and_dkim_report_both(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    dns.add(
        "_dmarc.auth13-example.net", "TXT", "v=DMARC1; p=reject; rua=mailto:d@auth13-example.net"
    )
    metadata = json.dumps({"c": "C_MODAL6"})
    post_interactive(
        bot, view_submission(domain="auth13-example.net", kind="auth", private_metadata=metadata)
    )
    reports = slack.wait_call("chat.update", "C_MODAL6", count=2, timeout=10)
    texts = [r.all_text() for r in reports]
    assert any("DMARC" in t and "p=reject" in t for t in texts)
    assert any("DKIM" in t for t in texts)
    for report in reports:
        assert_valid_blocks(report.blocks())


def test_modal_bounce_is_explained(bot: BotProcess, slack: FakeSlack) -> None:
    bounce = "550 5.7.26 This mail is unauthenticated, which poses a security risk to the sender."
    metadata = json.dumps({"c": "C_MODAL4"})
    post_interactive(bot, view_submission(kind="bounce", bounce=bounce, private_metadata=metadata))
    report = report_in(slack, "C_MODAL4")
    assert "Bounce" in report.all_text()
    assert_valid_blocks(report.blocks())


# ---- 3. App Home ---------------------------------------------------------------------


def published_for(slack: FakeSlack, user: str, count: int = 1) -> list[Call]:
    return list(
        slack.wait_for(
            lambda: (
                (found := [c for c in slack.find("views.publish") if c.body.get("user_id") == user])
                and len(found) >= count
                and found
            ),
            timeout=8,
        )
    )


def test_app_home_lists_watches_and_the_persons_last_checks_and_stops(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    listed(dns, ip)
    bot.command(f"watch {ip}", channel="C_HOME", user="U_H1")
    watching = slack.wait_for(
        lambda: [c for c in slack.find("chat.postMessage", "C_HOME") if "Watching" in c.all_text()]
    )[0]
    post_event(bot, home_opened("U_H1"), event_id="EvHome1")
    view = published_for(slack, "U_H1")[0].view()
    assert view["type"] == "home"
    assert_valid_view(view)
    text = json.dumps(view)
    assert "<#C_HOME>" in text and ip in text and "fail" in text
    stop = next(
        b["accessory"]
        for b in view["blocks"]
        if b.get("accessory", {}).get("action_id") == "home_stop_watch" and ip in json.dumps(b)
    )
    recheck = [
        b["accessory"]
        for b in view["blocks"]
        if b.get("accessory", {}).get("action_id") == "home_recheck"
    ]
    assert recheck and json.loads(recheck[0]["value"])["c"] == ip  # the person's last check
    assert any(b.get("accessory", {}).get("action_id") == "home_open_check" for b in view["blocks"])

    post_interactive(bot, home_action("home_stop_watch", stop["value"], user="U_H1"))
    said = slack.wait_for(
        lambda: [
            c
            for c in slack.find("chat.postMessage", "C_HOME")
            if "Stopped watching" in c.all_text()
        ]
    )[0]
    assert said.body["thread_ts"] == watching.body["thread_ts"]
    again = published_for(slack, "U_H1", count=2)[-1].view()
    assert not any(b.get("accessory", {}).get("value") == stop["value"] for b in again["blocks"]), (
        "the stopped watch is gone from Home"
    )
    assert_valid_view(again)


def test_app_home_lists_monitors_and_stops_them(bot: BotProcess, slack: FakeSlack) -> None:
    network = "51.158.250.0/30"
    bot.command(f"monitor {network}", channel="C_HOME_MON", user="U_H6")
    started = slack.wait_for(
        lambda: [
            c for c in slack.find("chat.postMessage", "C_HOME_MON") if "Monitoring" in c.all_text()
        ]
    )[0]

    def monitor_row(view: dict[str, Any]) -> dict[str, Any] | None:
        return next(
            (
                b
                for b in view["blocks"]
                if b.get("accessory", {}).get("action_id") == "home_stop_monitor"
                and network in json.dumps(b)
            ),
            None,
        )

    # The thread's first post comes before the monitor is stored (the row keeps that
    # post's ts): open Home until the store has it, as a person would.
    opened = 0
    row = None
    while row is None:
        assert opened < 40, "the monitor never showed on App Home"
        opened += 1
        post_event(bot, home_opened("U_H6"), event_id=f"EvHomeMon{opened}")
        view = published_for(slack, "U_H6", count=opened)[-1].view()
        assert_valid_view(view)
        row = monitor_row(view)
        if row is None:
            time.sleep(0.1)
    assert "*Monitor*" in row["text"]["text"] and "<#C_HOME_MON>" in row["text"]["text"]
    post_interactive(bot, home_action("home_stop_monitor", row["accessory"]["value"], user="U_H6"))
    said = slack.wait_for(
        lambda: [
            c
            for c in slack.find("chat.postMessage", "C_HOME_MON")
            if "Stopped monitoring" in c.all_text()
        ]
    )[0]
    assert said.body.get("thread_ts"), "said in the monitor's thread, not the channel"
    assert started.body.get("thread_ts") is None  # the monitor's first post starts that thread
    again = published_for(slack, "U_H6", count=opened + 1)[-1].view()
    assert network not in json.dumps(again)


def test_app_home_recheck_goes_to_the_persons_dm_and_says_what_changed(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    listed(dns, ip)
    bot.command(ip, channel="C_HOME2", user="U_H2")
    report_in(slack, "C_HOME2")
    post_event(bot, home_opened("U_H2"), event_id="EvHome2")
    view = published_for(slack, "U_H2")[0].view()
    value = next(
        b["accessory"]["value"]
        for b in view["blocks"]
        if b.get("accessory", {}).get("action_id") == "home_recheck"
    )
    post_interactive(bot, home_action("home_recheck", value, user="U_H2"))
    report = report_in(slack, "DU_H2")
    assert "Nothing changed since the previous check" in report.all_text()
    assert_valid_blocks(report.blocks())


def test_a_forged_home_recheck_is_refused_in_words(bot: BotProcess, slack: FakeSlack) -> None:
    for n, forged in enumerate(['{"c": "bl 999.1.1.1"}', "not json", '{"c": 7}']):
        post_interactive(bot, home_action("home_recheck", forged, user=f"U_FORGE{n}"))
        told = slack.wait_call("chat.postEphemeral", f"DU_FORGE{n}")[0]
        assert "I cannot read that button" in told.body["text"]
    assert not slack.find("chat.update", "DU_FORGE0")


def test_app_home_open_check_button_opens_the_modal(bot: BotProcess, slack: FakeSlack) -> None:
    post_interactive(bot, home_action("home_open_check", "open", user="U_H3"))
    opened = slack.wait_for(
        lambda: [c for c in slack.find("views.open") if c.body.get("trigger_id") == "13.4.home"]
    )[0]
    assert opened.view()["callback_id"] == "smtpcheck_check"


def test_messages_tab_opened_publishes_nothing(bot: BotProcess, slack: FakeSlack) -> None:
    post_event(bot, home_opened("U_H4", tab="messages"), event_id="EvHome4")
    post_event(bot, home_opened("U_H5"), event_id="EvHome5")
    published_for(slack, "U_H5")
    assert not [c for c in slack.find("views.publish") if c.body.get("user_id") == "U_H4"]


def test_an_empty_home_says_so(bot: BotProcess, slack: FakeSlack) -> None:
    post_event(bot, home_opened("U_NEW"), event_id="EvHome6")
    view = published_for(slack, "U_NEW")[0].view()
    assert "You have not checked anything yet." in json.dumps(view)
    assert_valid_view(view)


# ---- 4. the Workflow Builder step ----------------------------------------------------


def test_workflow_step_completes_with_verdict_and_summary(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    listed(dns, ip)
    post_event(bot, function_executed({"address": ip}, execution_id="Fx13a"), event_id="EvFn1")
    done = slack.wait_for(
        lambda: [
            c
            for c in slack.find("functions.completeSuccess")
            if c.body.get("function_execution_id") == "Fx13a"
        ],
        timeout=8,
    )[0]
    outputs = done.json_field("outputs")
    assert outputs["verdict"] == "fail"
    assert outputs["summary"].startswith(f"{ip}: problems found (fail).")
    assert "SpamCop" in outputs["summary"] or "Listed on" in outputs["summary"]
    assert "<" not in outputs["summary"] and ":red_circle:" not in outputs["summary"]
    assert done.token == "xwfp-13-step-token"  # the step's own token, as Slack requires


def test_workflow_step_fails_with_the_sentence_a_person_would_get(
    bot: BotProcess, slack: FakeSlack
) -> None:
    post_event(
        bot, function_executed({"address": "999.1.1.1"}, execution_id="Fx13b"), event_id="EvFn2"
    )
    failed = slack.wait_for(
        lambda: [
            c
            for c in slack.find("functions.completeError")
            if c.body.get("function_execution_id") == "Fx13b"
        ]
    )[0]
    assert failed.body["error"] == grammar_sentence("999.1.1.1")
    post_event(
        bot,
        function_executed({"address": "51.158.10.22", "domain": "x"}, execution_id="Fx13c"),
        event_id="EvFn3",
    )
    failed = slack.wait_for(
        lambda: [
            c
            for c in slack.find("functions.completeError")
            if c.body.get("function_execution_id") == "Fx13c"
        ]
    )[0]
    assert failed.body["error"] == grammar_sentence("51.158.10.22 x")


# ---- 5. direct messages --------------------------------------------------------------


def test_direct_message_is_a_command(bot: BotProcess, slack: FakeSlack, dns: DnsServer) -> None:
    ip = fresh_ip()
    listed(dns, ip)
    post_event(bot, direct_message(f"bl {ip}", user="U_D1", ts="1764601000.1"), event_id="EvDm1")
    report = report_in(slack, "DU_D1")
    assert f"{ip}: problems found" in report.body["text"]
    assert_valid_blocks(report.blocks())


def test_direct_message_that_is_not_a_command_gets_help(bot: BotProcess, slack: FakeSlack) -> None:
    post_event(bot, direct_message("hello there", user="U_D2", ts="1764601100.1"), event_id="EvDm2")
    told = slack.wait_call("chat.postMessage", "DU_D2")[0]
    assert "hello is neither an IP address nor a host name" in told.body["text"]
    assert "Usage:" in told.all_text()
    post_event(bot, direct_message("", user="U_D2", ts="1764601100.2"), event_id="EvDm2b")
    assert len(slack.wait_call("chat.postMessage", "DU_D2", count=2)) == 2


def test_direct_message_with_a_pasted_bounce_is_explained(
    bot: BotProcess, slack: FakeSlack
) -> None:
    bounce = "Our mail gets 550 5.7.26 This mail is unauthenticated, can you help?"
    post_event(bot, direct_message(bounce, user="U_D3", ts="1764601200.1"), event_id="EvDm3")
    assert "Bounce" in report_in(slack, "DU_D3").all_text()


def test_bot_messages_edits_and_joins_are_ignored(bot: BotProcess, slack: FakeSlack) -> None:
    ignored = [
        direct_message("51.158.10.22", user="UBOT", ts="1764601300.1"),
        direct_message("51.158.10.22", user="U_D4", ts="1764601300.2", bot_id="BBOT"),
        direct_message("51.158.10.22", user="U_D4", ts="1764601300.3", subtype="message_changed"),
        direct_message("", user="U_D4", ts="1764601300.4", subtype="channel_join"),
    ]
    for n, event in enumerate(ignored):
        assert post_event(bot, event, event_id=f"EvIgnored{n}").status_code == 200
    post_event(bot, direct_message("help", user="U_D4", ts="1764601300.9"), event_id="EvDm4")
    # The help reply is the only thing said in that DM.
    slack.wait_call("chat.postMessage", "DU_D4")
    assert len(slack.find("chat.postMessage", "DU_D4")) == 1
    assert not slack.find("chat.postMessage", "DUBOT")
    assert not slack.find("chat.update", "DU_D4")


# ---- the same rules for the new ways in ----------------------------------------------


@pytest.fixture(scope="module")
def guarded(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp: Path = tmp_path_factory.mktemp("guarded-surfaces")
    env = bot_env(
        slack.api_url,
        dns_server_session,
        tmp,
        SMTPCHECK_ALLOWED_USERS="U_OK",
        SMTPCHECK_ALLOWED_CHANNELS="C_OK, C_OK2",
        SMTPCHECK_USER_RATE="2",
    )
    process = BotProcess(env, tmp / "bot.log").start()
    yield process
    process.stop()


def test_allow_lists_apply_to_shortcut_modal_and_dm(guarded: BotProcess, slack: FakeSlack) -> None:
    url = slack.response_url("refused-shortcut")
    shortcut = message_shortcut(
        "51.158.10.22", channel="C_OK", ts="1764602000.1", user="U_NO", response_url=url
    )
    post_interactive(guarded, shortcut)
    told = slack.wait_call("response_url", "refused-shortcut")[0]
    assert "SMTPCHECK_ALLOWED_USERS" in told.body["text"]

    refused = post_interactive(
        guarded,
        view_submission(target="51.158.10.22", private_metadata='{"c":"C_ELSE"}', user="U_OK"),
    ).json()
    assert refused["response_action"] == "errors"
    assert "not enabled in this conversation" in refused["errors"]["target"]

    post_event(
        guarded, direct_message("51.158.10.22", user="U_NO", ts="1764602000.2"), event_id="EvG1"
    )
    ephemeral = slack.wait_call("chat.postEphemeral", "DU_NO")[0]
    assert "SMTPCHECK_ALLOWED_CHANNELS" in ephemeral.body["text"]  # a DM is not on the list
    assert not slack.find("chat.postMessage", "C_OK") and not slack.find("chat.update", "DU_NO")


def test_a_form_to_fix_is_not_counted_by_the_rate_limit(
    guarded: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    metadata = json.dumps({"c": "C_OK2"})
    for _ in range(3):
        fix = post_interactive(
            guarded, view_submission(target="999.1.1.1", private_metadata=metadata, user="U_OK")
        ).json()
        assert fix["errors"] == {"target": grammar_sentence("999.1.1.1")}
    for _ in range(2):
        ip = fresh_ip()
        good_ptr(dns, ip, mail_name(ip))
        ok = post_interactive(
            guarded, view_submission(target=ip, private_metadata=metadata, user="U_OK")
        )
        assert not ok.text.strip()
    slowed = post_interactive(
        guarded, view_submission(target=fresh_ip(), private_metadata=metadata, user="U_OK")
    ).json()
    assert slowed["response_action"] == "errors" and "Try again in" in slowed["errors"]["target"]
    assert len(slack.wait_call("chat.update", "C_OK2", count=2, timeout=8)) == 2


def test_shortcut_where_the_bot_may_not_post_answers_through_the_response_url(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer
) -> None:
    ip = fresh_ip()
    listed(dns, ip)
    slack.fail("chat.postMessage", Fault(error="not_in_channel"))
    url = slack.response_url("shortcut-outside")
    post_interactive(
        bot,
        message_shortcut(f"{ip} bounces", channel="C_SC7", ts="1764600600.1", response_url=url),
    )
    answers = slack.wait_call("response_url", "shortcut-outside", count=2, timeout=8)
    assert any(f"{ip}: problems found" in a.body.get("text", "") for a in answers)
    assert any("/invite @smtpcheck" in a.all_text() for a in answers)


# ---- Socket Mode: the same payloads over a websocket ---------------------------------


def test_shortcut_modal_and_command_over_socket_mode(
    slack: FakeSlack, dns: DnsServer, tmp_path: Path
) -> None:
    ip = fresh_ip()
    listed(dns, ip)
    env = bot_env(slack.api_url, dns, tmp_path, SLACK_APP_TOKEN=APP_TOKEN)
    env.pop("SLACK_SIGNING_SECRET")
    process = BotProcess(env, tmp_path / "socket.log").start(wait_healthy=False)

    def acked(envelope_id: str) -> dict[str, Any]:
        return dict(
            slack.wait_for(
                lambda: next(
                    (m for m in slack.socket_received if m.get("envelope_id") == envelope_id), None
                ),
                timeout=10,
            )
        )

    try:
        slack.wait_for(slack.socket_connected, timeout=15)
        shortcut = message_shortcut(f"bounces from {ip}", channel="C_SOCK13", ts="1764603000.1")
        slack.send_envelope(envelope("interactive", shortcut, "env-13-shortcut"))
        acked("env-13-shortcut")
        assert (
            slack.wait_call("chat.postMessage", "C_SOCK13")[0].body["thread_ts"] == "1764603000.1"
        )
        assert f"{ip}: problems found" in report_in(slack, "C_SOCK13").body["text"]

        refused = view_submission(target="999.1.1.1")
        slack.send_envelope(envelope("interactive", refused, "env-13-view"))
        payload = acked("env-13-view")["payload"]
        assert payload == {
            "response_action": "errors",
            "errors": {"target": grammar_sentence("999.1.1.1")},
        }

        command = {
            "token": "legacy",
            "team_id": "T1",
            "channel_id": "C_SOCK13B",
            "user_id": "U1",
            "command": "/smtpcheck",
            "text": f"bl {ip}",
            "response_url": slack.response_url("socket13"),
            "trigger_id": "13.9.socket",
            "api_app_id": "A1",
        }
        slack.send_envelope(envelope("slash_commands", command, "env-13-command"))
        acked("env-13-command")
        assert f"{ip}: problems found" in report_in(slack, "C_SOCK13B").body["text"]

        post_home = event_callback(home_opened("U_SOCK"), event_id="EvSock13")
        slack.send_envelope(envelope("events_api", post_home, "env-13-home"))
        acked("env-13-home")
        assert_valid_view(published_for(slack, "U_SOCK")[0].view())
    finally:
        process.stop()
