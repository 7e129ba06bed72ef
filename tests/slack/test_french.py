"""Every Slack surface for a French and an English person, end to end over the fake Slack.

The same bot serves both: the French person's locale is `fr-FR` (users.info), the English
one's `en-GB`. Reports, the modal and App Home come out in each person's language, and
every block is checked against Slack's limits with slack_sdk's models, on the (longer)
French texts as on the English ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from tests.support.dns_server import DnsServer
from tests.support.fake_slack import Call, FakeSlack
from tests.support.slack_app import SPAMCOP, SPAMHAUS, BotProcess, bot_env, list_address
from tests.support.slack_payloads import global_shortcut, home_opened, post_event, post_interactive

FR, EN = "U_FR_1", "U_EN_1"


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("french")
    env = bot_env(slack.api_url, dns_server_session, tmp)
    process = BotProcess(env, tmp / "bot.log").start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def locales(slack: FakeSlack) -> None:
    slack.set_locale(FR, "fr-FR")
    slack.set_locale(EN, "en-GB")


def valid_blocks(blocks: list[dict[str, Any]], most: int = 50) -> None:
    assert 0 < len(blocks) <= most
    for raw in blocks:
        block = Block.parse(raw)  # type: ignore[arg-type]
        assert block is not None
        block.validate_json()


def valid_view(view: dict[str, Any]) -> None:
    View(**view).validate_json()
    valid_blocks(view["blocks"], most=100)


def report(slack: FakeSlack, channel: str) -> Call:
    return slack.wait_call("chat.update", channel, timeout=10)[-1]


@pytest.mark.parametrize(
    ("user", "channel", "words"),
    [
        (
            FR,
            "C_FR_REPORT",
            [
                "problèmes trouvés",
                "Listes de blocage",
                "Inscrite sur 2 listes de blocage sur 60",
                "*Que faire*",
                "Trouvez et corrigez",
                "Revérifier",
                "SpamCop : consulter / retirer",
                "Vérifié le ",
            ],
        ),
        (
            EN,
            "C_EN_REPORT",
            [
                "problems found",
                "Blocklists",
                "Listed on 2 of 60 blocklists",
                "*What to do*",
                "Find and fix the cause",
                "Re-check",
                "SpamCop: look up / remove",
                "Checked ",
            ],
        ),
    ],
)
def test_a_report_in_the_askers_language(
    bot: BotProcess,
    slack: FakeSlack,
    dns_server: DnsServer,
    user: str,
    channel: str,
    words: list[str],
) -> None:
    ip = "51.158.77.10" if user == FR else "51.158.77.11"
    list_address(dns_server, ip, SPAMHAUS, "127.0.0.2")
    list_address(dns_server, ip, SPAMCOP, "127.0.0.2")
    assert bot.command(f"{ip} example.com", channel=channel, user=user).status_code == 200
    posted = report(slack, channel)
    text = posted.all_text()
    for word in words:
        assert word in text
    valid_blocks(posted.blocks())
    assert len(posted.body["text"]) <= 3000
    # Keys, statuses and codes stay as they are for scripts and buttons.
    assert "127.0.0.2" in text


@pytest.mark.parametrize(
    ("user", "trigger", "title", "labels"),
    [
        (FR, "fr.modal", "Vérifier avec smtpcheck", ["Adresse ou nom d’hôte", "Que vérifier"]),
        (EN, "en.modal", "Check with smtpcheck", ["Address or host name", "What to check"]),
    ],
)
def test_the_check_modal_in_the_persons_language(
    bot: BotProcess, slack: FakeSlack, user: str, trigger: str, title: str, labels: list[str]
) -> None:
    post_interactive(bot, global_shortcut(user=user, trigger_id=trigger))
    opened = slack.wait_for(
        lambda: [c for c in slack.find("views.open") if c.body.get("trigger_id") == trigger]
    )[0]
    view = opened.view()
    assert view["title"]["text"] == title
    shown = json.dumps(view, ensure_ascii=False)
    for label in labels:
        assert label in shown
    valid_view(view)


@pytest.mark.parametrize(
    ("user", "words"),
    [
        (
            FR,
            ["En cours dans cet espace de travail", "Vos dernières vérifications", "vérifié le "],
        ),
        (EN, ["Running in this workspace", "Your last checks", "checked "]),
    ],
)
def test_app_home_in_the_persons_language(
    bot: BotProcess, slack: FakeSlack, user: str, words: list[str]
) -> None:
    post_event(bot, home_opened(user), event_id=f"EvHome{user}")
    published = slack.wait_for(
        lambda: [c for c in slack.find("views.publish") if c.body.get("user_id") == user],
        timeout=8,
    )[0]
    view = published.view()
    shown = json.dumps(view, ensure_ascii=False)
    for word in words:
        assert word in shown
    valid_view(view)


def test_help_is_french_down_to_its_examples(bot: BotProcess) -> None:
    """`help` said "Examples:" in English to a French person (the word hid in an f-string)."""
    answer = bot.command("help", channel="C_FR_HELP", user=FR).json()
    assert answer["response_type"] == "ephemeral"
    assert "Utilisation :" in answer["text"] and "Exemples :" in answer["text"]
    assert "Examples" not in answer["text"] and "Usage:" not in answer["text"]


def test_a_lone_mention_after_the_command_is_one_french_sentence(
    bot: BotProcess, slack: FakeSlack
) -> None:
    """`/smtpcheck <!channel>` got the whole usage, as if `help` had been typed."""
    answer = bot.command("<!channel>", channel="C_FR_PING", user=FR).json()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Une mention ou un lien seul")
    assert "Utilisation" not in answer["text"] and "<!channel>" not in answer["text"]
    assert not slack.find("chat.postMessage", "C_FR_PING")


@pytest.mark.parametrize(
    ("text", "channel", "said"),
    [
        ("nothere.example-mail.net", "C_FR_NXNAME", "nothere.example-mail.net ne se résout pas"),
        ("bounce merci de regarder", "C_FR_NOBOUNCE", ""),
    ],
)
def test_bad_input_found_by_dns_posts_nothing_in_the_channel(
    bot: BotProcess, slack: FakeSlack, dns_server: DnsServer, text: str, channel: str, said: str
) -> None:
    """A name that does not resolve (or a bounce naming nothing) is bad input: it is told to
    the person alone, with no "Vérification…" posted in the channel and deleted after."""
    assert bot.command(text, channel=channel, user=FR).status_code == 200
    told = slack.wait_call("chat.postEphemeral", channel, timeout=10)[0]
    assert told.body["user"] == FR and said in told.body["text"]
    assert not slack.find("chat.postMessage", channel)
    assert not slack.find("chat.delete", channel)


def test_a_code_the_catalogue_does_not_describe_is_said_in_french(
    bot: BotProcess, slack: FakeSlack, dns_server: DnsServer
) -> None:
    """SpamCop's 127.0.0.2 (no meaning in the catalogue) read "listed" in a French report."""
    ip = "51.158.77.12"
    list_address(dns_server, ip, SPAMCOP, "127.0.0.2")
    assert bot.command(f"bl {ip}", channel="C_FR_LISTED", user=FR).status_code == 200
    posted = report(slack, "C_FR_LISTED")
    shown = [posted.body["text"]] + [
        b["text"]["text"] for b in posted.blocks() if isinstance(b.get("text"), dict)
    ]
    text = "\n".join(shown)  # what people read (button values carry JSON keys)
    assert "`127.0.0.2` inscrite" in text and "(inscrite)" in text
    english = re.findall(r".{0,60}\blisted\b.{0,30}", text)
    assert not english, english
