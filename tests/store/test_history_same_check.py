"""History and a re-check's "what changed" compare like with like: a PTR-only check is not
set against a full one ("verdict fail → ok" when nothing changed), nor a check of one mail
domain against another's. Summaries are the stored text, and the history says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.changes import changes, same_check
from bot.store import HISTORY_NOTE, Store, history_json, history_lines
from handlers.i18n import Language, _, use

T0 = datetime(2026, 11, 28, 9, 41, tzinfo=UTC)
IP = "51.158.10.22"


def ptr_only(confirmed: bool) -> dict[str, Any]:
    return {
        "target": IP,
        "verdict": "ok" if confirmed else "fail",
        "checks": {
            "ptr": {
                "status": "ok" if confirmed else "fail",
                "summary": "PTR mail.example-mail.net resolves back" if confirmed else "No PTR",
                "names": ["mail.example-mail.net"] if confirmed else [],
                "forward_confirmed": confirmed,
                "generic": False,
            }
        },
        "advice": [],
    }


def full(domain: str | None, verdict: str = "ok") -> dict[str, Any]:
    report = ptr_only(True)
    report["verdict"] = verdict
    report["checks"] = {
        "dnsbl": {
            "status": "ok",
            "summary": "Not listed",
            "listed": [],
            "clean": [],
            "unavailable": [],
        },
        **report["checks"],
        "spf": {
            "status": "ok" if domain else "skipped",
            "summary": "SPF pass" if domain else "no domain",
            "domain": domain,
            "result": "pass" if domain else None,
        },
    }
    return report


def test_different_checks_are_not_compared() -> None:
    assert changes(ptr_only(False), full(None)) == []
    assert changes(full("example-mail.net"), full("other-mail.net", "fail")) == []
    assert not same_check(full("example-mail.net"), full(None))
    assert changes(ptr_only(False), ptr_only(True))[0] == "verdict fail → ok"


@pytest.fixture
def store(tmp_path: Any) -> Store:
    opened = Store.open(f"sqlite:///{tmp_path / 'h.db'}")
    yield opened  # type: ignore[misc]
    opened.close()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_history_compares_each_report_with_the_previous_of_its_kind(
    store: Store, language: Language
) -> None:
    store.save_report(ptr_only(False), now=T0)
    store.save_report(full(None), now=T0 + timedelta(hours=1))
    store.save_report(ptr_only(True), now=T0 + timedelta(hours=2))
    with use(language):
        entries = store.history(IP)
        lines = history_lines(entries)
    newest, middle, oldest = lines
    assert "→" not in middle and "→" not in oldest  # the full check has nothing of its kind before
    assert "verdict fail → ok" in newest
    # Not the line just below it, so the line says which report it compares with.
    since = "since the ptr check of" if language == "en" else "depuis la vérification ptr du"
    assert since in newest and "28" in newest.split(since)[1]
    entries_json = history_json(entries)
    assert entries_json[0]["compared_with"] == "2026-11-28T09:41:00+00:00"
    assert entries_json[1]["compared_with"] is None


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_history_says_its_summaries_are_the_stored_text(language: Language) -> None:
    with use(language):
        note = _(HISTORY_NOTE)
    assert ("as stored" in note) if language == "en" else ("tels qu’ils ont été gardés" in note)
