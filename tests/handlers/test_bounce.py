"""The bounce explainer against real rejection wording, unknown text and hostile input."""

from __future__ import annotations

import json
import threading
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.bounce import MAX_SCAN, NOT_FOUND, BounceResult, explain_bounce
from tests.support.hostile_pastes import HOSTILE

CORPUS = Path(__file__).parent / "data" / "bounces"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads((CORPUS / "expected.toml").read_text())
KINDS = {
    "blocklist",
    "ptr",
    "spf",
    "dkim",
    "dmarc",
    "tls",
    "reputation",
    "policy",
    "recipient",
    "receiver_fault",
    "unknown",
}


#: Seconds after which explain_bounce on one paste is taken as hung (see _explain_guarded).
HANG_GUARD = 30


def _or_none(value: str) -> str | None:
    return value or None


def test_corpus_is_complete() -> None:
    """Every data file has expectations, every expectation a file, and there are enough."""
    files = {p.name for p in CORPUS.iterdir() if p.name != "expected.toml"}
    assert files == set(EXPECTED)
    assert len(files) >= 25
    for name, facts in EXPECTED.items():
        assert facts["source"], name
        assert facts["kind"] in KINDS, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus(name: str) -> None:
    facts = EXPECTED[name]
    result = explain_bounce((CORPUS / name).read_text())

    assert result.ips == facts["ips"]
    assert result.reply_code == _or_none(facts["reply_code"])
    assert result.enhanced_code == _or_none(facts["enhanced_code"])
    assert result.receiver == _or_none(facts["receiver"])
    assert result.blocklists == facts["blocklists"]
    assert result.kind == facts["kind"]
    assert result.status == facts["status"]
    assert result.domain == _or_none(facts["domain"])
    assert result.found is True
    assert result.summary != NOT_FOUND
    assert result.explanation
    for ip in result.ips:
        assert ip in result.summary
        assert ip in result.explanation
    assert result.ip_source == ("rejection" if facts["ips"] else None)
    # The JSON the report emits carries the INTERFACE fields.
    out = result.to_json()
    for key in ("status", "summary", "ips", "reply_code", "enhanced_code", "receiver"):
        assert key in out
    for key in ("blocklists", "kind", "explanation", "domain"):
        assert key in out
    json.dumps(out)


def test_receiver_addresses_are_not_sending_addresses() -> None:
    """The receiving MX's own address (host NAME[IP] said:) is never reported as the sender."""
    result = explain_bounce((CORPUS / "01-microsoft-5.7.606-postfix.txt").read_text())
    assert "40.92.18.33" not in result.ips
    dsn = explain_bounce((CORPUS / "12-gmail-ipv6-guidelines-exim.txt").read_text())
    assert dsn.ips == ["2a01:4f8:10a::26"]


def test_resolver_address_in_spamhaus_error_link_is_not_the_sender() -> None:
    result = explain_bounce((CORPUS / "28-postfix-open-resolver.txt").read_text())
    assert "95.216.2.200" not in result.ips
    assert "resolver" in result.explanation
    assert "not a listing" in result.summary


def test_authenticated_client_hop_is_not_used() -> None:
    """A DSN whose only Received hop is an authenticated mail client names no sending address."""
    result = explain_bounce((CORPUS / "36-mimecast-poor-reputation-exim-dsn.txt").read_text())
    assert result.ips == []
    assert result.found is True
    assert "names no sending address" in result.explanation


def test_received_headers_are_a_labelled_fallback() -> None:
    text = (
        "550 5.7.1 Message rejected: Poor Reputation Sender\n"
        "------ This is a copy of the message, including all the headers. ------\n"
        "Received: from mail.shop-example.de (mail.shop-example.de [51.158.10.22])\n"
        "\tby relay.example-mail.net with ESMTPS id 4711\n"
        "Received: from laptop (unknown [10.0.0.5]) by mail.shop-example.de with ESMTPSA\n"
    )
    result = explain_bounce(text)
    assert result.ips == ["51.158.10.22"]
    assert result.ip_source == "received_headers"
    assert result.kind == "reputation"
    assert "Received headers" in result.explanation


def test_private_loopback_and_reserved_addresses_are_skipped() -> None:
    text = (
        "554 5.7.1 Service unavailable; Client host [10.1.2.3] blocked using zen.spamhaus.org; "
        "Client host [127.0.0.2] blocked; client [192.168.1.1]; client [fe80::1]; "
        "client [240.0.0.1]; client [2a01:4f8:10a::25] blocked using zen.spamhaus.org"
    )
    result = explain_bounce(text)
    assert result.ips == ["2a01:4f8:10a::25"]


