"""The MX check: where does mail for a domain go, and does each of those hosts answer SMTP?

A bounce that says "connection timed out" or "no MX" is about the recipient's side;
this check shows the MX hosts in the order senders try them (RFC 5321 5.1), the
implicit MX when there is none, the null MX of RFC 7505 ("this domain accepts no
mail"), and probes every host at the same time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from handlers.dns.resolver import Resolver
from handlers.i18n import N_, _, ngettext
from handlers.results import Advice, CheckResult, Status, worst
from handlers.settings import Settings
from handlers.smtp import SmtpResult, probe_smtp


@dataclass
class MxHost:
    """One row of the MX table; the full probe stays in `probe` for renderers that want it."""

    preference: int
    host: str
    addresses: list[str]
    status: Status
    summary: str
    failure: str | None
    connect_ms: float | None
    starttls: bool
    tls_version: str | None
    certificate_ok: bool | None
    banner: str | None
    probe: SmtpResult | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "preference": self.preference,
            "host": self.host,
            "addresses": list(self.addresses),
            "status": self.status,
            "summary": self.summary,
            "failure": self.failure,
            "connect_ms": self.connect_ms,
            "starttls": self.starttls,
            "tls_version": self.tls_version,
            "certificate_ok": self.certificate_ok,
            "banner": self.banner,
        }


@dataclass
class MxResult(CheckResult):
    """The domain's mail hosts, most preferred first, each with its probe's outcome."""

    domain: str
    #: No MX records: the domain's own A/AAAA is the mail host (RFC 5321 5.1).
    implicit: bool = False
    #: RFC 7505 null MX: the domain says it accepts no mail.
    null_mx: bool = False
    port: int = 25
    hosts: list[MxHost] = field(default_factory=list)
    #: MX records beyond `Settings.mx_max_hosts`, not probed.
    not_probed: list[str] = field(default_factory=list)


async def check_mx(domain: str, resolver: Resolver, settings: Settings) -> MxResult:
    """Look up `domain`'s MX records and probe each host concurrently."""
    domain = domain.strip().rstrip(".").lower()
    port = settings.smtp_port_override or 25
    result = MxResult(status="error", summary="", domain=domain, port=port)
    answer = await resolver.lookup(domain, "MX")
    if answer.outcome == "nxdomain":
        result.status = "fail"
        result.summary = _(
            "{domain} does not exist (NXDOMAIN): no mail can be delivered to it"
        ).format(domain=domain)
        result.advice = [
            Advice(
                _("The domain {domain} does not exist: check the recipient address.").format(
                    domain=domain
                )
            )
        ]
        return result
    if answer.outcome not in ("answer", "nodata"):
        result.summary = _("The MX lookup for {domain} failed ({outcome})").format(
            domain=domain, outcome=answer.outcome
        )
        result.advice = [
            Advice(
                _("The DNS did not answer for {domain}'s MX: try again later.").format(
                    domain=domain
                )
            )
        ]
        return result

    records = _parse(answer.records) if answer.outcome == "answer" else []
    null = [r for r in records if r[1] == "."]
    records = [r for r in records if r[1] != "."]
    if null and not records:
        result.null_mx = True
        result.status = "fail"
        result.summary = _("{domain} publishes a null MX (RFC 7505): it accepts no mail").format(
            domain=domain
        )
        result.advice = [
            Advice(
                _(
                    "{domain} says it receives no mail at all (null MX, RFC 7505), so every "
                    "message to it bounces by design: check the recipient's address or domain."
                ).format(domain=domain)
            )
        ]
        return result
    if not records:
        result.implicit = True
        records = [(0, domain)]
    records.sort()
    limit = max(settings.mx_max_hosts, 1)
    result.not_probed = [f"{p} {h}" for p, h in records[limit:]]
    records = records[:limit]

    probes = await asyncio.gather(
        *(probe_smtp(h, port, resolver, settings) for _pref, h in records)
    )
    result.hosts = [
        _row(pref, host, _dangling(domain, host, probe))
        for (pref, host), probe in zip(records, probes, strict=True)
    ]
    _judge(result, mixed_null=bool(null))
    return result


