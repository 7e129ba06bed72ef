"""The big receivers' authentication and TLS rejections, and the checks a bounce then runs.

The rejection texts follow the wording Gmail publishes in its SMTP error reference
(support.google.com/a/answer/3726730), Microsoft's for Outlook.com high-volume senders
(550 5.7.515) and Yahoo's sender requirements, inside the Postfix DSN sentence around them.
"""

from __future__ import annotations

import pytest

from bot.service import run_bounce
from handlers.bounce import dkim_signatures, explain_bounce
from handlers.dns.resolver import Resolver
from handlers.settings import Settings
from tests.support.dns_server import DnsServer, reverse_name
from tests.support.mail_auth import DKIM_KEY_2048

IP = "51.158.10.22"
DOMAIN = "northwind-traders.com"
GMAIL = "host gmail-smtp-in.l.google.com[142.250.102.27] said: "


def gmail(code: str, text: str) -> str:
    return (
        f"<bob@gmail.com>: {GMAIL}{code} [{IP}] {text} "
        f"For more information, go to https://support.google.com/mail/answer/81126 - gsmtp "
        f"(in reply to end of DATA command)\nfrom=<billing@{DOMAIN}>"
    )


CASES = [
    (
        gmail(
            "550-5.7.26",
            "Your email has been blocked because the sender is unauthenticated. Gmail requires "
            f"all senders to authenticate with either SPF or DKIM. Authentication results: "
            f"DKIM = did not pass SPF [{DOMAIN}] with ip: [{IP}] = did not pass",
        ),
        "550",
        "5.7.26",
        "dmarc",
        "fail",
    ),
    (
        gmail(
            "421-4.7.27",
            "Your email has been rate limited because SPF authentication didn't pass for this "
            "message. Gmail requires all bulk email senders to authenticate with SPF.",
        ),
        "421",
        "4.7.27",
        "spf",
        "warn",
    ),
    (
        gmail(
            "421-4.7.30",
            "Your email has been rate limited because DKIM authentication didn't pass for this "
            "message. Gmail requires all bulk email senders to authenticate with DKIM.",
        ),
        "421",
        "4.7.30",
        "dkim",
        "warn",
    ),
    (
        gmail(
            "421-4.7.32",
            "Your email has been rate limited because the From: header (RFC5322) in this "
            "message isn't aligned with either the authenticated SPF or DKIM organizational domain.",
        ),
        "421",
        "4.7.32",
        "dmarc",
        "warn",
    ),
    (
        gmail(
            "421-4.7.40",
            "Your email has been rate limited because DMARC policy is missing for the sending "
            "domain. Gmail requires all bulk email senders to publish a DMARC record.",
        ),
        "421",
        "4.7.40",
        "dmarc",
        "warn",
    ),
    (
        gmail(
            "421-4.7.29",
            "Your email has been rate limited because this message wasn't sent over a TLS "
            "connection. Gmail requires all bulk email senders to use TLS/SSL for SMTP connections.",
        ),
        "421",
        "4.7.29",
        "tls",
        "warn",
    ),
    (
        gmail(
            "550-5.7.25",
            "The IP address sending this message does not have a PTR record setup, or the "
            "corresponding forward DNS entry does not match the sending IP.",
        ),
        "550",
        "5.7.25",
        "ptr",
        "fail",
    ),
    (
        f"<ann@outlook.com>: host outlook-com.olc.protection.outlook.com[52.101.68.3] said: "
        f"550 5.7.515 Access denied, sending domain [{DOMAIN}] does not meet the required "
        "authentication level. The sender's domain in the 5322.From address doesn't meet the "
        f"authentication requirements defined for the sender. [{IP}]",
        "550",
        "5.7.515",
        "dmarc",
        "fail",
    ),
    (
        f"<cy@yahoo.com>: host mta7.am0.yahoodns.net[67.195.204.72] said: 550 5.7.9 This mail "
        "has been blocked because the sender is unauthenticated. Yahoo requires all senders to "
        f"authenticate with either SPF or DKIM. from=<news@{DOMAIN}> client [{IP}]",
        "550",
        "5.7.9",
        "dmarc",
        "fail",
    ),
]


