"""From a parsed command to reports: the one place Slack and the terminal share.

Host names are resolved here (after Slack has been acknowledged) and every address
they have is checked. Problems with what the person typed come back as `UsageError`
with one sentence; everything else is a report.

Each command's handler is imported when that command runs: `smtpcheck bl IP` as a
monitoring check every minute must not pay for the SMTP/TLS stack, the bounce patterns
or Prometheus.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time

from bot import tally
from bot.grammar import (
    Bounce,
    Check,
    Command,
    Dkim,
    Dmarc,
    Egress,
    Mx,
    Range,
    Smtp,
    Spf,
    UsageError,
)
from handlers.check import apply_pool, full_check
from handlers.dns.priority import first_wave
from handlers.dns.resolver import Resolver
from handlers.i18n import _
from handlers.ranges import TERMINAL_MIN_PREFIX, Progress, check_range
from handlers.report import Report
from handlers.resolver_health import all_failed, check_resolver
from handlers.results import CheckResult, worst
from handlers.settings import Settings
from handlers.targets import non_global_reason, reason_phrase

#: Most addresses of one host name that are checked (INTERFACE.md).
MAX_ADDRESSES = 32


def address_order(addresses: list[str]) -> list[str]:
    """IPv4 first, then IPv6, each in numeric order: the same order whatever DNS shuffled."""
    unique = {ipaddress.ip_address(a) for a in addresses}
    return [str(ip) for ip in sorted(unique, key=lambda ip: (ip.version, int(ip)))]


class Unresolved(UsageError):
    """A name the DNS did not answer for (not one that does not exist): maybe the resolver is down."""


async def addresses_of(name: str, resolver: Resolver, shown: str | None = None) -> list[str]:
    """Every A and AAAA address of `name` in address order, or UsageError saying why none.

    `shown`: the name as the person typed it (an IDN), which the sentences use; DNS is
    asked `name`, its A-label.
    """
    a, aaaa = await asyncio.gather(resolver.lookup(name, "A"), resolver.lookup(name, "AAAA"))
    name = shown or name  # from here on, the name as said to the person
    found = address_order([*a.records, *aaaa.records])
    if found:
        return found
    if "timeout" in (a.outcome, aaaa.outcome):
        raise Unresolved(
            _("{name} could not be resolved: the resolver did not answer in time.").format(
                name=name
            )
        )
    if a.outcome in ("servfail", "refused", "error"):
        raise Unresolved(
            _("{name} could not be resolved: {value}.").format(
                name=name, value=a.detail or a.outcome
            )
        )
    if a.outcome == "nxdomain":
        raise UsageError(_("{name} does not resolve: the name does not exist.").format(name=name))
    raise UsageError(_("{name} does not resolve: it has no A or AAAA record.").format(name=name))


async def public_addresses_of(
    name: str, resolver: Resolver, shown: str | None = None
) -> tuple[list[str], list[str]]:
    """(public addresses to check, notes about the ones left out), said with `shown`."""
    found = await addresses_of(name, resolver, shown)
    name = shown or name
    public, notes = [], []
    for text in found:
        reason = non_global_reason(ipaddress.ip_address(text))
        if reason:
            notes.append(
                _("{name} also resolves to {address}, {kind}, which was not checked.").format(
                    name=name, address=text, kind=reason_phrase(reason)
                )
            )
        else:
            public.append(text)
    if not public:
        kinds = ", ".join(found)
        raise UsageError(
            _("{name} resolves only to addresses that are not public ({kinds}).").format(
                name=name, kinds=kinds
            )
        )
    if len(public) > MAX_ADDRESSES:
        notes.append(
            _(
                "{name} has {n} addresses; the first {most} in address order (IPv4 first) "
                "were checked."
            ).format(name=name, n=len(public), most=MAX_ADDRESSES)
        )
        public = public[:MAX_ADDRESSES]
    return public, notes


async def run_check(command: Check, resolver: Resolver, settings: Settings) -> list[Report]:
    """A full (or blocklist-only, PTR-only) check; one report per address of a host name."""
    if not command.is_hostname:
        report = await full_check(
            command.target, command.domain, resolver, settings, scope=command.scope
        )
        report.notes[:0] = command.notes
        return [report]
    addresses, notes = await public_addresses_of(command.target, resolver, command.display)
    hostname = command.display or command.target
    reports = await asyncio.gather(
        *(
            full_check(
                ip, command.domain, resolver, settings, scope=command.scope, hostname=hostname
            )
            for ip in addresses
        )
    )
    for report in reports:
        report.notes.extend([*command.notes, *notes])
    return list(reports)


def _single(
    target: str, name: str, result: CheckResult, resolver: Resolver, started: float
) -> Report:
    return Report(
        target=target,
        checks={name: result},
        duration_ms=(time.perf_counter() - started) * 1000,
        resolver=resolver.description,
    )


async def run_spf(command: Spf, resolver: Resolver, settings: Settings) -> list[Report]:
    from handlers.spf import check_spf

    started = time.perf_counter()
    result = await check_spf(
        command.domain, command.ip, resolver, settings, sender=command.sender, helo=command.helo
    )
    shown = command.display or command.domain
    report = _single(shown, "spf", result, resolver, started)
    if result.domain and result.domain != command.domain:
        # The envelope sender decides the domain SPF is about (RFC 7208 section 2.4).
        report.target = result.domain
        report.notes.append(
            _(
                "The envelope sender {sender} decides the domain: SPF was checked for {domain}, "
                "not {shown}."
            ).format(sender=command.sender, domain=result.domain, shown=shown)
        )
    return [report]


async def run_dmarc(command: Dmarc, resolver: Resolver, settings: Settings) -> list[Report]:
    """DMARC of a domain; with an address, SPF for that sender too (the alignment needs it)."""
    from handlers.dmarc import check_dmarc
    from handlers.spf import check_spf

    started = time.perf_counter()
    checks: dict[str, CheckResult] = {}
    if command.ip is not None:
        spf = asyncio.ensure_future(
            check_spf(
                command.domain,
                command.ip,
                resolver,
                settings,
                sender=command.sender,
                helo=command.helo,
            )
        )
        dmarc = await check_dmarc(command.domain, command.ip, resolver, settings, spf=spf)
        checks = {"dmarc": dmarc, "spf": await spf}
    else:
        checks = {"dmarc": await check_dmarc(command.domain, None, resolver, settings)}
    report = _single(command.domain, "dmarc", checks["dmarc"], resolver, started)
    report.checks = checks
    return [report]


async def run_dkim(command: Dkim, resolver: Resolver, settings: Settings) -> list[Report]:
    from handlers.dkim import check_dkim

    started = time.perf_counter()
    result = await check_dkim(command.domain, list(command.selectors) or None, resolver)
    return [_single(command.domain, "dkim", result, resolver, started)]


async def run_smtp(command: Smtp, resolver: Resolver, settings: Settings) -> list[Report]:
    """Probe one SMTP server; the report's target is what the person typed."""
    from handlers.smtp import probe_smtp

    started = time.perf_counter()
    result = await probe_smtp(command.host, command.port, resolver, settings)
    report = _single(command.display or command.host, "smtp", result, resolver, started)
    if result.address:
        pool_report = Report(target=result.address, checks={})
        apply_pool(pool_report, settings)
        report.notes.extend(pool_report.notes)
        report.pool = pool_report.pool
    return [report]


