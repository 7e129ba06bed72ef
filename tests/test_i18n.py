"""The language of a request: chosen once, kept by its tasks, never leaking into another's."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from handlers import i18n
from handlers.i18n import _, ngettext


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("fr", "fr"),
        ("fr-FR", "fr"),
        ("fr-CA", "fr"),
        ("fr_BE.UTF-8", "fr"),
        ("fr_FR.ISO8859-15@euro", "fr"),
        ("en-GB", "en"),
        ("en_US.UTF-8", "en"),
        ("C", "en"),
        ("POSIX", "en"),
        ("C.UTF-8", "en"),
        ("de_DE.UTF-8", None),
        ("", None),
        (None, None),
    ],
)
def test_locale_tags(tag: str | None, language: str | None) -> None:
    assert i18n.language_of(tag) == language


@pytest.mark.parametrize(
    ("flag", "env", "language"),
    [
        ("fr", {"SMTPCHECK_LANGUAGE": "en", "LANG": "en_US.UTF-8"}, "fr"),
        (None, {"SMTPCHECK_LANGUAGE": "fr", "LANG": "en_US.UTF-8"}, "fr"),
        (None, {"SMTPCHECK_LANGUAGE": "en", "LC_ALL": "fr_FR.UTF-8"}, "en"),
        (None, {"LC_ALL": "fr_FR.UTF-8", "LANG": "en_US.UTF-8"}, "fr"),
        (None, {"LC_MESSAGES": "fr_FR.UTF-8", "LANG": "en_US.UTF-8"}, "fr"),
        (None, {"LANG": "fr_CA.UTF-8"}, "fr"),
        # The first POSIX variable set decides, as gettext does: German means English here.
        (None, {"LC_ALL": "de_DE.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"),
        (None, {"LC_ALL": "", "LANG": "fr_FR.UTF-8"}, "fr"),
        (None, {}, "en"),
        # A flag or setting we cannot use gives way to the next source.
        ("de", {"LANG": "fr_FR.UTF-8"}, "fr"),
    ],
)
def test_terminal_language_order(flag: str | None, env: dict[str, str], language: str) -> None:
    assert i18n.from_environment(env, flag) == language


def test_use_sets_the_language_for_the_block_only() -> None:
    assert i18n.current() == "en"
    with i18n.use("fr"):
        assert i18n.current() == "fr"
        assert _("note: {note}") == "remarque : {note}"
        with i18n.use("en"):
            assert _("note: {note}") == "note: {note}"
        assert i18n.current() == "fr"
    assert i18n.current() == "en"


async def test_concurrent_requests_keep_their_own_language() -> None:
    """Two requests in one event loop, interleaved, and the tasks they start."""
    said: dict[str, list[str]] = {}

    async def request(language: i18n.Language) -> None:
        i18n.set_language(language)
        await asyncio.sleep(0)

        async def child() -> str:
            await asyncio.sleep(0)
            return _("No reports of {target} yet.")

        said[language] = list(await asyncio.gather(child(), child()))

    await asyncio.gather(asyncio.create_task(request("fr")), asyncio.create_task(request("en")))
    assert said["fr"] == ["Aucun rapport pour {target} pour l’instant."] * 2
    assert said["en"] == ["No reports of {target} yet."] * 2
    assert i18n.current() == "en"


def test_french_plural_covers_zero_and_one() -> None:
    forms = ("{done}/{total} address", "{done}/{total} addresses")
    with i18n.use("fr"):
        assert [ngettext(*forms, n) for n in (0, 1, 2)] == [
            "{done}/{total} adresse",
            "{done}/{total} adresse",
            "{done}/{total} adresses",
        ]
    assert [ngettext(*forms, n) for n in (0, 1, 2)] == [
        "{done}/{total} addresses",
        "{done}/{total} address",
        "{done}/{total} addresses",
    ]


MOMENT = datetime(2026, 12, 1, 20, 48, 19, tzinfo=UTC)


def test_numbers_and_dates_for_each_language() -> None:
    assert i18n.number(12345.67, 1) == "12,345.7"
    assert i18n.moment(MOMENT) == "1 Dec 2026, 20:48:19 UTC"
    assert i18n.day(MOMENT) == "1 Dec 2026"
    assert i18n.milliseconds(1234.4) == "1,234 ms"
    with i18n.use("fr"):
        assert i18n.number(12345.67, 1) == "12\u202f345,7"
        assert i18n.moment(MOMENT) == "1 déc. 2026, 20:48:19 UTC"
        assert i18n.moment(MOMENT, seconds=False) == "1 déc. 2026, 20:48 UTC"
        assert i18n.day(MOMENT) == "1 déc. 2026"
        assert i18n.milliseconds(1234.4) == "1\u202f234 ms"


@pytest.mark.parametrize("value", [0, 7, 999, 1000, 12345.678, 1234567.5, -4321.25])
@pytest.mark.parametrize("decimals", [0, 1, 2])
def test_english_without_babel_is_what_babel_says(value: float, decimals: int) -> None:
    """English skips Babel for speed; it must read exactly as Babel's English would."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    assert i18n.number(value, decimals) == format_decimal(value, format=pattern, locale="en")


@pytest.mark.parametrize("month", range(1, 13))
def test_english_dates_without_babel_are_what_babel_says(month: int) -> None:
    from babel.dates import format_date, format_datetime

    moment = datetime(2026, month, 9, 7, 5, 3, tzinfo=UTC)
    shown = format_datetime(moment, i18n.DATETIME_PATTERN, tzinfo=UTC, locale="en")
    assert i18n.moment(moment) == f"{shown} UTC"
    short = format_datetime(moment, i18n.MINUTE_PATTERN, tzinfo=UTC, locale="en")
    assert i18n.moment(moment, seconds=False) == f"{short} UTC"
    assert i18n.day(moment) == format_date(moment.date(), i18n.DATE_PATTERN, locale="en")


def test_english_loads_no_catalogue_and_no_babel() -> None:
    """The terminal's start-up: English imports neither Babel nor reads a .mo file."""
    code = (
        "import sys; from handlers import i18n; "
        "from datetime import datetime, UTC; "
        "i18n._('note: {note}'); i18n.number(1234.5, 1); i18n.moment(datetime.now(UTC)); "
        "import bot.terminal.cli; "
        "print(any(m == 'babel' or m.startswith('babel.') for m in sys.modules), "
        "i18n.catalogue.cache_info().currsize)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "1"]  # the cached English catalogue is the source text, no file