@pytest.mark.parametrize(("text", "reply", "enhanced", "kind", "status"), CASES)
def test_authentication_codes(text: str, reply: str, enhanced: str, kind: str, status: str) -> None:
    result = explain_bounce(text)
    assert (result.reply_code, result.enhanced_code) == (reply, enhanced)
    assert (result.kind, result.status) == (kind, status), result.summary
    assert result.ips == [IP] and result.domain == DOMAIN, result
    assert result.explanation and result.advice


def test_the_code_decides_before_the_words() -> None:
    """4.7.27's text also names DKIM and DMARC in links; its code says SPF."""
    text = gmail("421-4.7.27", "SPF didn't pass. See DKIM and DMARC guidance.")
    assert explain_bounce(text).kind == "spf"


def test_dkim_signature_selector_is_read() -> None:
    paste = (
        gmail("421-4.7.30", "DKIM authentication didn't pass for this message.")
        + "\n\n--- Below this line is a copy of the message.\n\n"
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n"
        f"\td={DOMAIN}; s=mta2024;\n\th=from:to:subject; bh=abc=; b=def=\n"
        "DKIM-Signature: v=1; a=rsa-sha256; d=esp-example.net; s=k1; bh=x; b=y\n"
    )
    result = explain_bounce(paste)
    assert result.dkim_signatures == [(DOMAIN, "mta2024"), ("esp-example.net", "k1")]
    assert result.selectors_for(DOMAIN) == ["mta2024"]
    assert result.selectors_for(f"mail.{DOMAIN}") == ["mta2024"]
    assert dkim_signatures("DKIM-Signature: v=1; d=x.example; b=only-no-selector") == []


@pytest.fixture
def resolver(dns_server: DnsServer) -> Resolver:
    return Resolver([(dns_server.host, dns_server.port)], timeout=2.0)


SETTINGS = Settings(timeout=2.0, catalogue=())


async def test_bounce_runs_dmarc_and_dkim_for_its_domain(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    dns_server.add(reverse_name(IP, "in-addr.arpa"), "PTR", f"mail.{DOMAIN}.")
    dns_server.add(f"mail.{DOMAIN}", "A", IP)
    dns_server.add(DOMAIN, "TXT", f"v=spf1 ip4:{IP} -all")
    dns_server.add(f"mta2024._domainkey.{DOMAIN}", "TXT", f"v=DKIM1; k=rsa; p={DKIM_KEY_2048}")
    paste = (
        gmail("421-4.7.40", "DMARC policy is missing for the sending domain.")
        + f"\n\nDKIM-Signature: v=1; a=rsa-sha256; d={DOMAIN}; s=mta2024; bh=a; b=b\n"
    )
    [report] = await run_bounce(paste, resolver, SETTINGS)
    assert report.target == IP
    assert {"bounce", "spf", "dmarc", "dkim"} <= set(report.checks)
    assert report.checks["dmarc"].status == "warn"  # no DMARC record: what 4.7.40 is about
    dkim = report.checks["dkim"]
    assert getattr(dkim, "tried", None) == ["mta2024"] and dkim.status == "ok"
    rules = {r.id: r.met for r in report.requirements or []}
    assert rules["dmarc_policy"] is False and rules["dkim_key"] is True


async def test_bounce_without_an_address_reads_the_domain(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    dns_server.add(f"_dmarc.{DOMAIN}", "TXT", f"v=DMARC1; p=reject; rua=mailto:d@{DOMAIN}")
    text = (
        "550 5.7.515 Access denied, sending domain [northwind-traders.com] does not meet the "
        "required authentication level."
    )
    [report] = await run_bounce(text, resolver, SETTINGS)
    assert report.target == DOMAIN
    assert report.checks["dmarc"].status == "ok"
    assert {"bounce", "spf", "dmarc", "dkim"} <= set(report.checks)


async def test_tls_bounce_marks_the_tls_rule(dns_server: DnsServer, resolver: Resolver) -> None:
    text = gmail("421-4.7.29", "this message wasn't sent over a TLS connection.")
    [report] = await run_bounce(text, resolver, SETTINGS)
    rules = {r.id: r for r in report.requirements or []}
    assert rules["tls"].met is False and "not sent over TLS" in rules["tls"].detail