async def run_mx(command: Mx, resolver: Resolver, settings: Settings) -> list[Report]:
    from handlers.mx import check_mx

    started = time.perf_counter()
    result = await check_mx(command.domain, resolver, settings)
    return [_single(command.display or command.domain, "mx", result, resolver, started)]


async def run_egress(command: Egress, resolver: Resolver, settings: Settings) -> list[Report]:
    """Learn the address SMTP leaves from, then run the full check on it."""
    from handlers.egress import check_egress

    started = time.perf_counter()
    egress = await check_egress(command.expected, resolver, settings)
    if egress.seen_ip is None or non_global_reason(ipaddress.ip_address(egress.seen_ip)):
        return [_single(command.expected or "egress", "egress", egress, resolver, started)]
    report = await full_check(egress.seen_ip, None, resolver, settings)
    report.checks = {"egress": egress, **report.checks}
    report.duration_ms = (time.perf_counter() - started) * 1000
    return [report]


async def run_bounce(text: str, resolver: Resolver, settings: Settings) -> list[Report]:
    """Explain a pasted bounce, then check what it names.

    Every sending address gets the full check, with SPF, DMARC and DKIM for the mail domain
    the bounce names; with no address, the domain's records are reviewed (all three for an
    authentication rejection, SPF otherwise). A list the bounce cites
    that is clean by the live check is said to be "listed then, clean now". Text with no
    address and no known rejection is bad input: one sentence, never a guess.
    """
    from handlers.bounce import compare_with_live, explain_bounce
    from handlers.dnsbl import DnsblResult
    from handlers.spf import check_spf

    started = time.perf_counter()
    bounce = explain_bounce(text)
    if not bounce.found:
        raise UsageError(_("{summary}.").format(summary=bounce.summary))
    domain = bounce.domain
    selectors = bounce.selectors_for(domain) if domain else []
    if not bounce.ips:
        report = _single(domain or "bounce", "bounce", bounce, resolver, started)
        if domain and bounce.kind in AUTHENTICATION_KINDS:
            report.checks.update(await _domain_checks(domain, selectors, resolver, settings))
        elif domain and bounce.kind != "recipient":
            report.checks["spf"] = await check_spf(domain, None, resolver, settings)
        return [report]
    reports = await asyncio.gather(
        *(
            full_check(ip, domain, resolver, settings, selectors=selectors or None)
            for ip in bounce.ips[:MAX_ADDRESSES]
        )
    )
    for report in reports:
        said = bounce
        dnsbl = report.checks.get("dnsbl")
        if isinstance(dnsbl, DnsblResult):
            listed = [item.zone for item in dnsbl.listed]
            policy = any(item.kind == "policy" for item in dnsbl.listed)
            said = compare_with_live(
                bounce, report.target, listed, dnsbl.clean, policy_listed=policy
            )
        report.checks = {"bounce": said, **report.checks}
        report.duration_ms = (time.perf_counter() - started) * 1000
    return list(reports)


