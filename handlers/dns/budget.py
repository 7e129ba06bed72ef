"""A question budget for one check whose questions come from data someone else wrote.

An SPF record names the hosts and domains a review looks up, so its author decides how
many questions one check asks; a record of 2,400 `a:` terms, or a tree of includes, made
one check ask 18,153 questions and stall everyone else's. Through a budget a check asks
at most `limit` questions (cache hits included, so the bound does not depend on what
others asked before); past it every lookup is answered `error` without being sent, and
`spent` says so, for the check to warn.
"""

from __future__ import annotations

from handlers.dns.resolver import Answer, Resolver

#: Questions one check may ask by default: a large legitimate SPF tree asks about 40.
DEFAULT_QUESTION_BUDGET = 300


class QuestionBudget:
    """Lookups through `resolver`, at most `limit` of them."""

    def __init__(self, resolver: Resolver, limit: int = DEFAULT_QUESTION_BUDGET) -> None:
        self.resolver = resolver
        self.limit = limit
        self.asked = 0
        self.refused = 0

    @property
    def spent(self) -> bool:
        """True once a lookup was refused for want of budget."""
        return self.refused > 0

    @property
    def timeout(self) -> float:
        return self.resolver.timeout

    async def lookup(self, name: str, rdtype: str, *, ticket: int | None = None) -> Answer:
        if self.asked >= self.limit:
            self.refused += 1
            return Answer(
                name,
                rdtype,
                "error",
                detail=f"not asked: the check's {self.limit} questions are spent",
            )
        self.asked += 1
        return await self.resolver.lookup(name, rdtype, ticket=ticket)
