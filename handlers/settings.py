"""What the handlers need to know besides the target and the resolver.

Built once from the environment by `bot.config`; frozen so checks running at the
same time cannot change each other's view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.catalogue import Zone, builtin
from handlers.dns.budget import DEFAULT_QUESTION_BUDGET
from handlers.dns.politeness import DEFAULT_PER_LIST_RATE
from handlers.dns.resolver import DEFAULT_CACHE_SIZE
from handlers.pools import Pool

#: The ports the SMTP probe reaches from Slack unless SMTPCHECK_SMTP_PORTS says otherwise.
SMTP_PORTS: tuple[int, ...] = (25, 465, 587, 2525)


@dataclass(frozen=True)
class Settings:
    """Check settings. Defaults match INTERFACE.md's environment table."""

    catalogue: tuple[Zone, ...] = field(default_factory=builtin)
    #: (address, port) of the resolvers every lookup uses; empty means the system's.
    nameservers: tuple[tuple[str, int], ...] = ()
    #: Most DNS questions in flight at once, over all checks.
    max_in_flight: int = 256
    #: Questions per second to any one blocklist (0: no limit), so a range never floods a list.
    per_list_rate: float = DEFAULT_PER_LIST_RATE
    #: Seconds one DNS question may take.
    timeout: float = 2.0
    #: DNS answers the resolver keeps at most (least recently used dropped first).
    dns_cache_size: int = DEFAULT_CACHE_SIZE
    #: DNS questions one SPF check (review and evaluation together) may ask: the record's
    #: author, not the user, decides what it looks up.
    question_budget: int = DEFAULT_QUESTION_BUDGET
    #: Spamhaus Data Query Service key (never printed or logged).
    dqs_key: str | None = None
    #: Seconds an RFC 5782 self-test result of a zone is reused.
    selftest_ttl: float = 600.0
    #: Seconds each SMTP probe step may take.
    smtp_timeout: float = 15.0
    #: Let the SMTP probe reach private and loopback addresses (tests, labs).
    allow_private_targets: bool = False
    #: Ports the SMTP probe connects to; anything else is refused (no port scanning).
    smtp_ports: tuple[int, ...] = SMTP_PORTS
    #: Ports that speak TLS from the first byte (SMTPS) instead of STARTTLS.
    smtp_implicit_tls_ports: tuple[int, ...] = (465,)
    #: CA bundle for the probe's certificate checks; None means the system's CAs.
    smtp_ca_file: str | None = None
    #: The name the probe gives in EHLO; None: the host name if qualified, else an address literal.
    smtp_helo_name: str | None = None
    #: Port the MX check probes instead of 25 (tests and labs); None means 25.
    smtp_port_override: int | None = None
    #: Most MX hosts one MX check probes (a domain cannot turn the bot into a scanner).
    mx_max_hosts: int = 10
    #: SMTP probes one user may have running at once.
    max_probes_per_user: int = 3
    #: The MX whose EHLO reply shows the address our SMTP leaves from; None disables egress.
    egress_reference: tuple[str, int] | None = ("gmail-smtp-in.l.google.com", 25)
    #: The operator's egress pools (SMTPCHECK_POOLS).
    pools: tuple[Pool, ...] = ()
