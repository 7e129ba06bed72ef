"""A bounce's explanation in Slack: our own sentences are plain text, and only what was
quoted from the bounce (the receiver, the lists, domain and addresses it names) is a code
span. Everything after "It names Spamhaus:" used to render monospace."""

from __future__ import annotations

import re

import pytest

from bot.slack import blocks
from handlers.bounce import explain_bounce
from handlers.i18n import Language, use

BOUNCE = (
    "550 5.7.1 Service unavailable; Client host [51.158.10.22] blocked using Spamhaus; "
    "To request removal from this list see https://www.spamhaus.org/query/ip/51.158.10.22"
)
CODE = re.compile(r"`[^`]*`")


def explained(text: str, language: Language) -> str:
    """The explanation's line of the bounce section, as Slack gets it."""
    with use(language):
        check = explain_bounce(text).to_json()
        shown = blocks.check_text("bounce", check, "51.158.10.22")
    return shown.splitlines()[-1]


@pytest.mark.parametrize(
    ("language", "ours"),
    [
        ("en", "It names `Spamhaus`: the receiver looked `51.158.10.22` up on that list"),
        ("fr", "Il cite `Spamhaus` : le destinataire a cherché `51.158.10.22` sur cette liste"),
    ],
)
def test_our_words_are_plain_and_the_quotes_are_code(language: Language, ours: str) -> None:
    line = explained(BOUNCE, language)
    assert ours in line, line
    # Each code span is one quoted piece, never a run of our own sentences.
    assert {span.strip("`") for span in CODE.findall(line)} <= {
        "Spamhaus",
        "51.158.10.22",
        "Postfix",
    }


def test_a_hostile_receiver_stays_quoted_and_escaped() -> None:
    hostile = "550 5.7.1 host *bold*<!channel>_it_ said: Client host [51.158.10.22] blocked using Spamhaus"
    with use("en"):
        check = explain_bounce(hostile).to_json()
        check["receiver"] = check["receiver"] or "*bold*<!channel>_it_"
        check["explanation"] = f"{check['receiver']} refused it. " + check["explanation"]
        check["quoted"] = [check["receiver"], *check["quoted"]]
        line = blocks.check_text("bounce", check, "51.158.10.22").splitlines()[-1]
    assert "<!channel>" not in line and "&lt;!channel&gt;" in line
    outside = CODE.sub("", line)
    assert "*bold*" not in outside and "_it_" not in outside, line


def test_a_report_kept_before_quoted_existed_shows_its_explanation_quoted_whole() -> None:
    with use("en"):
        check = explain_bounce(BOUNCE).to_json()
        del check["quoted"]
        line = blocks.check_text("bounce", check, "51.158.10.22").splitlines()[-1]
    assert "the receiver looked 51.158.10.22 up" in "".join(CODE.findall(line))