def test_pbl_listing_is_policy_with_smarthost_advice() -> None:
    text = (
        "554 5.7.1 Service unavailable; Client host [51.158.10.22] blocked using "
        "zen.spamhaus.org; https://www.spamhaus.org/query/ip/51.158.10.22 PBL"
    )
    result = explain_bounce(text)
    assert result.kind == "policy"
    assert result.blocklists == ["Spamhaus"]
    assert "smarthost" in result.explanation
    assert any(a.url and "51.158.10.22" in a.url for a in result.advice)


def test_spamhaus_listing_explains_pbl_versus_reputation() -> None:
    result = explain_bounce((CORPUS / "21-postfix-rbl-zen-sbl-dsn.txt").read_text())
    assert "PBL" in result.explanation and "smarthost" in result.explanation
    assert result.zones == ["zen.spamhaus.org"]
    assert result.advice[0].url == "https://check.spamhaus.org/results/?query=212.83.160.4"


def test_an_address_without_a_known_rejection_is_a_warning_not_a_guess() -> None:
    result = explain_bounce("mail from 51.158.10.22 did not arrive, can you check?")
    assert result.ips == ["51.158.10.22"]
    assert result.kind == "unknown"
    assert result.status == "warn"
    assert result.found is True
    assert "will not guess" in result.explanation


def test_unrecognised_reply_code_is_not_a_known_rejection() -> None:
    result = explain_bounce("550 5.3.0 <nobody@shop-example.de>: Recipient address rejected")
    assert result.summary == NOT_FOUND
    assert result.kind == "unknown"
    assert (result.reply_code, result.enhanced_code) == ("550", "5.3.0")


@pytest.mark.parametrize("code", ["5.1.1", "5.1.10", "5.2.2", "4.2.2", "5.2.1"])
def test_recipient_status_codes_say_the_sending_server_is_fine(code: str) -> None:
    reply = "452" if code.startswith("4") else "550"
    result = explain_bounce(f"{reply} {code} <nobody@shop-example.de>: Recipient address rejected")
    assert result.kind == "recipient"
    assert result.found is True
    assert result.status == "warn"
    assert "nothing is wrong with your server" in result.summary
    assert "Nothing is wrong with your server" in result.explanation


@pytest.mark.parametrize("code", ["5.1.7", "5.1.8"])
def test_sender_address_codes_are_not_recipient_failures(code: str) -> None:
    result = explain_bounce(f"553 {code} <bob@no-such-domain.example>: Sender address rejected")
    assert result.kind != "recipient"


def test_unmarked_address_in_the_rejection_is_the_senders() -> None:
    text = "550 5.7.1 Mail refused: 51.158.10.22 has sent too much spam"
    assert explain_bounce(text).ips == ["51.158.10.22"]
    # the same address outside any rejection (a version number, a date) is not a sender
    result = explain_bounce("Release notes for 4.16.55.1, see the changelog")
    assert result.ips == [] and result.found is False


def test_address_the_text_marks_as_the_receivers_is_not_the_sender() -> None:
    text = (
        "Dec  1 09:14:02 mail postfix/smtp[1]: 4F2: to=<a@contoso.com>, "
        "relay=mx.contoso.com[52.101.68.12]:25, status=bounced (host mx.contoso.com"
        "[52.101.68.12] said: 554 5.7.1 Service unavailable; Client host [51.158.10.22] "
        "blocked using zen.spamhaus.org)"
    )
    result = explain_bounce(text)
    assert result.ips == ["51.158.10.22"]
    assert result.receiver == "mx.contoso.com"


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        (
            "550 5.7.1 SPF check failed for [Northwind-Traders.com] 51.158.10.22",
            "northwind-traders.com",
        ),
        (
            "550-5.7.26 Unauthenticated email from fabrikam-shop.com is not accepted\n"
            "Received-SPF: fail (google.com: domain of bob@fabrikam-shop.com does not "
            "designate 51.158.10.22 as permitted sender)",
            "fabrikam-shop.com",
        ),
        ("NOQUEUE: reject: 554 5.7.1 blocked; from=<> to=<a@b.example>", None),
        (
            "From: MAILER-DAEMON@mail.shop-example.de\n550 5.7.1 banned sending IP [51.158.10.22]",
            None,
        ),
        (
            "550 5.7.1 banned sending IP [51.158.10.22]\n"
            "------ This is a copy of the message, including all the headers. ------\n"
            "Return-path: <orders@northwind-traders.com>\n",
            "northwind-traders.com",
        ),
    ],
)
def test_mail_domain_is_found_where_bounces_name_it(text: str, domain: str | None) -> None:
    assert explain_bounce(text).domain == domain


