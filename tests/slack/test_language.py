"""Each person is answered in their Slack locale (users.info, cached), else SMTPCHECK_LANGUAGE."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import ConfigError, default_language
from bot.slack.language import Locales, asker
from tests.support.dns_server import DnsServer
from tests.support.fake_slack import FakeSlack, Fault
from tests.support.slack_app import TOKEN, BotProcess, bot_env

IP = "51.158.30.9"


def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.api_url)


async def test_locale_from_users_info_is_asked_once_per_person(slack: FakeSlack) -> None:
    slack.reset()
    slack.set_locale("U_FR", "fr-FR")
    slack.set_locale("U_CA", "fr-CA")
    slack.set_locale("U_DE", "de-DE")
    locales = Locales("en")
    web = client(slack)
    found = [await locales.language(web, user) for user in ("U_FR", "U_CA", "U_DE", "U_EN")]
    assert found == ["fr", "fr", "en", "en"]
    for _ in range(3):
        assert await locales.language(web, "U_FR") == "fr"
    calls = slack.find("users.info")
    assert [c.body["user"] for c in calls] == ["U_FR", "U_CA", "U_DE", "U_EN"]
    assert all(c.body.get("include_locale") in ("true", "1", True) for c in calls)
    assert locales.lookups == 4


async def test_the_default_decides_when_slack_does_not_say(slack: FakeSlack) -> None:
    slack.reset()
    slack.set_locale("U_FR", "fr-FR")
    slack.fail("users.info", Fault(error="missing_scope"))
    now = [0.0]
    locales = Locales("fr", failure_ttl=60, clock=lambda: now[0])
    web = client(slack)
    assert await locales.language(web, "U_EN_NO_SCOPE") == "fr"  # the default, SMTPCHECK_LANGUAGE
    assert await locales.language(web, "U_EN_NO_SCOPE") == "fr"  # cached: no second call
    assert len(slack.find("users.info")) == 1
    now[0] = 61  # a failure is kept a short while only; then Slack is asked again
    assert await locales.language(web, "U_EN_NO_SCOPE") == "en"
    assert len(slack.find("users.info")) == 2


async def test_a_slow_slack_costs_at_most_the_timeout() -> None:
    class Slow:
        async def users_info(self, **_: object) -> dict[str, object]:
            await asyncio.sleep(10)
            return {}

    locales = Locales("en", timeout=0.05)
    assert await asyncio.wait_for(locales.language(Slow(), "U1"), 2) == "en"  # type: ignore[arg-type]


def test_cache_forgets_the_oldest_people_beyond_its_size() -> None:
    locales = Locales("en", max_people=2)
    for user in ("U1", "U2", "U3"):
        locales.remember(user, "fr", 60)
    assert locales.cached("U1") is None
    assert locales.cached("U3") == "fr"


@pytest.mark.parametrize(
    ("body", "user"),
    [
        ({"user_id": "U1", "command": "/smtpcheck"}, "U1"),
        ({"type": "block_actions", "user": {"id": "U2"}}, "U2"),
        ({"type": "view_submission", "user": {"id": "U3"}}, "U3"),
        ({"type": "event_callback", "event": {"type": "app_mention", "user": "U4"}}, "U4"),
        ({"type": "event_callback", "event": {"type": "app_home_opened", "user": "U5"}}, "U5"),
        ({"type": "event_callback", "event": {"type": "function_executed"}}, ""),
    ],
)
def test_who_asks(body: dict[str, object], user: str) -> None:
    assert asker(body) == user


def test_smtpcheck_language_setting() -> None:
    assert default_language({}) == "en"
    assert default_language({"SMTPCHECK_LANGUAGE": "fr"}) == "fr"
    assert default_language({"SMTPCHECK_LANGUAGE": "fr_FR"}) == "fr"
    with pytest.raises(ConfigError, match="SMTPCHECK_LANGUAGE must be en or fr, not 'de'"):
        default_language({"SMTPCHECK_LANGUAGE": "de"})


@pytest.fixture(scope="module")
def guarded_bot(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp: Path = tmp_path_factory.mktemp("language")
    env = bot_env(slack.api_url, dns_server_session, tmp, SMTPCHECK_ALLOWED_CHANNELS="C_OK")
    process = BotProcess(env, tmp / "bot.log").start()
    yield process
    process.stop()


def test_a_refusal_is_in_the_askers_language(guarded_bot: BotProcess, slack: FakeSlack) -> None:
    slack.reset()
    slack.set_locale("U_FR", "fr-FR")
    french = guarded_bot.command(IP, channel="C_OTHER", user="U_FR").json()
    english = guarded_bot.command(IP, channel="C_OTHER", user="U_EN").json()
    assert "smtpcheck n’est pas activé dans cette conversation" in french["text"]
    assert "smtpcheck is not enabled in this conversation" in english["text"]
    again = guarded_bot.command(IP, channel="C_OTHER", user="U_FR").json()
    assert again["text"] == french["text"]
    assert [c.body["user"] for c in slack.find("users.info")] == ["U_FR", "U_EN"]
