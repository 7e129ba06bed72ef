"""From a parsed command to reports: the one place Slack and the terminal share.

Host names are resolved here (after Slack has been acknowledged) and every address
they have is checked. Problems with what the person typed come back as `UsageError`
with one sentence; everything else is a report.
"""

from __future__ import annotations

import asyncio
import ipaddress

from bot.grammar import Bounce, Check, Command, Egress, Mx, Smtp, Spf, UsageError
from handlers.check import full_check
from handlers.report import Report
from handlers.resolver import Resolver
from handlers.settings import Settings
from handlers.targets import non_global_reason

MAX_ADDRESSES = 8


async def addresses_of(name: str, resolver: Resolver) -> list[str]:
    """Every A and AAAA address of `name`, or UsageError saying why there are none."""
    a, aaaa = await asyncio.gather(resolver.lookup(name, "A"), resolver.lookup(name, "AAAA"))
    found = [*a.records, *aaaa.records]
    if found:
        return found
    if "timeout" in (a.outcome, aaaa.outcome):
        raise UsageError(f"{name} could not be resolved: the resolver did not answer in time.")
    if a.outcome in ("servfail", "refused", "error"):
        raise UsageError(f"{name} could not be resolved: {a.detail or a.outcome}.")
    if a.outcome == "nxdomain":
        raise UsageError(f"{name} does not resolve: the name does not exist.")
    raise UsageError(f"{name} does not resolve: it has no A or AAAA record.")


async def public_addresses_of(name: str, resolver: Resolver) -> tuple[list[str], list[str]]:
    """(public addresses to check, notes about the ones left out)."""
    found = await addresses_of(name, resolver)
    public, notes = [], []
    for text in found:
        reason = non_global_reason(ipaddress.ip_address(text))
        if reason:
            notes.append(
                f"{name} also resolves to {text}, a {reason} address, which was not checked."
            )
        else:
            public.append(text)
    if not public:
        kinds = ", ".join(found)
        raise UsageError(f"{name} resolves only to addresses that are not public ({kinds}).")
    if len(public) > MAX_ADDRESSES:
        notes.append(f"{name} has {len(public)} addresses; the first {MAX_ADDRESSES} were checked.")
        public = public[:MAX_ADDRESSES]
    return public, notes


async def run_check(command: Check, resolver: Resolver, settings: Settings) -> list[Report]:
    """A full (or blocklist-only, PTR-only) check; one report per address of a host name."""
    if not command.is_hostname:
        return [
            await full_check(
                command.target, command.domain, resolver, settings, scope=command.scope
            )
        ]
    addresses, notes = await public_addresses_of(command.target, resolver)
    reports = await asyncio.gather(
        *(
            full_check(
                ip, command.domain, resolver, settings, scope=command.scope, hostname=command.target
            )
            for ip in addresses
        )
    )
    for report in reports:
        report.notes.extend(notes)
    return list(reports)


async def run_spf(command: Spf, resolver: Resolver, settings: Settings) -> list[Report]:
    from handlers.spf import check_spf

    result = await check_spf(
        command.domain, command.ip, resolver, settings, sender=command.sender, helo=command.helo
    )
    return [Report(target=command.domain, checks={"spf": result}, resolver=resolver.description)]


async def run(command: Command, resolver: Resolver, settings: Settings) -> list[Report]:
    """Run a checking command. Watch, history and help are the caller's (they need storage or no DNS)."""
    if isinstance(command, Check):
        return await run_check(command, resolver, settings)
    if isinstance(command, Spf):
        return await run_spf(command, resolver, settings)
    if isinstance(command, Smtp):
        return await _run_smtp(command, resolver, settings)
    if isinstance(command, Mx):
        return await _run_mx(command, resolver, settings)
    if isinstance(command, Egress):
        return await _run_egress(command, resolver, settings)
    if isinstance(command, Bounce):
        return await run_bounce(command.text, resolver, settings)
    raise TypeError(f"{type(command).__name__} is not a checking command")
