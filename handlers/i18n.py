"""The language of answers (English or French), chosen per request.

Each front end says once which language a request is answered in (`use("fr")`), and
every sentence below it is translated against that: a ContextVar, so requests running
side by side in one event loop each keep their own, and the asyncio tasks a request
starts inherit it. JSON keys, statuses, reasons and kinds are never translated.

English is the source text: an English answer opens no catalogue and imports no Babel
(the terminal starts fast). The French catalogue (gettext, domain `smtpcheck`, compiled
from `handlers/locale/fr/LC_MESSAGES/smtpcheck.po`) is read the first time French is asked
for; Babel formats French dates and numbers, imported only then.

Mark text with `_()` (a sentence), `ngettext()` (a sentence with a count: French and
English disagree on whether 0 is plural), `pgettext()` (a short word whose meaning
depends on where it stands) or `N_()` (text kept in a table and translated where it is
shown). Placeholders are `{name}` fields filled with `.format()` after translating, so a
translation can move them: never build a sentence out of translated pieces.
"""

from __future__ import annotations

import gettext
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Literal

Language = Literal["en", "fr"]
LANGUAGES: tuple[Language, ...] = ("en", "fr")
DEFAULT: Language = "en"
DOMAIN = "smtpcheck"
LOCALE_DIR = Path(__file__).with_name("locale")

log = logging.getLogger("smtpcheck.i18n")

_current: ContextVar[Language] = ContextVar("smtpcheck_language", default=DEFAULT)


# ---- which language ---------------------------------------------------------------------


def current() -> Language:
    """The language of the request being answered."""
    return _current.get()


def set_language(language: Language) -> Token[Language]:
    """Answer the rest of this request (and the tasks it starts) in `language`."""
    return _current.set(language)


@contextmanager
def use(language: Language) -> Iterator[None]:
    """Answer in `language` inside the block, then go back to the one before."""
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)


def language_of(tag: str | None) -> Language | None:
    """The supported language a locale tag names, or None.

    Takes Slack's `fr-FR`, POSIX's `fr_CA.UTF-8@euro` and plain `fr`; `C` and `POSIX`
    are English (the default messages), anything else (`de_DE`) is not ours.
    """
    if not tag:
        return None
    base = tag.strip().split(".")[0].split("@")[0].replace("_", "-").split("-")[0].lower()
    if base in ("c", "posix"):
        return "en"
    return base if base in LANGUAGES else None


def from_environment(env: Mapping[str, str], flag: str | None = None) -> Language:
    """The terminal's language: `--lang`, then SMTPCHECK_LANGUAGE, then the POSIX locale.

    Of LC_ALL, LC_MESSAGES and LANG the first one set decides (as gettext does); a locale
    we have no translation for means English.
    """
    for tag in (flag, env.get("SMTPCHECK_LANGUAGE")):
        chosen = language_of(tag)
        if chosen:
            return chosen
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "").strip()
        if value:
            return language_of(value) or DEFAULT
    return DEFAULT


# ---- translating ------------------------------------------------------------------------


@cache
def catalogue(language: Language) -> gettext.NullTranslations:
    """The compiled messages of `language` (English: the source text itself)."""
    if language == "en":
        return gettext.NullTranslations()
    try:
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
    except OSError:
        log.error("no %s messages in %s: answering in English", language, LOCALE_DIR)
        return gettext.NullTranslations()


def _(message: str) -> str:
    """`message` in the current language."""
    return catalogue(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted sentence for `n` in the current language (French: 0 and 1 singular)."""
    return catalogue(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` where its meaning depends on `context` (a button, a column heading)."""
    return catalogue(_current.get()).pgettext(context, message)


def N_(message: str) -> str:
    """Mark `message` for translation where it is shown (`_(value)`), not where it is written."""
    return message


def translated(message: str | None) -> str | None:
    """A data file's text (catalogue meanings, bounce explanations) in the current language."""
    return _(message) if message else message


# ---- numbers and dates ------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: CLDR patterns shared by every language; English is formatted without Babel to the same result.
DATETIME_PATTERN = "d MMM y, HH:mm:ss"
MINUTE_PATTERN = "d MMM y, HH:mm"
DATE_PATTERN = "d MMM y"


def _babel_locale(language: Language) -> str:
    return {"en": "en", "fr": "fr_FR"}[language]


def number(value: float, decimals: int = 0) -> str:
    """`value` with the current language's separators: `12,345.6` / `12 345,6`."""
    language = _current.get()
    if language == "en":
        return f"{value:,.{decimals}f}"
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return str(format_decimal(value, format=pattern, locale=_babel_locale(language)))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def moment(value: datetime, *, seconds: bool = True) -> str:
    """A date and time in UTC: `1 Dec 2026, 20:48:19 UTC` / `1 déc. 2026, 20:48:19 UTC`."""
    value = _utc(value)
    language = _current.get()
    if language == "en":
        clock = f"{value:%H:%M:%S}" if seconds else f"{value:%H:%M}"
        return f"{value.day} {_MONTHS[value.month - 1]} {value.year}, {clock} UTC"
    from babel.dates import format_datetime

    pattern = DATETIME_PATTERN if seconds else MINUTE_PATTERN
    shown = format_datetime(value, pattern, tzinfo=UTC, locale=_babel_locale(language))
    return f"{shown} UTC"


def day(value: datetime) -> str:
    """A date alone (UTC): `1 Dec 2026` / `1 déc. 2026`."""
    value = _utc(value)
    language = _current.get()
    if language == "en":
        return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"
    from babel.dates import format_date

    return str(format_date(value.date(), DATE_PATTERN, locale=_babel_locale(language)))


def milliseconds(value: float) -> str:
    """A duration in ms, whole: `1,234 ms` / `1 234 ms`."""
    return _("{ms} ms").format(ms=number(round(value)))
