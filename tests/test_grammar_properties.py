"""No text crashes the grammar or the bounce reader, in Slack markup or not.

Plain random text almost never hits a verb followed by a number, so these properties build
lines from the grammar's own words, addresses, numbers written with any Unicode digit
(`²`, `①`, `١٥`, `５`), intervals, prefixes, ports and Slack's message markup.
"""

from __future__ import annotations

import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.grammar import Bounce, Command, Range, Smtp, UsageError, Watch, parse
from handlers.bounce import BounceResult, explain_bounce

COMMAND_TYPES = typing.get_args(Command)

VERBS = [
    "check", "bl", "ptr", "spf", "smtp", "mx", "egress", "bounce", "watch", "unwatch",
    "monitor", "unmonitor", "history", "help", "every", "BL", "Smtp",
]  # fmt: skip
WORDS = [
    "51.158.10.22", "51.158.10.0/26", "51.158.10.0/24", "2a01:4f8:10a::25", "::ffff:51.158.10.22",
    "[2a01:4f8::25]", "<1.2.3.4>", "51.158.10.22,", "mx.example-mail.net", "example.com",
    "münchen.de", "https://mail.example.com/x", "mail.example.com:587", "[2a01:4f8::25]:25",
    "bob@example.com", "999.1.1.1", "10.0.0.1", "192.0.0.8", "fec0::1", "0", "25", "587",
    "70000", "15m", "2h", "1d", "minutes", "--json", "-", ":", "/", "//", "/24", ".", "\u200b",
]  # fmt: skip
NUMERIC = st.characters(categories=["Nd", "No", "Nl"])
NUMBERS = st.one_of(
    st.text(NUMERIC, min_size=1, max_size=4),
    st.tuples(st.text(NUMERIC, min_size=1, max_size=3), st.sampled_from(["m", "h", "d", ""])).map(
        "".join
    ),
    st.text(NUMERIC, min_size=1, max_size=3).map(lambda n: f"51.158.10.0/{n}"),
    st.text(NUMERIC, min_size=1, max_size=3).map(lambda n: f"mail.example.com:{n}"),
    st.text(NUMERIC, min_size=1, max_size=3).map(lambda n: f"{n}.{n}.{n}.{n}"),
    st.integers(0, 10**6).map(str),
    st.just("0" * 5000),
)
WORD = st.one_of(st.sampled_from(VERBS), st.sampled_from(WORDS), NUMBERS, st.text(max_size=12))


def _slack(word: str, kind: int) -> str:
    """`word` as Slack would deliver it in a message: a link, a mention, an entity."""
    return [
        word,
        f"<http://{word}|{word}>",
        f"<https://{word}>",
        f"<mailto:{word}|{word}>",
        f"<@U0BOT> {word}",
        f"<#C123|{word}>",
        word.replace("<", "&lt;").replace(">", "&gt;").replace("&", "&amp;"),
        f"<{word}",
        f"{word}|>",
    ][kind % 9]


LINES = st.one_of(
    st.lists(WORD, max_size=7).map(" ".join),
    st.lists(st.tuples(WORD, st.integers(0, 8)), max_size=6).map(
        lambda pairs: " ".join(_slack(w, k) for w, k in pairs)
    ),
    st.text(max_size=200),
)


def _assert_parses_or_refuses(text: str) -> None:
    try:
        command = parse(text)
    except UsageError as exc:
        message = str(exc)
        assert message and len(message) < 400 and "\n" not in message
    else:
        assert isinstance(command, COMMAND_TYPES)
        if isinstance(command, Smtp):
            assert 0 < command.port < 65536
        if isinstance(command, Watch):
            assert 5 <= command.every_minutes <= 24 * 60


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_any_line_is_a_command_or_a_usage_error(text: str) -> None:
    _assert_parses_or_refuses(text)


@pytest.mark.parametrize(
    "text",
    [
        "smtp 8.8.8.8 ²",
        "smtp 8.8.8.8 ①",
        "smtp 8.8.8.8 ٢٥",
        "smtp mx.example-mail.net " + "0" * 5000,
        "watch 51.158.10.22 every ²m",
        "watch 51.158.10.22 every ١٥m",
        "watch 51.158.10.22 every " + "1" * 5000 + "m",
        "bl 51.158.10.0/²",
        "51.158.10.0/٢٤",
        "bl 51.158.10.0/" + "0" * 5000,
        "<http://x|smtp> 8.8.8.8 <http://y|²>",
        "¹.¹.¹.¹",
    ],
)
def test_numbers_in_other_scripts_are_refused_in_one_sentence(text: str) -> None:
    """These raised ValueError from int() after str.isdigit() (or int() took other digits)."""
    with pytest.raises(UsageError) as info:
        parse(text)
    assert "\n" not in str(info.value)


def test_ascii_numbers_still_work() -> None:
    assert parse("smtp mx.example-mail.net 587") == Smtp("mx.example-mail.net", 587)
    assert parse("watch 51.158.10.22 every 30m").every_minutes == 30  # type: ignore[union-attr]
    assert parse("bl 51.158.10.0/26") == Range("51.158.10.0/26")


def _assert_reads(result: BounceResult) -> None:
    assert isinstance(result, BounceResult)
    assert result.status in ("ok", "warn", "fail", "error", "skipped")
    assert result.summary
    assert len(result.ips) <= 20


BOUNCE_WORDS = [
    "550", "5.7.1", "554 5.7.1", "4.7.650", "Client host [", "]", " blocked using ",
    "zen.spamhaus.org", "51.158.10.22", "2a01:4f8:10a::25", "::ffff:", "from=<", ">",
    "Remote-MTA: dns; ", "Diagnostic-Code: smtp; ", "Received: from ", "s=", "\n", " ",
    "SPF check for [", "<http://zen.spamhaus.org|zen.spamhaus.org>", "&lt;", "&gt;",
    "<@U0BOT>", "\u202e", "\u200b", "=\n", "=3D",
]  # fmt: skip
BOUNCE_PIECES = st.one_of(
    st.sampled_from(BOUNCE_WORDS),
    NUMBERS,
    st.text(max_size=20),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(BOUNCE_PIECES, max_size=80).map("".join))
def test_any_bounce_text_is_read(text: str) -> None:
    """The reader always gives a result, and `bounce TEXT` always parses to that text."""
    _assert_reads(explain_bounce(text))
    try:
        command = parse("bounce " + text)
    except UsageError:
        return
    assert isinstance(command, Bounce)
    _assert_reads(explain_bounce(command.text))
