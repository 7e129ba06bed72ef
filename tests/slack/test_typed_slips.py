"""What the Slack bot says about typed input, against a bot with SMTPCHECK_SMTP_PORTS set.

The grammar and the probe agree on the ports: one SMTPCHECK_SMTP_PORTS allows is probed,
one it does not is refused in the ack with the real list (never the default 25, 465, 587
or 2525). Recognisable slips (an address where a domain goes, a domain broken by a
space) get a suggestion, in English and in French.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dns_server import DnsServer
from tests.support.fake_slack import FakeSlack
from tests.support.slack_app import BotProcess, bot_env, free_port
from tests.support.smtp_servers import SmtpPeer

FR, EN = "U_SLIP_FR", "U_SLIP_EN"
PORT = free_port()  # not one of the default SMTP ports


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp: Path = tmp_path_factory.mktemp("slips")
    env = bot_env(
        slack.api_url,
        dns_server_session,
        tmp,
        SMTPCHECK_ALLOW_PRIVATE_TARGETS="1",  # the peer lives on loopback
        SMTPCHECK_SMTP_TIMEOUT="5",
        SMTPCHECK_SMTP_PORTS=f"{PORT},587",
    )
    process = BotProcess(env, tmp / "bot.log").start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def locales(slack: FakeSlack) -> None:
    slack.set_locale(FR, "fr-FR")
    slack.set_locale(EN, "en-GB")


def ack(bot: BotProcess, text: str, user: str = EN) -> str:
    """The ephemeral ack's sentence for `text` (bad input is answered in the ack itself)."""
    body = bot.command(text, channel="C_SLIP", user=user).json()
    assert body["response_type"] == "ephemeral", body
    return str(body["text"])


def test_a_port_smtpcheck_smtp_ports_allows_is_probed(bot: BotProcess, slack: FakeSlack) -> None:
    with SmtpPeer(port=PORT):
        bot.command(f"smtp 127.0.0.1 {PORT}", channel="C_SLIP_OK", user=EN)
        report = slack.wait_call("chat.update", "C_SLIP_OK", timeout=15)[0]
    assert f"connected to 127.0.0.1:{PORT}" in report.all_text()


@pytest.mark.parametrize(
    ("text", "user", "says"),
    [
        (
            "smtp 127.0.0.1 25",
            EN,
            f"The SMTP probe connects only to ports {PORT} or 587 here, not to 25.",
        ),
        (
            "smtp 127.0.0.1",  # port 25 implied, and 25 is not allowed here
            EN,
            f"The SMTP probe connects only to ports {PORT} or 587 here, not to 25.",
        ),
        (
            "smtp 127.0.0.1:2525",
            FR,
            f"La sonde SMTP ne se connecte ici qu’aux ports {PORT} ou 587, pas au 2525.",
        ),
        (
            "smtp 127.0.0.1 smtp",
            EN,
            f"smtp is not a port number: the SMTP probe connects to ports {PORT} or 587.",
        ),
        (
            "smtp 127.0.0.1 smtp",
            FR,
            f"smtp n’est pas un numéro de port : la sonde SMTP se connecte aux ports {PORT} ou 587.",
        ),
    ],
)
def test_a_refused_port_names_the_ports_allowed(
    bot: BotProcess, slack: FakeSlack, text: str, user: str, says: str
) -> None:
    told = ack(bot, text, user)
    assert says in told, told
    assert "2525)" not in told and "465" not in told
    assert not slack.find("chat.postMessage", "C_SLIP")  # nothing posted in the channel


@pytest.mark.parametrize(
    ("text", "user", "says"),
    [
        ("mx 51.159.20.30", EN, "`ptr 51.159.20.30`"),
        ("mx 51.159.20.30", EN, "`smtp 51.159.20.30`"),
        ("mx 51.159.20.30", FR, "`ptr 51.159.20.30`"),
        ("dkim 51.159.20.30", EN, "`ptr 51.159.20.30`"),
        ("dmarc 51.159.20.30 example.com", EN, "`dmarc example.com 51.159.20.30`"),
        ("spf 'exa mple.com'", EN, "“exa mple.com” has a space in it"),
        ("spf 'exa mple.com'", FR, "« exa mple.com » contient une espace"),
    ],
)
def test_slips_get_a_suggestion(bot: BotProcess, text: str, user: str, says: str) -> None:
    told = ack(bot, text, user)
    assert says in told, told
