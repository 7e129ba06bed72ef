"""A report: the results of the checks run for one target, and its verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from handlers.requirements import Requirement, evaluate, has_domain
from handlers.results import Advice, CheckResult, Status, rank, worst


@dataclass
class Report:
    """Checks by name (`dnsbl`, `ptr`, `spf`, `smtp`, `bounce`, ...) for one target."""

    target: str
    checks: dict[str, CheckResult]
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration_ms: float = 0.0
    resolver: str = ""
    #: The name the user typed when the target is one of its addresses.
    hostname: str | None = None
    #: Facts about the target worth saying in every rendering (e.g. "in egress pool X").
    notes: list[str] = field(default_factory=list)
    #: The operator's egress pool holding the target (SMTPCHECK_POOLS), as JSON.
    pool: dict[str, Any] | None = None

    @property
    def verdict(self) -> Status:
        return worst(c.status for c in self.checks.values())

    @property
    def requirements(self) -> list[Requirement] | None:
        """The big receivers' sender rules, when a mail domain was checked; else None."""
        if not has_domain(self.checks):
            return None
        return evaluate(self.checks)

    @property
    def advice(self) -> list[Advice]:
        """Every check's advice, the worst check's first, each piece once.

        A bare pointer to a page (a bounce's "look the address up on Spamhaus") is left
        out when fuller advice, e.g. the live blocklist check's, links the same page.
        """
        ordered = sorted(self.checks.values(), key=lambda c: -rank(c.status))
        everything = [item for check in ordered for item in check.advice]
        linked = {item.url for item in everything if item.url and not item.pointer}
        seen: set[Advice] = set()
        out: list[Advice] = []
        for item in everything:
            if item in seen or (item.pointer and item.url in linked):
                continue
            seen.add(item)
            out.append(item)
        return out

    def to_json(self) -> dict[str, Any]:
        """The `--json` report of INTERFACE.md (plus time, duration and resolver)."""
        out: dict[str, Any] = {
            "target": self.target,
            "verdict": self.verdict,
            "checks": {name: check.to_json() for name, check in self.checks.items()},
            "advice": [a.to_json() for a in self.advice],
            "checked_at": self.started_at.isoformat(timespec="seconds"),
            "duration_ms": round(self.duration_ms, 1),
            "resolver": self.resolver,
        }
        requirements = self.requirements
        if requirements is not None:
            out["requirements"] = [r.to_json() for r in requirements]
        if self.hostname:
            out["hostname"] = self.hostname
        if self.notes:
            out["notes"] = list(self.notes)
        if self.pool:
            out["pool"] = self.pool
        return out
