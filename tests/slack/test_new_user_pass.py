"""What a new person of a workspace met in Slack, in English and in French (pure rendering).

Each test is one defect found by driving the real bot over the fake Slack: the words of
a DKIM key's state, the "checking…" line, a lone mention typed after /smtpcheck, App
Home's name for a monitor, and the MX summary's count.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.grammar import Bounce, Check, Egress, Range, Spf, UsageError, parse
from bot.slack import blocks, home
from bot.slack.delivery import describe
from handlers.i18n import Language, use
from handlers.mx import MxHost, MxResult, _judge


def dkim_report() -> dict[str, object]:
    selectors = [
        {"selector": "s1", "found": True, "key_type": "rsa", "key_bits": 2048, "testing": True},
        {"selector": "old", "found": True, "key_type": "rsa", "revoked": True},
    ]
    return {
        "target": "example-mail.net",
        "verdict": "fail",
        "checks": {
            "dkim": {
                "status": "fail",
                "summary": "DKIM",
                "domain": "example-mail.net",
                "guessed": False,
                "selectors": selectors,
                "tried": ["s1", "old"],
            }
        },
        "advice": [],
    }


def test_a_dkim_keys_state_is_in_the_askers_language() -> None:
    """French people read 'revoked', 'bits' and '(testing, t=y)' in English."""
    with use("fr"):
        shown = json.dumps(blocks.render([dkim_report()], values=[None]).blocks, ensure_ascii=False)
    assert "révoquée" in shown and "2048 bits" in shown and "(en test, t=y)" in shown
    assert "revoked" not in shown and "testing" not in shown
    with use("en"):
        shown = json.dumps(blocks.render([dkim_report()], values=[None]).blocks)
    assert "revoked" in shown and "RSA 2048 bits" in shown and "(testing, t=y)" in shown


@pytest.mark.parametrize(
    ("command", "english", "french"),
    [
        (Range("51.159.20.0/28"), "51.159.20.0/28", "51.159.20.0/28"),
        (Bounce("550 5.7.1 blocked"), "the bounce", "ce rejet"),
        (Egress(), "the egress address", "l’adresse de sortie"),
        (Egress("51.159.20.30"), "51.159.20.30", "51.159.20.30"),
        (Check("xn--mnchen-3ya.de", display="münchen.de"), "münchen.de", "münchen.de"),
        (Spf("example-mail.net"), "example-mail.net", "example-mail.net"),
    ],
)
def test_the_checking_line_names_what_is_checked(
    command: object, english: str, french: str
) -> None:
    """A range, a bounce and egress all said "Checking your request…"; an IDN its A-label."""
    with use("en"):
        assert describe(command) == english  # type: ignore[arg-type]
    with use("fr"):
        assert describe(command) == french  # type: ignore[arg-type]
        assert blocks.progress(describe(command)).text == f"Vérification de {french}…"  # type: ignore[arg-type]


@pytest.mark.parametrize("typed", ["<!channel>", "<!here|here>", "<@U123>", "\u200b"])
def test_a_lone_mention_is_one_sentence_not_the_usage(typed: str) -> None:
    """`/smtpcheck <!channel>` answered with the whole usage, as if `help` had been asked."""
    with pytest.raises(UsageError) as raised:
        parse(typed)
    assert "nothing I can check" in str(raised.value)
    assert parse("") == parse("   ") == parse("help")


def test_app_home_calls_a_monitor_what_its_messages_call_it() -> None:
    """French Home said "Veille" where the channel's messages say "supervision"."""
    monitor = home.Running(
        home.MONITOR,
        "51.159.20.0/28",
        None,
        "C1",
        datetime(2026, 12, 1, tzinfo=UTC),
        None,
        home.STOP_MONITOR_ACTION,
        "4",
        last_run="0 of 16 addresses listed",
    )
    with use("fr"):
        shown = json.dumps(home.home_view([monitor], []), ensure_ascii=False)
    assert "*Supervision*" in shown and "Veille" not in shown


def test_one_mx_host_down_is_counted_in_the_singular_in_french() -> None:
    """ "(1 essayés)": the count of MX hosts tried had no plural form."""
    host = MxHost(
        10,
        "mx.example-mail.net",
        ["51.159.20.30"],
        "fail",
        "",
        "refused",
        None,
        False,
        None,
        None,
        None,
    )
    result = MxResult("fail", "", domain="example-mail.net", hosts=[host])
    with use("fr"):
        _judge(result, mixed_null=False)
    assert "(1 essayé)" in result.summary
    with use("fr"):
        result = MxResult("fail", "", domain="example-mail.net", hosts=[host, host])
        _judge(result, mixed_null=False)
    assert "(2 essayés)" in result.summary