def test_dsn_receiver_is_the_remote_mta_never_the_reporting_mta() -> None:
    result = explain_bounce((CORPUS / "46-postfix-dsn-barracuda-remote-mta.txt").read_text())
    assert result.receiver == "mx1.fabrikam-shop.com"
    assert "northwind-traders.com" not in (result.receiver or "")


LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud."
)
ORDINARY_EMAIL = """From: Anna <anna@shop-example.de>
To: Ben <ben@example-mail.net>
Subject: Lunch on Thursday?
Date: Tue, 15 May 2018 12:13:12 +0000

Hi Ben,

are we still on for lunch at 12:30 on Thursday? Version 4.16.55.1 of the menu is out.

Anna
"""


@pytest.mark.parametrize("text", [LOREM, ORDINARY_EMAIL, "", "   \n\t  \n", "550", "<!channel>"])
def test_unknown_text(text: str) -> None:
    result = explain_bounce(text)
    assert result.summary == NOT_FOUND
    assert result.kind == "unknown"
    assert result.ips == []
    assert result.status == "warn"
    assert result.found is False
    assert result.blocklists == []


def test_explanation_is_plain_text_and_copies_nothing_from_the_paste() -> None:
    text = (
        "<!channel> <@U123> *bold* 554 5.7.1 Service unavailable; Client host "
        "[51.158.10.22] blocked using <https://evil.example|zen.spamhaus.org>; "
        "<!here> `code` &lt;script&gt;"
    )
    result = explain_bounce(text)
    assert result.found
    for field in (result.summary, result.explanation, *result.blocklists, *result.zones):
        assert "<" not in field and ">" not in field
        assert "!channel" not in field and "!here" not in field
        assert "\n" not in field and "`" not in field and "*" not in field


def _assert_well_formed(result: BounceResult) -> None:
    assert result.status in ("ok", "warn", "fail", "error", "skipped")
    assert result.kind in KINDS
    assert len(result.ips) <= 20
    assert result.summary
    json.dumps(result.to_json())


def _explain_guarded(text: str) -> BounceResult:
    """explain_bounce in a worker thread; a failure if it is still running after HANG_GUARD.

    The guard is a hang detector, some hundred times what a run takes on a loaded machine,
    not a speed figure: bench/bench_bounce.py measures the time against plain prose.
    """
    results: list[BounceResult] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(explain_bounce(text))
        except BaseException as exc:  # handed to the test's thread below
            errors.append(exc)

    worker = threading.Thread(target=work, name="explain-bounce", daemon=True)
    worker.start()
    worker.join(HANG_GUARD)
    assert not worker.is_alive(), f"explain_bounce still running after {HANG_GUARD} s: a hang"
    if errors:
        raise errors[0]
    return results[0]


# No Hypothesis deadline (a timed assert): each example runs under the hang guard instead.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_fuzz_arbitrary_text_never_raises(text: str) -> None:
    _assert_well_formed(_explain_guarded(text))


_PIECES = st.sampled_from(
    [
        "550",
        "5.7.1",
        "-",
        "[",
        "]",
        "(",
        ")",
        ":",
        "::",
        ".",
        " ",
        "\n",
        "host ",
        "Client host ",
        "blocked using ",
        "zen.spamhaus.org",
        "51.158.10.22",
        "2a01:4f8:10a::25",
        "999.1.1.1",
        "Received: from ",
        " by ",
        "ip=",
        "returnc/pub/",
        "H=",
        " T=x ",
        "PTR",
        "SPF",
        "open resolver",
        "ffff",
        "0",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=200).map("".join))
def test_fuzz_bounce_shaped_text_never_raises(text: str) -> None:
    _assert_well_formed(_explain_guarded(text))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_one_megabyte_hostile_paste_is_explained_well_formed(name: str) -> None:
    """A ReDoS guard: each hostile megabyte comes back well formed instead of hanging."""
    text = HOSTILE[name]
    assert len(text) >= 900_000
    _assert_well_formed(_explain_guarded(text))


def test_only_the_start_of_a_huge_paste_is_read() -> None:
    text = " " * MAX_SCAN + "554 5.7.1 Client host [51.158.10.22] blocked using zen.spamhaus.org"
    assert explain_bounce(text).summary == NOT_FOUND


def test_unicode_digits_are_not_addresses_or_codes() -> None:
    text = "٥٥٠ ٥.٧.١ Client host [٥١.١٥٨.١٠.٢٢] blocked — ünïcödé 🙂 \u202e\x00"
    result = explain_bounce(text)
    assert result.ips == []
    assert result.reply_code is None