#: Bounce kinds about the domain's authentication: with no address, its records are read.
AUTHENTICATION_KINDS = frozenset({"spf", "dkim", "dmarc"})


async def _domain_checks(
    domain: str, selectors: list[str], resolver: Resolver, settings: Settings
) -> dict[str, CheckResult]:
    """SPF (record review), DMARC and DKIM of a bounce's domain, all at once."""
    from handlers.dkim import check_dkim
    from handlers.dmarc import check_dmarc
    from handlers.spf import check_spf

    spf, dmarc, dkim = await asyncio.gather(
        check_spf(domain, None, resolver, settings),
        check_dmarc(domain, None, resolver, settings),
        check_dkim(domain, selectors or None, resolver),
    )
    return {"spf": spf, "dmarc": dmarc, "dkim": dkim}


async def run_range(
    command: Range, resolver: Resolver, settings: Settings, progress: Progress | None = None
) -> list[Report]:
    """Blocklists for every address of a range: one report whose `range` check holds the table."""
    started = time.perf_counter()
    # The front end's grammar already held the range to its own limit (/24 in Slack).
    result = await check_range(
        command.network, resolver, settings, progress, min_prefix=TERMINAL_MIN_PREFIX
    )
    return [_single(command.network, "range", result, resolver, started)]


def kind_of(command: Command) -> str:
    """The command's kind for metrics: the check scope for Check, else the verb."""
    if isinstance(command, Check):
        return command.scope
    return type(command).__name__.lower()


async def refuse_early(command: Command, resolver: Resolver) -> None:
    """The UsageError `run` would raise, for what is known before any check is started.

    A host name that does not resolve (or only to addresses that are not public) and a
    bounce that names nothing are bad input: Slack tells the person alone, and nothing is
    posted in the channel first. The name's answer stays in the resolver's cache for the
    check. A resolver that does not answer is not bad input: `run` names it.
    """
    started = time.perf_counter()
    try:
        if isinstance(command, Check) and command.is_hostname:
            await public_addresses_of(command.target, resolver, command.display)
        elif isinstance(command, Bounce):
            from handlers.bounce import explain_bounce

            bounce = explain_bounce(command.text)
            if not bounce.found:
                raise UsageError(_("{summary}.").format(summary=bounce.summary))
    except Unresolved:
        return
    except UsageError:
        tally.record_check(kind_of(command), "bad_input", time.perf_counter() - started)
        raise


async def run(
    command: Command,
    resolver: Resolver,
    settings: Settings,
    progress: Progress | None = None,
) -> list[Report]:
    """Run a checking command and count it in the metrics.

    Watch, history and help are the caller's (they need storage or no DNS). `progress`
    is called as (done, total) by commands that take a while (ranges).
    """
    started = time.perf_counter()
    first_wave()  # a command started now: its questions queue behind earlier commands'
    try:
        reports = await _dispatch(command, resolver, settings, progress)
    except Unresolved:
        down = await _resolver_down(command, resolver, started)
        if down is None:
            tally.record_check(kind_of(command), "bad_input", time.perf_counter() - started)
            raise
        reports = [down]
    except UsageError:
        tally.record_check(kind_of(command), "bad_input", time.perf_counter() - started)
        raise
    else:
        if all_failed([c.status for r in reports for c in r.checks.values()]):
            down = await _resolver_down(command, resolver, started)
            reports = [down] if down is not None else reports
    verdict = worst(r.verdict for r in reports)
    tally.record_check(kind_of(command), verdict, time.perf_counter() - started)
    return reports


async def _resolver_down(command: Command, resolver: Resolver, started: float) -> Report | None:
    """One report naming the resolver when it is what failed, instead of blaming every check."""
    result = await check_resolver(resolver)
    if result is None:
        return None
    target = next(
        (
            str(getattr(command, a))
            for a in ("target", "network", "domain", "host")
            if getattr(command, a, None)
        ),
        "resolver",
    )
    return _single(target, "resolver", result, resolver, started)


async def _dispatch(
    command: Command, resolver: Resolver, settings: Settings, progress: Progress | None
) -> list[Report]:
    if isinstance(command, Range):
        return await run_range(command, resolver, settings, progress)
    if isinstance(command, Check):
        return await run_check(command, resolver, settings)
    if isinstance(command, Spf):
        return await run_spf(command, resolver, settings)
    if isinstance(command, Dmarc):
        return await run_dmarc(command, resolver, settings)
    if isinstance(command, Dkim):
        return await run_dkim(command, resolver, settings)
    if isinstance(command, Smtp):
        return await run_smtp(command, resolver, settings)
    if isinstance(command, Mx):
        return await run_mx(command, resolver, settings)
    if isinstance(command, Egress):
        return await run_egress(command, resolver, settings)
    if isinstance(command, Bounce):
        return await run_bounce(command.text, resolver, settings)
    raise TypeError(f"{type(command).__name__} is not a checking command")
