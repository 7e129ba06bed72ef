"""What the handlers need to know besides the target and the resolver.

Built once from the environment by `bot.config`; frozen so checks running at the
same time cannot change each other's view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.catalogue import Zone, builtin


@dataclass(frozen=True)
class Settings:
    """Check settings. Defaults match INTERFACE.md's environment table."""

    catalogue: tuple[Zone, ...] = field(default_factory=builtin)
    #: Seconds one DNS question may take.
    timeout: float = 2.0
    #: Spamhaus Data Query Service key (never printed or logged).
    dqs_key: str | None = None
    #: Seconds an RFC 5782 self-test result of a zone is reused.
    selftest_ttl: float = 600.0
    #: Seconds each SMTP probe step may take.
    smtp_timeout: float = 15.0
    #: Let the SMTP probe reach private and loopback addresses (tests, labs).
    allow_private_targets: bool = False
