"""Is the resolver itself answering? Asked only after every check of a report failed.

When the configured resolver is down, every blocklist, the PTR and SPF fail at once, and
a report that lists thirty "not checked" zones and advises fixing the domain's
nameservers blames the world for one local fault. One question to the root decides:
any real answer (even NXDOMAIN) means the resolver works and the failures are real.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.dns.resolver import Resolver
from handlers.results import CheckResult

#: What a working resolver says about the root's NS records one way or another.
_ALIVE = frozenset({"answer", "nxdomain", "nodata"})

_WHY = {
    "timeout": "did not answer",
    "refused": "refused to answer",
    "servfail": "answered SERVFAIL even for the root zone (it cannot resolve anything)",
    "error": "could not be reached",
}


@dataclass
class ResolverResult(CheckResult):
    """The `resolver` check: which resolver failed, and how."""

    resolver: str = ""
    #: timeout, refused, servfail or error (a network error such as connection refused).
    outcome: str = ""
    detail: str = ""


def all_failed(statuses: list[str]) -> bool:
    """True when every check that ran could not run (the sign that DNS itself is down)."""
    ran = [s for s in statuses if s != "skipped"]
    return bool(ran) and all(s == "error" for s in ran)


async def check_resolver(resolver: Resolver) -> ResolverResult | None:
    """An `error` result naming the resolver when it does not answer; None when it does."""
    answer = await resolver.lookup(".", "NS")
    if answer.outcome in _ALIVE:
        return None
    who = resolver.description or "the system's resolver"
    why = _WHY.get(answer.outcome, "did not answer")
    detail = f" ({answer.detail})" if answer.detail else ""
    summary = (
        f"The DNS resolver {who} {why}{detail}, so nothing could be checked: set "
        "SMTPCHECK_NAMESERVERS to a resolver that answers."
    )
    return ResolverResult(
        "error",
        summary,
        resolver=who,
        outcome=answer.outcome,
        detail=answer.detail,
    )
