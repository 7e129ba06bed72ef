"""The egress check: which address does our SMTP really leave from?

Guide step 2 says SMTP should leave through an egress rule on a dedicated address.
The only way to see the address the internet sees is to ask a far mail server: large
providers echo the client's address in their EHLO reply ("250-mx.google.com at your
service, [203.0.113.7]"). This is only meaningful where the bot runs inside the network
being checked (the same firewall and egress rules as the mail server); the result
says so.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from handlers.dns.resolver import Resolver
from handlers.i18n import N_, _
from handlers.pools import Pool, pool_for
from handlers.results import Advice, CheckResult
from handlers.settings import Settings
from handlers.smtp import SmtpResult, probe_smtp

NOTE = N_(
    "This shows the address SMTP leaves from on the machine smtpcheck runs on; it says "
    "something about the mail server only when that machine is in the same network, "
    "behind the same firewall and egress rules."
)

_PATTERNS = (
    re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]"),
    re.compile(r"\(([0-9A-Fa-f:.]+)\)"),
    re.compile(r"\bHello\s+([0-9A-Fa-f:.]+)\b", re.IGNORECASE),
)


@dataclass
class EgressResult(CheckResult):
    """The address a far MX saw, against the one the egress rule should use."""

    reference: str
    seen_ip: str | None = None
    expected: str | None = None
    matches: bool | None = None
    pool: Pool | None = None
    note: str = field(default_factory=lambda: _(NOTE))
    probed_from: str = ""
    probe: SmtpResult | None = None


def seen_address(reply: str) -> str | None:
    """The client address a server echoes in a greeting or EHLO reply, or None."""
    for line in reply.splitlines():
        for pattern in _PATTERNS:
            for candidate in pattern.findall(line):
                try:
                    return str(ipaddress.ip_address(candidate))
                except ValueError:
                    continue
    return None


async def check_egress(
    expected_ip: str | None, resolver: Resolver, settings: Settings
) -> EgressResult:
    """Probe the reference MX, read the address it saw, compare it with `expected_ip`."""
    reference = settings.egress_reference
    if reference is None:
        return EgressResult(
            status="error",
            summary=_(
                "Egress not checked: SMTPCHECK_EGRESS_REFERENCE is off, so there is no reference "
                "MX to ask which address mail leaves from"
            ),
            reference="",
            expected=expected_ip,
            note="",
        )
    host, port = reference
    result = EgressResult(
        status="error", summary="", reference=f"{host}:{port}", expected=expected_ip
    )
    if expected_ip is not None:
        try:
            result.expected = str(ipaddress.ip_address(expected_ip.strip()))
        except ValueError:
            result.summary = _("{value!r} is not an IP address").format(value=expected_ip)
            return result

    probe = await probe_smtp(host, port, resolver, settings)
    result.probe = probe
    result.probed_from = probe.probed_from
    replies = [s.reply for s in probe.steps if s.name in ("ehlo", "helo")]
    replies += [probe.banner or ""]
    for reply in replies:
        result.seen_ip = seen_address(reply)
        if result.seen_ip:
            break

    if result.seen_ip is None:
        if probe.failure is not None and not any(s.name == "ehlo" for s in probe.steps):
            result.status = "fail" if probe.status == "fail" else "error"
            result.summary = _("Could not reach the reference MX {reference}: {error}").format(
                reference=result.reference, error=probe.summary
            )
            result.advice = list(probe.advice)
        else:
            result.summary = _(
                "The reference MX {reference} does not say which address it sees"
            ).format(reference=result.reference)
            result.advice = [
                Advice(
                    _(
                        "Configure an egress reference server that echoes the client address in "
                        "its EHLO reply (large providers' MX hosts do)."
                    )
                )
            ]
        return result

    result.pool = pool_for(result.seen_ip, settings.pools)
    seen = result.seen_ip
    if result.pool:
        seen = _("{address} (pool “{pool}”)").format(address=seen, pool=result.pool.name)
    if result.expected is None:
        result.status = "ok"
        result.summary = _("SMTP leaves from {address}, as {reference} sees it").format(
            address=seen, reference=result.reference
        )
    elif result.seen_ip == result.expected:
        result.matches = True
        result.status = "ok"
        result.summary = _("SMTP leaves from {address}, the expected egress address").format(
            address=seen
        )
    else:
        result.matches = False
        result.status = "fail"
        result.summary = _("SMTP leaves from {address}, not the expected {expected}").format(
            address=seen, expected=result.expected
        )
        result.advice = [
            Advice(
                _(
                    "SMTP does not leave through the dedicated address {expected}: the far "
                    "side sees {seen}. Add or fix the egress rule for SMTP so it uses the "
                    "dedicated address (guide step 2)."
                ).format(expected=result.expected, seen=result.seen_ip)
            )
        ]
    if result.pool is not None:
        pbl = result.pool.pbl_advice()
        if pbl is not None:
            result.advice.append(pbl)
    return result
