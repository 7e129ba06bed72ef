"""The fallback text (Slack's notification) and the workflow step's summary name each check
once: a summary that opens with its check's name is not prefixed with the title again
("DKIM: DKIM: key at…" was what a DKIM report's notification read)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from bot.slack import blocks
from bot.slack.step import step_outputs
from handlers.dkim import DkimResult, _finish, read_key
from handlers.i18n import Language, use


def report(name: str, summary: str) -> dict[str, Any]:
    return {
        "target": "51.158.10.22",
        "verdict": "ok",
        "checks": {name: {"status": "ok", "summary": summary}},
        "advice": [],
    }


def dkim_summary() -> str:
    """A real summary of handlers.dkim for a domain with one key found."""
    key = base64.b64encode(bytes(range(32))).decode()
    result = DkimResult("ok", "", domain="example-mail.net", guessed=False, tried=["s1"])
    result.selectors.append(read_key("s1", f"v=DKIM1; k=ed25519; p={key}"))
    _finish(result, "example-mail.net", [])
    return result.summary


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("name", sorted(blocks.TITLES))
def test_no_check_is_named_twice(name: str, language: Language) -> None:
    with use(language):
        title = blocks.title_of(name)
        for summary, word in (
            (f"{title}: something", title),
            (f"{name.upper()} something", name),
            (f"{title} something", title),
        ):
            text = blocks.fallback_text([report(name, summary)])
            step = step_outputs([report(name, summary)])["summary"]
            for shown in (text, step):
                assert shown.casefold().count(word.casefold()) == 1, shown
        plain = blocks.fallback_text([report(name, "all good")])
    assert plain.endswith(f"{title}: all good") or plain.endswith(f"{title} : all good")


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_dkim_reports_notification_says_dkim_once(language: Language) -> None:
    with use(language):
        summary = dkim_summary()
        text = blocks.fallback_text([report("dkim", summary)])
    assert "s1._domainkey.example-mail.net" in text
    assert text.count("DKIM") == 1, text


def test_a_summary_that_only_mentions_the_name_later_keeps_its_title() -> None:
    with use("en"):
        text = blocks.fallback_text([report("dnsbl", "Listed on 2 of 31 blocklists")])
    assert "Blocklists: Listed on 2 of 31 blocklists" in text
    with use("en"):
        text = blocks.fallback_text([report("spf", "SPFish is not a word")])
    assert "SPF: SPFish" in text