def _parse(records: tuple[str, ...]) -> list[tuple[int, str]]:
    parsed: list[tuple[int, str]] = []
    for record in records:
        preference, _sep, host = record.partition(" ")
        if preference.isdigit() and host:
            parsed.append((int(preference), host.lower().rstrip(".") or "."))
    return parsed


_DANGLING = (N_("the name does not exist"), N_("the name has no address"))


def _dangling(domain: str, host: str, probe: SmtpResult) -> SmtpResult:
    """An MX host whose name does not resolve is the domain's mistake: fail, fix the record.

    A lookup that failed (timeout, SERVFAIL) stays an error: nothing is known about it.
    """
    if probe.failure != "dns" or not any(_(words) in probe.summary for words in _DANGLING):
        return probe
    probe.status = "fail"
    probe.summary = _("{host}: the MX record points at a name with no address").format(host=host)
    probe.advice = [
        Advice(
            _(
                "Fix the MX record of {domain}: it names {host}, which has no A or AAAA record, "
                "so senders cannot deliver through it. Point the MX at the mail server's real "
                "name, or give that name its address."
            ).format(domain=domain, host=host)
        )
    ]
    return probe


def _row(preference: int, host: str, probe: SmtpResult) -> MxHost:
    return MxHost(
        preference=preference,
        host=host,
        addresses=list(probe.addresses),
        status=probe.status,
        summary=probe.summary,
        failure=probe.failure,
        connect_ms=probe.connect_ms,
        starttls=probe.starttls,
        tls_version=probe.tls.version if probe.tls else None,
        certificate_ok=probe.tls.certificate_ok if probe.tls else None,
        banner=probe.banner.splitlines()[0] if probe.banner else None,
        probe=probe,
    )


def _judge(result: MxResult, mixed_null: bool) -> None:
    """All hosts down: fail (error when none could be probed); some down: warn."""
    hosts = result.hosts
    working = [h for h in hosts if h.failure is None or h.status == "warn"]
    seen: set[Advice] = set()
    for host in hosts:
        for item in host.probe.advice if host.probe else []:
            if item not in seen:
                seen.add(item)
                result.advice.append(item)
    if not working:
        result.status = worst(h.status for h in hosts)
        said = (
            ngettext(
                "{domain}: no implicit MX host (no MX records; the domain's own address) "
                "answers SMTP on port {port} ({tried} tried): mail to it cannot be delivered",
                "{domain}: no implicit MX host (no MX records; the domain's own address) "
                "answers SMTP on port {port} ({tried} tried): mail to it cannot be delivered",
                len(hosts),
            )
            if result.implicit
            else ngettext(
                "{domain}: no MX host answers SMTP on port {port} ({tried} tried): "
                "mail to it cannot be delivered",
                "{domain}: no MX host answers SMTP on port {port} ({tried} tried): "
                "mail to it cannot be delivered",
                len(hosts),
            )
        )
        result.summary = said.format(domain=result.domain, port=result.port, tried=len(hosts))
    else:
        down = len(hosts) - len(working)
        result.status = "warn" if down else worst(h.status for h in hosts)
        said = (
            ngettext(
                "{domain}: {n} of {total} implicit MX hosts (no MX records; the domain's own "
                "address) answers SMTP",
                "{domain}: {n} of {total} implicit MX hosts (no MX records; the domain's own "
                "address) answer SMTP",
                len(working),
            )
            if result.implicit
            else ngettext(
                "{domain}: {n} of {total} MX hosts answers SMTP",
                "{domain}: {n} of {total} MX hosts answer SMTP",
                len(working),
            )
        )
        result.summary = said.format(domain=result.domain, n=len(working), total=len(hosts))
        if down:
            result.summary += "; " + ngettext(
                "{n} does not (senders retry the others, with delay)",
                "{n} do not (senders retry the others, with delay)",
                down,
            ).format(n=down)
    if mixed_null:
        result.status = worst([result.status, "warn"])
        result.summary += "; " + _(
            "a null MX is mixed with real MX records (RFC 7505 forbids that)"
        )
        result.advice.append(
            Advice(
                _(
                    "{domain} publishes the null MX '0 .' next to real MX records: remove it."
                ).format(domain=result.domain)
            )
        )
    if result.not_probed:
        result.summary += "; " + ngettext(
            "{n} more MX record not probed",
            "{n} more MX records not probed",
            len(result.not_probed),
        ).format(n=len(result.not_probed))