def nxdomain_report() -> dict[str, Any]:
    """What a full check says of a mail domain that does not exist (shapes of spf.py)."""
    problem = "fabrikam-shop.net does not exist (the DNS answers NXDOMAIN)"
    fix = "Check the spelling of fabrikam-shop.net; if it is right, the domain is not registered."
    return {
        "target": "51.159.20.31",
        "verdict": "warn",
        "checks": {
            "spf": {
                "status": "warn",
                "summary": "SPF none: fabrikam-shop.net does not exist (NXDOMAIN)",
                "domain": "fabrikam-shop.net",
                "result": "none",
                "warnings": [
                    {"code": "no_such_domain", "text": problem, "fix": fix},
                    {"code": "other", "text": "a remark", "fix": "its own fix"},
                ],
            }
        },
        "advice": [
            {
                "text": f"{problem}: {fix}",
                "url": "https://www.rfc-editor.org/rfc/rfc7208#section-4.3",
            },
            {"text": "Publish DMARC", "url": "https://support.google.com/a/answer/2466563"},
            {"text": "Find the selector", "url": "https://support.google.com/a/answer/174124"},
            {"text": "Read this", "url": "https://docs.example-mail.net/a"},
            {"text": "And this", "url": "https://docs.example-mail.net/b"},
        ],
    }


def test_an_spf_warning_does_not_repeat_the_advice_under_what_to_do() -> None:
    """A domain that does not exist said "Check the spelling…" twice, once glued on
    without punctuation ("(NXDOMAIN) Check the spelling")."""
    shown = json.dumps(blocks.render([nxdomain_report()], values=[None]).blocks)
    assert shown.count("Check the spelling") == 1
    assert "NXDOMAIN) Check" not in shown
    assert ":warning: fabrikam-shop.net does not exist (the DNS answers NXDOMAIN)\\n" in shown
    # A warning whose fix is not advised keeps it, after a colon.
    assert "a remark: its own fix" in shown


def link_labels(report: dict[str, Any]) -> list[str]:
    rendered = blocks.render([report], values=[None])
    return [
        e["text"]["text"]
        for b in rendered.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if "url" in e
    ]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_two_pages_of_one_site_never_share_a_button_label(language: Language) -> None:
    """DMARC's and DKIM's guides were both "Guide on support.google.com"."""
    with use(language):
        labels = link_labels(nxdomain_report())
    assert len(labels) == len(set(labels)), labels
    expected = {
        "en": ["Google: set up DMARC", "Google: set up DKIM", "Guide on docs.example-mail.net (2)"],
        "fr": [
            "Google : configurer DMARC",
            "Google : configurer DKIM",
            "Guide sur docs.example-mail.net (2)",
        ],
    }[language]
    for label in expected:
        assert label in labels, labels


@pytest.mark.parametrize(
    ("typed", "french"),
    [
        ("watch 51.159.20.31 every 1m", "Les surveillances ne revérifient pas plus souvent"),
        ("monitor 51.159.20.0/28 every 1m", "Les supervisions ne revérifient pas plus souvent"),
        ("watch 51.159.20.31 every 9d", "Les surveillances revérifient au moins une fois par jour"),
    ],
)
def test_an_interval_out_of_bounds_is_said_in_french(typed: str, french: str) -> None:
    """ "Watches ne revérifient pas…": the subject of the sentence stayed English."""
    with use("fr"), pytest.raises(UsageError) as raised:
        parse(typed)
    assert str(raised.value).startswith(french)
    assert "Watches" not in str(raised.value) and "Monitors" not in str(raised.value)


def test_a_receivers_rule_that_fails_is_not_called_missing() -> None:
    """SPF that fails for this address read "SPF missing", as if there were no record;
    in French "respectée: SPF manquant(s)"."""
    from handlers.requirements import line_for, receivers

    gmail = next(r for r in receivers() if r.id == "gmail")
    items = [
        {"rule": "SPF passes", "short": "SPF", "who": ["gmail"], "met": False},
        {"rule": "DMARC published", "short": "DMARC", "who": ["gmail"], "met": True},
        {"rule": "TLS", "short": "TLS", "who": ["gmail"], "met": None},
    ]
    with use("en"):
        english = line_for(gmail, items)
    with use("fr"):
        french = line_for(gmail, items)
    assert english.endswith("1 of 3 met; not met: SPF; unknown: TLS"), english
    assert "missing" not in english
    assert french.endswith("1 sur 3 respectée ; non respectées : SPF ; inconnues : TLS"), french
    assert "(s)" not in french


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_modals_full_check_says_it_covers_dmarc_and_dkim(language: Language) -> None:
    """ "Full check (blocklists, PTR, SPF)" left out DMARC and DKIM, which it runs with a domain."""
    from bot.slack import modal

    with use(language):
        view = modal.check_modal(modal.Origin("C1"))
    kind = next(b for b in view["blocks"] if b.get("block_id") == modal.KIND_BLOCK)
    full = next(o for o in kind["element"]["options"] if o["value"] == "full")["text"]["text"]
    assert "DMARC" in full and "DKIM" in full and len(full) <= 75, full
