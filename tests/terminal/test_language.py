"""`smtpcheck` answers in `--lang`, else SMTPCHECK_LANGUAGE, else the POSIX locale."""

from __future__ import annotations

import io

import pytest

from bot.terminal.cli import main
from handlers import i18n

IP = "51.158.10.22"
FRENCH = "Les surveillances tournent dans le bot Slack"
ENGLISH = "Watches run in the Slack bot, not in the terminal"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def no_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SMTPCHECK_LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["--lang", "fr"], {}, FRENCH),
        (["--lang=fr"], {"LANG": "en_US.UTF-8"}, FRENCH),
        (["--lang", "en"], {"SMTPCHECK_LANGUAGE": "fr"}, ENGLISH),
        ([], {"SMTPCHECK_LANGUAGE": "fr"}, FRENCH),
        ([], {"LANG": "fr_FR.UTF-8"}, FRENCH),
        ([], {"LC_MESSAGES": "fr_FR.UTF-8", "LANG": "en_GB.UTF-8"}, FRENCH),
        ([], {"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}, ENGLISH),
        ([], {}, ENGLISH),
    ],
)
def test_language_order(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _out, err = run("unwatch", IP, *argv)
    assert code == 3
    assert expected in err
    assert i18n.current() == "en"  # the language is the command's, not the process's


def test_a_flag_can_stand_anywhere_and_a_bad_one_is_explained(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    code, _out, err = run("unwatch", "--lang", "de", IP)
    assert code == 3
    assert "--lang attend en ou fr, pas 'de'." in err
    code, _out, err = run("--timeout", "abc", "--lang", "en", "unwatch", IP)
    assert code == 3 and "--timeout takes a number of seconds, not 'abc'." in err


def test_json_keys_and_statuses_stay_english_for_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _out, err = run("--lang", "fr", "--json", "--timeout", "oops", "1.2.3.4")
    assert code == 3 and "--timeout attend un nombre de secondes" in err
