"""`/smtpcheck dmarc`, `/smtpcheck dkim` and a full check with a domain, end to end over HTTP.

`python -m bot` against the fake Slack Web API and the test DNS server: the reports carry
the DMARC and DKIM sections with their remediation and the receivers' rules in one section.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk.models.blocks import Block

from tests.support.dns_server import DnsServer
from tests.support.fake_slack import Call, FakeSlack
from tests.support.mail_auth import DKIM_KEY_2048
from tests.support.slack_app import SECRET, TOKEN, BotProcess, catalogue_toml, good_ptr

IP = "51.158.30.22"
#: Each test its own domain: the bot's resolver caches answers across tests.
DOMAIN = "contoso-mail.net"
FULL = "fabrikam-mail.net"


@pytest.fixture(scope="module")
def bot(
    slack: FakeSlack, dns_server_session: DnsServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    tmp = tmp_path_factory.mktemp("bot")
    zones = tmp / "zones.toml"
    zones.write_text(catalogue_toml())
    env = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "SMTPCHECK_NAMESERVERS": dns_server_session.address,
        "SMTPCHECK_TIMEOUT": "2",
        "SMTPCHECK_ZONES": str(zones),
        "SMTPCHECK_DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}",
        "SMTPCHECK_USER_RATE": "1000",
    }
    process = BotProcess(env, tmp / "bot.log").start()
    yield process
    process.stop()


def report_of(slack: FakeSlack, channel: str) -> Call:
    return slack.wait_call("chat.update", channel, timeout=10)[-1]


def sections(call: Call) -> list[str]:
    return [
        str(b.get("text", {}).get("text", ""))
        for b in call.blocks()
        if b.get("type") in ("section", "header")
    ]


def valid(call: Call) -> None:
    blocks = call.blocks()
    assert len(blocks) <= 50
    for raw in blocks:
        block = Block.parse(raw)  # type: ignore[arg-type]
        assert block is not None
        block.validate_json()
    assert all(len(t) <= 3000 for t in sections(call))


def test_dmarc_command(bot: BotProcess, slack: FakeSlack, dns_server: DnsServer) -> None:
    dns_server.add(f"_dmarc.{DOMAIN}", "TXT", f"v=DMARC1; p=quarantine; rua=mailto:d@{DOMAIN}")
    dns_server.add(DOMAIN, "TXT", "v=spf1 ip4:51.158.99.0/24 -all")
    assert bot.command(f"dmarc {DOMAIN} {IP}", channel="C_DMARC").status_code == 200
    report = report_of(slack, "C_DMARC")
    valid(report)
    text = "\n".join(sections(report))
    assert "*DMARC*" in text and f"_dmarc.{DOMAIN}" in text
    assert "NOT aligned" in text and "aligned DKIM signature" in text
    assert "Receivers' sender rules" in text


def test_dkim_command_names_the_selector_to_ask_for(
    bot: BotProcess, slack: FakeSlack, dns_server: DnsServer
) -> None:
    assert bot.command("dkim dkim-less.example", channel="C_DKIM").status_code == 200
    report = report_of(slack, "C_DKIM")
    valid(report)
    text = "\n".join(sections(report))
    assert "has no way to list the selectors" in text and "s= tag" in text
    assert text.count("list the selectors") == 1  # said once, not in the summary too


def test_full_check_with_a_domain(bot: BotProcess, slack: FakeSlack, dns_server: DnsServer) -> None:
    good_ptr(dns_server, IP, f"mail.{FULL}")
    dns_server.add(FULL, "TXT", f"v=spf1 ip4:{IP} -all")
    dns_server.add(f"google._domainkey.{FULL}", "TXT", f"v=DKIM1; k=rsa; p={DKIM_KEY_2048}")
    assert bot.command(f"{IP} {FULL}", channel="C_FULL").status_code == 200
    report = report_of(slack, "C_FULL")
    valid(report)
    texts = sections(report)
    rules = [t for t in texts if "sender rules" in t]
    assert len(rules) == 1
    assert "Gmail bulk sender rules: 4 of 6 met; not met: DMARC; unknown: TLS" in rules[0]
    dkim = next(t for t in texts if "*DKIM*" in t)
    assert "RSA 2048 bits" in dkim and "Google Workspace" in dkim
    buttons = [e for b in report.blocks() if b["type"] == "actions" for e in b["elements"]]
    assert any("support.google.com/a/answer/81126" in str(b.get("url")) for b in buttons)
