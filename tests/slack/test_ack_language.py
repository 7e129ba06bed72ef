"""The ack does not wait for a new person's language; their answer is still in it.

users.info (a person's Slack locale) is held unanswered by the fake Slack's gate: a slash
command, a mention, a shortcut, App Home still get their HTTP 200 meanwhile, and what the
person reads, once users.info is released, is in their language. Only an ack that carries
text itself (a usage error, the modal's field errors, a refusal) waits for it. When
users.info fails or never answers, the report still comes, in SMTPCHECK_LANGUAGE.
No timing is asserted: the gate decides the order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bot.slack.language import Locales, settle
from handlers import i18n
from tests.support.dns_server import DnsServer
from tests.support.fake_slack import Call, FakeSlack, Fault, Gate
from tests.support.slack_app import BotProcess, bot_env
from tests.support.slack_payloads import (
    direct_message,
    global_shortcut,
    home_opened,
    message_shortcut,
    post_event,
    post_interactive,
    view_submission,
)

IP = "51.158.31.7"
_people = itertools.count(1)
_ts = itertools.count(1)


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("ack_language")
    # SMTPCHECK_LANGUAGE is English: a French-locale person answered in English means the
    # fallback decided, in French means their locale did.
    env = bot_env(slack.api_url, dns_server_session, tmp, SMTPCHECK_LANGUAGE="en")
    process = BotProcess(env, tmp / "bot.log").start()
    yield process
    process.stop()


@pytest.fixture
def french(slack: FakeSlack) -> str:
    """A French-locale person the bot has never seen (so their locale is not cached)."""
    slack.reset()
    user = f"U_FR_NEW{next(_people)}"
    slack.set_locale(user, "fr-FR")
    return user


def lookup(slack: FakeSlack, user: str) -> Call:
    """The users.info call for `user`, once the bot has made it."""
    found: list[Call] = slack.wait_for(
        lambda: [c for c in slack.find("users.info") if c.body.get("user") == user]
    )
    return found[0]


def ts() -> str:
    return f"1700000{next(_ts):03d}.000100"


def report(slack: FakeSlack, channel: str, timeout: float = 10) -> Call:
    return slack.wait_call("chat.update", channel, timeout=timeout)[-1]


# ---- the ack goes out while users.info is held ---------------------------------------------


def test_a_command_is_acknowledged_while_users_info_is_held_and_reported_in_french(
    bot: BotProcess, slack: FakeSlack, dns_server: DnsServer, french: str
) -> None:
    gate = slack.hold("users.info", user=french)
    response = bot.command(IP, channel="C_ACK_HELD", user=french)
    assert response.status_code == 200
    assert response.text == ""  # a plain ack: the report comes as a message
    held = lookup(slack, french)
    assert held.ok is None and not gate.released  # still unanswered, and yet acknowledged
    assert slack.find("chat.postMessage", "C_ACK_HELD") == []  # nothing rendered before it
    gate.release()
    text = report(slack, "C_ACK_HELD").all_text()
    assert "Listes de blocage" in text and "Blocklists" not in text
    assert held.ok is True


def test_twenty_new_people_at_once_are_all_acknowledged_before_any_locale_is_known(
    bot: BotProcess, slack: FakeSlack, dns_server: DnsServer
) -> None:
    slack.reset()
    people = [f"U_BURST{next(_people)}" for _ in range(20)]
    for n, user in enumerate(people):
        slack.set_locale(user, "fr-FR" if n % 2 else "en-GB")
    gate = slack.hold("users.info")
    with ThreadPoolExecutor(len(people)) as pool:
        responses = list(
            pool.map(
                lambda pair: bot.command(IP, channel=f"C_BURST{pair[0]}", user=pair[1]),
                enumerate(people),
            )
        )
    assert [r.status_code for r in responses] == [200] * len(people)
    assert not gate.released and not [c for c in slack.find("users.info") if c.ok is not None]
    gate.release()
    for n, _user in enumerate(people):
        text = report(slack, f"C_BURST{n}").all_text()
        assert ("Listes de blocage" if n % 2 else "Blocklists") in text, n


def _mention(bot: BotProcess, user: str) -> httpx.Response:
    return bot.mention(f"<@UBOT> {IP}", channel="C_ACK_MENTION", ts=ts(), user=user)


def _mention_reply(slack: FakeSlack, user: str) -> str:
    return report(slack, "C_ACK_MENTION").all_text()


def _dm(bot: BotProcess, user: str) -> httpx.Response:
    event = direct_message("what can you do", user=user, ts=ts())
    response: httpx.Response = post_event(bot, event, event_id=f"EvDm{user}")
    return response


def _dm_reply(slack: FakeSlack, user: str) -> str:
    return slack.wait_call("chat.postMessage", "D" + user)[-1].all_text()


def _shortcut(bot: BotProcess, user: str) -> httpx.Response:
    payload = message_shortcut("nothing in here", channel="C_ACK_SHORTCUT", ts=ts(), user=user)
    response: httpx.Response = post_interactive(bot, payload)
    return response


def _shortcut_reply(slack: FakeSlack, user: str) -> str:
    return slack.wait_call("chat.postEphemeral", "C_ACK_SHORTCUT")[-1].all_text()


def _modal(bot: BotProcess, user: str) -> httpx.Response:
    response: httpx.Response = post_interactive(
        bot, global_shortcut(user=user, trigger_id=f"13.9.{user}")
    )
    return response


def _modal_shown(slack: FakeSlack, user: str) -> str:
    opened = slack.wait_for(
        lambda: [c for c in slack.find("views.open") if c.body.get("trigger_id") == f"13.9.{user}"]
    )
    return json.dumps(opened[0].view(), ensure_ascii=False)


def _bare_command(bot: BotProcess, user: str) -> httpx.Response:
    return bot.command("", channel="C_ACK_BARE", user=user)


def _bare_modal(slack: FakeSlack, user: str) -> str:
    return json.dumps(slack.wait_call("views.open")[-1].view(), ensure_ascii=False)


def _home(bot: BotProcess, user: str) -> httpx.Response:
    response: httpx.Response = post_event(bot, home_opened(user), event_id=f"EvHome{user}")
    return response


def _home_shown(slack: FakeSlack, user: str) -> str:
    published = slack.wait_for(
        lambda: [c for c in slack.find("views.publish") if c.body.get("user_id") == user]
    )
    return json.dumps(published[0].view(), ensure_ascii=False)


Send = Callable[[BotProcess, str], httpx.Response]
Read = Callable[[FakeSlack, str], str]


@pytest.mark.parametrize(
    ("send", "read", "french_words", "english_words"),
    [
        (_mention, _mention_reply, "Listes de blocage", "Blocklists"),
        (_dm, _dm_reply, "Utilisation", "Usage:"),
        (_shortcut, _shortcut_reply, "Je n’ai rien trouvé à vérifier", "I found nothing"),
        (_modal, _modal_shown, "Vérifier avec smtpcheck", "Check with smtpcheck"),
        (_bare_command, _bare_modal, "Vérifier avec smtpcheck", "Check with smtpcheck"),
        (_home, _home_shown, "Vos dernières vérifications", "Your last checks"),
    ],
    ids=[
        "mention",
        "direct-message",
        "message-shortcut",
        "global-shortcut",
        "bare-command",
        "home",
    ],
)
def test_every_surface_is_acknowledged_while_held_and_answers_in_french(
    bot: BotProcess,
    slack: FakeSlack,
    dns_server: DnsServer,
    french: str,
    send: Send,
    read: Read,
    french_words: str,
    english_words: str,
) -> None:
    gate = slack.hold("users.info", user=french)
    assert send(bot, french).status_code == 200
    assert lookup(slack, french).ok is None and not gate.released
    gate.release()
    shown = read(slack, french)
    assert french_words in shown and english_words not in shown


# ---- an ack that carries text waits for the language ---------------------------------------


def _released_once_asked(slack: FakeSlack, user: str, gate: Gate, request: Any) -> Any:
    """Send `request` (it blocks until its ack); release users.info once the bot asked it.

    The ack cannot come before the release: it carries text in the person's language.
    """
    with ThreadPoolExecutor(1) as pool:
        sent = pool.submit(request)
        held = lookup(slack, user)
        assert not sent.done() and held.ok is None  # the ack waits for the language
        gate.release()
        return sent.result(timeout=10)


def test_a_usage_error_ack_is_in_the_persons_language(
    bot: BotProcess, slack: FakeSlack, french: str
) -> None:
    gate = slack.hold("users.info", user=french)
    response = _released_once_asked(
        slack, french, gate, lambda: bot.command("999.1.1.1", channel="C_ACK_BAD", user=french)
    )
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "n’en est pas une valide" in body["text"] and "Voir `/smtpcheck help`" in body["text"]
    assert slack.find("chat.postMessage", "C_ACK_BAD") == []


def test_help_in_the_ack_is_in_the_persons_language(bot: BotProcess, french: str) -> None:
    body = bot.command("help", channel="C_ACK_HELP", user=french).json()
    assert body["response_type"] == "ephemeral" and "Utilisation" in body["text"]


def test_the_modals_field_errors_are_in_the_persons_language(
    bot: BotProcess, slack: FakeSlack, french: str
) -> None:
    gate = slack.hold("users.info", user=french)
    response = _released_once_asked(
        slack,
        french,
        gate,
        lambda: post_interactive(bot, view_submission(target="nonsense", user=french)),
    )
    body = response.json()
    assert body["response_action"] == "errors"
    assert "ni une adresse IP ni un nom d’hôte" in body["errors"]["target"]


def test_a_known_persons_ack_asks_nothing(bot: BotProcess, slack: FakeSlack, french: str) -> None:
    assert "Utilisation" in bot.command("help", channel="C_ACK_KNOWN", user=french).json()["text"]
    gate = slack.hold("users.info")  # anyone asked now would hang the usage error below
    body = bot.command("999.1.1.1", channel="C_ACK_KNOWN", user=french).json()
    assert "n’en est pas une valide" in body["text"]
    assert len(slack.find("users.info")) == 1
    gate.release()


# ---- users.info failing: the fallback language, and nothing lost ---------------------------


@pytest.mark.parametrize(
    "fault",
    [
        [Fault(status=500)] * 4,  # the first answer and its three retries
        [Fault(status=429, retry_after=30)],  # a retry later than the bound
        [Fault(error="missing_scope")],
    ],
    ids=["500", "429", "no-scope"],
)
def test_users_info_failing_gives_the_fallback_language(
    bot: BotProcess, slack: FakeSlack, dns_server: DnsServer, french: str, fault: list[Fault]
) -> None:
    slack.fail("users.info", *fault)
    channel = f"C_ACK_FAIL{next(_people)}"
    assert bot.command(IP, channel=channel, user=french).status_code == 200
    text = report(slack, channel).all_text()
    assert "Blocklists" in text and "Listes de blocage" not in text
    assert lookup(slack, french).ok is False


def test_users_info_hanging_past_the_bound_gives_the_fallback_and_the_report(
    bot: BotProcess, slack: FakeSlack, dns_server: DnsServer, french: str
) -> None:
    gate = slack.hold("users.info", user=french)  # never released before the report
    assert bot.command(IP, channel="C_ACK_HANG", user=french).status_code == 200
    text = report(slack, "C_ACK_HANG").all_text()
    assert "Blocklists" in text and "Listes de blocage" not in text
    assert lookup(slack, french).ok is None and not gate.released
    # A usage error from the same person waits no more: the failure is remembered a while.
    body = bot.command("999.1.1.1", channel="C_ACK_HANG", user=french).json()
    assert "looks like an IPv4 address" in body["text"]
    assert len([c for c in slack.find("users.info") if c.body.get("user") == french]) == 1
    gate.release()


# ---- Locales.ask and settle, in process ----------------------------------------------------


class HeldSlack:
    """users.info answering when the test says so, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.go = asyncio.Event()

    async def users_info(self, **_: object) -> dict[str, object]:
        self.calls += 1
        await self.go.wait()
        return {"user": {"locale": "fr-FR"}}


async def test_two_requests_of_one_person_share_one_lookup() -> None:
    locales = Locales("en")
    web = HeldSlack()
    first = locales.ask(web, "U1")  # type: ignore[arg-type]
    second = locales.ask(web, "U1")  # type: ignore[arg-type]
    assert first is second and first is not None
    web.go.set()
    assert await first == "fr"
    assert web.calls == 1
    assert locales.ask(web, "U1") is None  # type: ignore[arg-type]  # known now: nothing to wait for
    assert locales.now("U1") == "fr" and locales.now("U2") == "en"


async def test_a_request_given_up_on_does_not_cancel_the_shared_lookup() -> None:
    from bot.slack import language

    locales = Locales("en")
    web = HeldSlack()
    pending = locales.ask(web, "U1")  # type: ignore[arg-type]
    language._pending.set(pending)
    waiter = asyncio.ensure_future(settle())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert pending is not None and not pending.cancelled()
    web.go.set()
    with i18n.use("en"):
        assert await settle() == "fr"


async def test_settle_outside_a_request_keeps_the_language() -> None:
    with i18n.use("fr"):
        assert await settle() == "fr"
