"""DMARC: the policy that applies to a mail domain, found by RFC 9989's DNS tree walk.

Why a tree walk: RFC 9989 (DMARCbis) replaced the public suffix list of RFC 7489 with
records in the DNS itself. A domain without its own record inherits the one of its
Organizational Domain (`sp`, or `np` when the name does not exist), which the walk finds
among the parents, and a Public Suffix Operator marks its boundary with `psd=y`. The walk
is at most 8 names, known in advance, so they are all asked at once: one round trip.

With an address, SPF is evaluated for the envelope sender and checked for *alignment*
with the domain (relaxed: the same Organizational Domain; `aspf=s`: the same name), since
only an aligned pass counts for DMARC.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field

from handlers.dmarc_record import RFC, DmarcRecord, DmarcWarning, is_dmarc, parse_record
from handlers.dns.resolver import Answer, Resolver
from handlers.i18n import _
from handlers.results import Advice, CheckResult, problem_and_fix, worst
from handlers.settings import Settings
from handlers.spf import SpfResult, check_spf, normalise_domain

#: RFC 9989 section 4.10: a walk never asks more than this many names.
MAX_QUERIES = 8
#: Names with this many labels or more skip straight to their last 7 labels.
SHORTCUT_LABELS = 8
SETUP_URL = "https://support.google.com/a/answer/2466563"


@dataclass
class DmarcResult(CheckResult):
    """The DMARC policy that applies to `domain`, where it was found, and SPF alignment."""

    domain: str | None = None
    record: str | None = None
    #: The domain whose `_dmarc` record applies (the domain, its Organizational Domain or PSD).
    found_at: str | None = None
    org_domain: str | None = None
    #: The policy for `domain` itself: none, quarantine, reject; None when no DMARC applies.
    policy: str | None = None
    #: Which tag gave `policy`: p (the domain's own record), sp, or np (a name that does not exist).
    policy_tag: str | None = None
    #: Whether SPF passes for the address and its domain aligns; None without an address.
    spf_aligned: bool | None = None
    rua: list[str] = field(default_factory=list)
    warnings: list[DmarcWarning] = field(default_factory=list)
    aspf: str | None = None
    testing: bool = False
    #: The `_dmarc` names asked, in walk order.
    walked: list[str] = field(default_factory=list)
    #: False when the domain does not exist (NXDOMAIN); None when not needed or not known.
    exists: bool | None = None
    #: The envelope (MAIL FROM) domain SPF was evaluated for, and its SPF result.
    spf_domain: str | None = None
    spf_result: str | None = None


@dataclass
class Discovery:
    """What the tree walk found for one domain."""

    domain: str
    walked: list[str]
    #: Single DMARC records found, longest name first (after the walk's stop rule).
    found: list[tuple[str, DmarcRecord]] = field(default_factory=list)
    #: Names that publish more than one DMARC record (receivers discard them all).
    multiple: list[str] = field(default_factory=list)
    #: Records that start like DMARC but not with exactly v=DMARC1 (ignored by receivers).
    ignored: list[tuple[str, DmarcRecord]] = field(default_factory=list)
    org_domain: str = ""
    #: The name and answer of a walk question that got no definite answer.
    failure: tuple[str, Answer] | None = None

    def record_at(self, name: str) -> DmarcRecord | None:
        return next((r for n, r in self.found if n == name), None)


def walk_names(domain: str) -> list[str]:
    """The names whose `_dmarc` record the walk reads, in order (RFC 9989 section 4.10)."""
    labels = domain.split(".")
    names = [domain]
    rest = labels[-(SHORTCUT_LABELS - 1) :] if len(labels) >= SHORTCUT_LABELS else labels[1:]
    while rest:
        names.append(".".join(rest))
        rest = rest[1:]
    return names[:MAX_QUERIES]


async def discover(domain: str, resolver: Resolver) -> Discovery:
    """Walk the tree for `domain` (asking every name at once) and pick its Organizational Domain."""
    names = walk_names(domain)
    answers = await asyncio.gather(*(resolver.lookup(f"_dmarc.{n}", "TXT") for n in names))
    discovery = Discovery(domain, [f"_dmarc.{n}" for n in names])
    for index, (name, answer) in enumerate(zip(names, answers, strict=True)):
        if not answer.definite:
            discovery.failure = (name, answer)
            break
        texts = [t for t in answer.records if is_dmarc(t)] if answer.outcome == "answer" else []
        parsed = [parse_record(t, name) for t in texts]
        valid = [r for r in parsed if not any(w.code == "version" for w in r.warnings)]
        discovery.ignored.extend((name, r) for r in parsed if r not in valid)
        if len(valid) > 1:
            discovery.multiple.append(name)
            continue
        if not valid:
            continue
        record = valid[0]
        discovery.found.append((name, record))
        if record.psd == "n" or (index > 0 and record.psd == "y"):
            break
    discovery.org_domain = _org_domain(domain, discovery.found)
    return discovery


def _org_domain(domain: str, found: list[tuple[str, DmarcRecord]]) -> str:
    """RFC 9989 section 4.10.2: psd=n marks it, psd=y marks the name below, else the shortest."""
    labels = domain.split(".")
    for name, record in found:
        if record.psd == "n":
            return name
        if record.psd == "y" and name != domain:
            return ".".join(labels[-(name.count(".") + 2) :])
    return found[-1][0] if found else domain


def aligned(spf_domain: str, spf_org: str, domain: str, org: str, mode: str) -> bool:
    """DMARC identifier alignment of an SPF-authenticated domain with the mail domain."""
    if mode == "s":
        return spf_domain == domain
    return spf_org == org


async def check_dmarc(
    domain: str | None,
    ip: str | None,
    resolver: Resolver,
    settings: Settings,
    *,
    sender: str | None = None,
    helo: str | None = None,
    spf: Awaitable[SpfResult] | None = None,
) -> DmarcResult:
    """The DMARC policy of `domain`; with `ip`, whether SPF for that sender passes aligned.

    `spf`: an SPF evaluation already under way for the same sender (the full check runs
    one anyway); without it, one is run here. `sender` is the envelope sender (MAIL FROM,
    default postmaster@domain).
    """
    if not domain:
        return DmarcResult(
            "skipped",
            _("DMARC not checked: no mail domain given. Give it: /smtpcheck IP example.com"),
        )
    name = normalise_domain(domain)
    if name is None:
        return DmarcResult(
            "warn",
            _("'{domain}' is not a valid domain name, so it can have no DMARC record").format(
                domain=domain
            ),
            domain=domain,
        )
    if ip is not None and spf is None:
        spf = check_spf(name, ip, resolver, settings, sender=sender, helo=helo)
    exists_job = asyncio.ensure_future(resolver.lookup(name, "A"))
    discovery, spf_result = await asyncio.gather(
        discover(name, resolver), spf if spf is not None else _none()
    )
    exists_answer = await exists_job
    result = _result(name, discovery, exists_answer)
    if spf_result is not None:
        await _alignment(result, discovery, spf_result, resolver)
    _finish(result, discovery)
    return result


async def _none() -> None:
    return None


def _result(domain: str, discovery: Discovery, exists: Answer) -> DmarcResult:
    out = DmarcResult(
        "ok", "", domain=domain, org_domain=discovery.org_domain, walked=discovery.walked
    )
    for name in discovery.multiple:
        out.warnings.append(
            DmarcWarning(
                "multiple_records",
                _("_dmarc.{name} publishes more than one DMARC record").format(name=name),
                _("Receivers discard all of them (RFC 9989 section 4.10), as if there were none."),
                _(
                    "Keep exactly one TXT record starting with v=DMARC1 at that name; merge the others into it."
                ),
                f"{RFC}#section-4.10",
                severity="fail",
            )
        )
    for _name, record in discovery.ignored:
        out.warnings.extend(w for w in record.warnings if w.code == "version")
    if discovery.failure is not None:
        name, answer = discovery.failure
        out.status = "error"
        out.summary = _("Could not read the DMARC record at _dmarc.{name}: {error}").format(
            name=name, error=answer.detail or answer.outcome
        )
        return out
    own = discovery.found[0][1] if discovery.found and discovery.found[0][0] == domain else None
    chosen: tuple[str, DmarcRecord] | None = None
    if own is not None:
        chosen, out.policy_tag = (domain, own), "p"
    else:
        org = discovery.record_at(discovery.org_domain)
        psd = next(((n, r) for n, r in discovery.found if r.psd == "y"), None)
        if org is not None:
            chosen = (discovery.org_domain, org)
        elif psd is not None:
            chosen = psd
        if chosen is not None:
            out.exists = exists.outcome != "nxdomain" if exists.definite else None
            out.policy_tag = "np" if out.exists is False else "sp"
    if chosen is None:
        return out
    where, record = chosen
    out.found_at, out.record, out.rua = where, record.text, list(record.rua)
    out.aspf, out.testing = record.aspf, record.testing
    out.warnings.extend(w for w in record.warnings if w.code != "version")
    out.policy = applied_policy(record, out.policy_tag or "p")
    return out


def applied_policy(record: DmarcRecord, tag: str) -> str | None:
    """The policy `tag` (p, sp, np) gives, with RFC 9989's fallbacks; None: no DMARC applies."""
    if record.policy_invalid:
        return "none" if record.usable_rua else None
    if tag == "np":
        return record.np or record.sp or record.p
    if tag == "sp":
        return record.sp or record.p
    return record.p


