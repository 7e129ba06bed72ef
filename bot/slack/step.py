"""What the `check_address` Workflow Builder step returns: a verdict and one summary (pure).

Workflow outputs are plain strings that later steps put in messages or tickets, so the
summary is plain text (no mrkdwn, no emoji): the verdict in words, then each check that
ran with its own summary, worst report first when a name has several addresses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.slack.blocks import clip, labelled, verdict_words
from handlers.i18n import _

#: Workflow Builder shows outputs in messages; a summary longer than a message is no use.
MAX_SUMMARY = 3000
_ORDER = {"fail": 0, "error": 1, "warn": 2, "ok": 3}


def _one(report: Mapping[str, Any]) -> str:
    verdict = str(report.get("verdict") or "error")
    parts = [
        _("{target}: {verdict_words} ({verdict}).").format(
            target=report.get("target"),
            verdict_words=verdict_words(verdict),
            verdict=verdict,
        )
    ]
    for name, check in (report.get("checks") or {}).items():
        if not isinstance(check, Mapping) or check.get("status") == "skipped":
            continue
        summary = str(check.get("summary") or check.get("status") or "").strip().rstrip(".")
        parts.append(labelled(str(name), summary) + ".")
    return " ".join(parts)


def step_outputs(reports: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """`verdict` (ok, warn, fail or error: the worst of the reports) and `summary`."""
    ordered = sorted(reports, key=lambda r: _ORDER.get(str(r.get("verdict")), 1))
    verdict = str(ordered[0].get("verdict") or "error") if ordered else "error"
    summary = " ".join(_one(r) for r in ordered) or _("Nothing was checked.")
    return {"verdict": verdict, "summary": clip(summary, MAX_SUMMARY)}
