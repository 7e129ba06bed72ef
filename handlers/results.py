"""The typed results every check returns, and the status arithmetic the report needs.

Statuses follow INTERFACE.md: the verdict is the worst status in the order
ok < warn < error < fail, and `skipped` never counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from handlers.i18n import _

Status = Literal["ok", "warn", "fail", "error", "skipped"]

_RANK: dict[str, int] = {"skipped": -1, "ok": 0, "warn": 1, "error": 2, "fail": 3}


def worst(statuses: Iterable[Status]) -> Status:
    """The worst of `statuses` (skipped ignored); `ok` when nothing counted."""
    counted = [s for s in statuses if s != "skipped"]
    if not counted:
        return "ok"
    return max(counted, key=lambda s: _RANK[s])


def rank(status: Status) -> int:
    """Position of a status in the verdict order (skipped lowest)."""
    return _RANK[status]


@dataclass(frozen=True)
class Advice:
    """One remediation step: what to do, and where (a page) when there is one."""

    text: str
    url: str | None = None
    #: Only a pointer to `url` ("look the address up on …"): dropped from a report where
    #: fuller advice already sends the person to the same page.
    pointer: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "url": self.url}


def problem_and_fix(problem: str, fix: str) -> str:
    """A finding's advice: what is wrong, then what to do; the report's sections use the
    same words to tell when a warning's fix is already under "What to do"."""
    return _("{problem}: {fix}").format(problem=problem, fix=fix)


@dataclass
class CheckResult:
    """Fields every check has. Subclasses add their facts as further fields.

    `to_json` emits every dataclass field except `advice` (which the report
    gathers at the top level), so a subclass's facts appear in `--json` as-is.
    """

    status: Status
    summary: str
    advice: list[Advice] = field(default_factory=list, kw_only=True)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "advice":
                continue
            out[f.name] = _plain(getattr(self, f.name))
        return out


def _plain(value: Any) -> Any:
    """Dataclasses, tuples and nested containers as JSON-ready values."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