async def _alignment(
    result: DmarcResult, discovery: Discovery, spf: SpfResult, resolver: Resolver
) -> None:
    spf_domain = (spf.domain or result.domain or "").lower()
    result.spf_domain, result.spf_result = spf_domain, spf.result
    if spf.result in (None, "temperror"):
        return  # SPF could not be evaluated: alignment is unknown, not failed
    if spf.result != "pass":
        result.spf_aligned = False
        return
    mode = result.aspf or "r"
    org = discovery.org_domain
    if spf_domain == result.domain or mode == "s":
        spf_org = org if spf_domain == result.domain else ""
    else:
        spf_org = (await discover(spf_domain, resolver)).org_domain
    result.spf_aligned = aligned(spf_domain, spf_org, result.domain or "", org, mode)


def _finish(out: DmarcResult, discovery: Discovery) -> None:
    """Status, summary and advice from what was found (INTERFACE.md's DMARC rules)."""
    if out.status == "error":
        return
    domain = out.domain or ""
    org = discovery.org_domain
    publish_text = (
        _(
            "Publish a DMARC record: TXT at _dmarc.{org} with "
            "'v=DMARC1; p=none; rua=mailto:dmarc-reports@{org}' (start at p=none, read the "
            "reports, then move to quarantine and reject); a record at the registered domain "
            "covers its subdomains too."
        )
        if out.found_at is None and "." in org.split(".", 1)[1]
        else _(
            "Publish a DMARC record: TXT at _dmarc.{org} with "
            "'v=DMARC1; p=none; rua=mailto:dmarc-reports@{org}' (start at p=none, read the "
            "reports, then move to quarantine and reject)."
        )
    )
    publish = Advice(publish_text.format(org=org), SETUP_URL)
    if out.found_at is None:
        out.status = worst([w.severity for w in out.warnings] + ["warn"])
        said = (
            _(
                "No DMARC record for {domain} or any parent domain: Gmail, Yahoo and Microsoft "
                "require at least p=none from bulk senders"
            )
            if len(discovery.walked) > 1
            else _(
                "No DMARC record for {domain}: Gmail, Yahoo and Microsoft require at least "
                "p=none from bulk senders"
            )
        )
        out.summary = said.format(domain=domain)
        out.advice = [*_warning_advice(out.warnings), publish]
        return
    if out.policy is None:
        out.status = "fail"
        out.summary = _("The DMARC record at _dmarc.{name} is ignored by receivers: {why}").format(
            name=out.found_at, why=_worst_text(out.warnings) or _("it is invalid")
        )
        out.advice = [*_warning_advice(out.warnings), publish]
        return
    out.status = worst([w.severity for w in out.warnings])
    if out.policy_tag == "np":
        said = _("DMARC policy of {domain}: {policy} (np of {found_at}: {domain} does not exist)")
    elif out.found_at != domain:
        said = _("DMARC policy of {domain}: {policy} (inherited from {found_at})")
    else:
        said = _("DMARC policy of {domain}: {policy}")
    out.summary = said.format(domain=domain, policy=out.policy, found_at=out.found_at)
    if out.spf_aligned is True:
        out.summary += "; " + _("SPF passes aligned")
    elif out.spf_aligned is False:
        if out.spf_result != "pass":
            why = _("SPF {result} for {domain}").format(
                result=out.spf_result, domain=out.spf_domain
            )
        elif out.aspf == "s":
            why = _("SPF passes for {domain}, which is not aligned (aspf=s)").format(
                domain=out.spf_domain
            )
        else:
            why = _("SPF passes for {domain}, which is not aligned").format(domain=out.spf_domain)
        out.summary += "; " + why
        if out.policy in ("quarantine", "reject"):
            out.status = worst([out.status, "warn"])
            out.advice.append(
                Advice(
                    (
                        _(
                            "With p={policy}, mail from this server passes DMARC only with an "
                            "aligned DKIM signature (d={org} or a subdomain, exactly d={domain}). "
                            "Sign its mail with DKIM, or make SPF pass for an envelope domain "
                            "equal to {domain}."
                        )
                        if out.aspf == "s"
                        else _(
                            "With p={policy}, mail from this server passes DMARC only with an "
                            "aligned DKIM signature (d={org} or a subdomain). Sign its mail with "
                            "DKIM, or make SPF pass for an envelope domain under {org}."
                        )
                    ).format(policy=out.policy, org=org, domain=domain),
                    f"{RFC}#section-4.4",
                )
            )
    problems = [w for w in out.warnings if w.severity != "ok"]
    if problems:
        out.summary += "; " + _worst_text(out.warnings)
    out.advice = [*out.advice, *_warning_advice(out.warnings)]


def _worst_text(warnings: list[DmarcWarning]) -> str:
    ranked = [w for w in warnings if w.severity == "fail"] or [
        w for w in warnings if w.severity == "warn"
    ]
    return ranked[0].text if ranked else ""


def _warning_advice(warnings: list[DmarcWarning]) -> list[Advice]:
    return [Advice(problem_and_fix(w.text, w.fix), w.url) for w in warnings if w.severity != "ok"]
