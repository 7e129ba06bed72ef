"""SPF: evaluate an address against a domain's record with pyspf, and review the record.

Why pyspf: SPF evaluation (macros, include/redirect semantics, CNAMEs, processing
limits) is subtle, and pyspf is the reference implementation of RFC 7208. Why our own
DNS under it: the nameservers the user configured must answer every lookup, answers
are shared with the other checks through one cache, and pyspf must never read
/etc/resolv.conf. pyspf is synchronous, so it runs in a worker thread; its module-level
`spf.DNSLookup` is replaced once by a dispatcher that hands each question back to the
event loop that owns our resolver (found through a thread-local binding).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import ipaddress
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import spf as pyspf

from handlers.dns.budget import QuestionBudget
from handlers.dns.priority import current_ticket
from handlers.dns.resolver import Resolver
from handlers.i18n import _, ngettext
from handlers.results import Advice, CheckResult, Status, problem_and_fix, rank, worst
from handlers.settings import Settings
from handlers.spf_review import MAX_LOOKUPS, RFC, SpfReview, SpfWarning, parse, review_spf

HOWTO_URL = f"{RFC}#section-5"

#: INTERFACE.md: how each SPF result maps to a status.
RESULT_STATUS: dict[str, Status] = {
    "pass": "ok",
    "fail": "fail",
    "softfail": "warn",
    "neutral": "warn",
    "none": "warn",
    "permerror": "fail",
    "temperror": "error",
}

#: The longest record written out whole in advice (a hostile one can be 64 kB).
MAX_RECORD_SHOWN = 512

#: RFC 7208 section 4.6.4 asks for an overall limit of about 20 seconds per evaluation.
QUERY_TIME = 20.0

_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")

DnsRecords = list[tuple[tuple[str, str], Any]]


@dataclass
class SpfResult(CheckResult):
    """SPF of `domain`: the evaluation for an address (when given) and the record review."""

    domain: str | None = None
    #: pass, fail, softfail, neutral, none, permerror, temperror; None when not evaluated.
    result: str | None = None
    record: str | None = None
    #: Every SPF record the domain publishes (more than one is a permerror).
    records: list[str] = field(default_factory=list)
    #: False when the domain does not exist (NXDOMAIN); None when not looked at.
    exists: bool | None = None
    explanation: str | None = None
    #: DNS-querying terms over the include/redirect tree (RFC 7208 limit: 10).
    lookups: int | None = None
    warnings: list[SpfWarning] = field(default_factory=list)
    ip: str | None = None
    sender: str | None = None
    helo: str | None = None
    #: The term that decided the result (e.g. `include:_spf.example.net`, `-all`).
    mechanism: str | None = None


# ---- pyspf's DNS, bound to our resolver -------------------------------------------------------


@dataclass(frozen=True)
class _Binding:
    #: The check's question budget over our resolver (shared with the record review).
    budget: QuestionBudget
    loop: asyncio.AbstractEventLoop
    #: Seconds a worker waits for one answer before giving up (a backstop; the resolver times out).
    wait: float
    #: The check's place at the resolver's cap (handlers.dns.priority): the worker thread
    #: asks through the loop, in tasks that do not belong to the check.
    ticket: int


_local = threading.local()

#: Threads pyspf evaluates in. Each one mostly waits for answers from the event loop, so
#: there are many: with the default executor's few threads, 200 commands at once queued
#: their SPF evaluations behind each other and every report waited for the last SPF.
_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="spf")


def _dns_lookup(
    name: str, qtype: str, tcpfallback: object = True, timeout: float = 0
) -> DnsRecords:
    """pyspf's `DNSLookup`: ask our resolver on its event loop; TempError for DNS failures."""
    del tcpfallback, timeout  # our resolver has its own timeout and falls back to TCP itself
    binding: _Binding | None = getattr(_local, "binding", None)
    if binding is None:
        raise pyspf.TempError(
            "DNS: no smtpcheck resolver bound (the system resolver is never used)"
        )
    try:
        future = asyncio.run_coroutine_threadsafe(
            binding.budget.lookup(name, qtype, ticket=binding.ticket), binding.loop
        )
        answer = future.result(timeout=binding.wait)
    except concurrent.futures.TimeoutError as exc:
        future.cancel()
        raise pyspf.TempError(f"DNS {name} {qtype}: no answer") from exc
    except RuntimeError as exc:  # the loop closed under us
        raise pyspf.TempError(f"DNS {name} {qtype}: {exc}") from exc
    if answer.outcome in ("nxdomain", "nodata"):
        return []
    if answer.outcome != "answer":
        raise pyspf.TempError(f"DNS {name} {qtype}: {answer.detail or answer.outcome}")
    key = (name, qtype)
    if qtype in ("TXT", "SPF"):
        return [(key, list(r.strings)) for r in answer.rdata]  # type: ignore[attr-defined]
    if qtype == "MX":
        return [
            (key, (r.preference, r.exchange.to_text(omit_final_dot=True)))  # type: ignore[attr-defined]
            for r in answer.rdata
        ]
    return [(key, value) for value in answer.records]


def bind_pyspf() -> None:
    """Make pyspf ask through `_dns_lookup` (idempotent; done on import)."""
    if pyspf.DNSLookup is not _dns_lookup:
        pyspf.DNSLookup = _dns_lookup


bind_pyspf()


@dataclass(frozen=True)
class _Evaluation:
    result: str
    explanation: str
    mechanism: str | None


def _evaluate(binding: _Binding, ip: str, sender: str, helo: str) -> _Evaluation:
    """Run pyspf in this (worker) thread with its DNS bound to `binding`."""
    _local.binding = binding
    try:
        query = pyspf.query(i=ip, s=sender, h=helo, querytime=QUERY_TIME)
        result, _code, explanation = query.check()
        mechanism = query.mechanism
        return _Evaluation(str(result), str(explanation), str(mechanism) if mechanism else None)
    except Exception as exc:  # a pyspf bug must not take the whole report down
        return _Evaluation("", f"pyspf failed: {type(exc).__name__}: {exc}", None)
    finally:
        _local.binding = None


# ---- the check ----------------------------------------------------------------------------------


def normalise_domain(name: str) -> str | None:
    """`name` as a lower-case ASCII DNS name, or None when RFC 7208 4.3 calls it malformed."""
    name = name.strip().rstrip(".").lower()
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2:
        return None
    if any(len(label) > 63 or not _LABEL.match(label) for label in labels):
        return None
    return name


async def check_spf(
    domain: str | None,
    ip: str | None,
    resolver: Resolver,
    settings: Settings,
    *,
    sender: str | None = None,
    helo: str | None = None,
) -> SpfResult:
    """SPF for `domain`: with `ip`, pyspf's result for that sender; always the record review.

    `sender` (MAIL FROM, default postmaster@domain) decides the domain evaluated when it
    has one; `helo` (default the domain) feeds the %{h} macro. Raises ValueError for an
    `ip` that is not an address (callers validate input first).
    """
    if sender is not None and "@" not in sender and domain:
        sender = f"{sender}@{domain}"
    if sender and "@" in sender:
        domain = sender.rsplit("@", 1)[1] or domain
    if not domain:
        example = f"`{ip or '51.158.10.22'} example.com`"
        return SpfResult(
            "skipped",
            _(
                "SPF not checked: no mail domain given (add it after the address: {example})."
            ).format(example=example),
        )
    if ip is not None:
        ip = str(ipaddress.ip_address(ip))
    name = normalise_domain(domain)
    if name is None:
        return SpfResult(
            "warn",
            _(
                "SPF none: '{domain}' is not a valid domain name, so it can have no SPF record "
                "(RFC 7208 section 4.3)"
            ).format(domain=domain),
            domain=domain,
            result="none",
            ip=ip,
            sender=sender,
            helo=helo,
        )
    budget = QuestionBudget(resolver, settings.question_budget)
    if ip is None:
        return _from_review(await review_spf(name, resolver, budget))

    sender = sender or f"postmaster@{name}"
    helo = helo or name
    binding = _Binding(
        budget,
        asyncio.get_running_loop(),
        wait=max(5.0, 4 * resolver.timeout),
        ticket=current_ticket(),
    )
    review, evaluation = await asyncio.gather(
        review_spf(name, resolver, budget),
        asyncio.get_running_loop().run_in_executor(
            _THREADS, contextvars.copy_context().run, _evaluate, binding, ip, sender, helo
        ),
    )
    return _from_evaluation(review, evaluation, ip, sender, helo)


def _from_review(review: SpfReview) -> SpfResult:
    """Review only (no address): the status says how healthy the record is."""
    domain = review.domain
    out = SpfResult(
        "ok",
        "",
        domain=domain,
        record=review.record,
        records=review.records,
        exists=review.exists if not review.error else None,
        lookups=review.lookups if review.record else None,
        warnings=review.warnings,
    )
    if review.error:
        out.status, out.result = "error", "temperror"
        out.summary = _("Could not read the SPF record of {domain}: {error}").format(
            domain=domain, error=review.error
        )
        out.advice = [_temperror_advice(domain)]
        return out
    if not review.exists:
        out.status, out.result = "warn", "none"
        out.summary = _no_such_domain(domain)
        out.advice = _nxdomain_advice(review.warnings)
        return out
    if not review.records:
        out.status, out.result = "warn", "none"
        out.summary = _("{domain} publishes no SPF record").format(domain=domain)
        out.advice = [_publish_advice(domain, None)]
        return out
    if len(review.records) > 1:
        out.status, out.result = "fail", "permerror"
        out.summary = _several_records(domain, len(review.records))
        out.advice = _warning_advice(review.warnings)
        return out
    if len(review.records) > 1:
        out.result = "permerror"
    out.status = worst([w.severity for w in review.warnings])
    counted = ngettext("{n} of {max} DNS lookup", "{n} of {max} DNS lookups", MAX_LOOKUPS).format(
        n=review.lookups, max=MAX_LOOKUPS
    )
    if review.warnings:
        out.summary = _("SPF record of {domain} ({lookups}): {problems}").format(
            domain=domain, lookups=counted, problems=_problems(review.warnings)
        )
    else:
        out.summary = _("SPF record of {domain} looks right ({lookups})").format(
            domain=domain, lookups=counted
        )
    out.advice = _warning_advice(review.warnings)
    return out


def _from_evaluation(
    review: SpfReview, evaluation: _Evaluation, ip: str, sender: str, helo: str
) -> SpfResult:
    domain = sender.rsplit("@", 1)[1].lower()
    result = evaluation.result
    out = SpfResult(
        RESULT_STATUS.get(result, "error"),
        "",
        domain=domain,
        result=result,
        record=review.record,
        records=review.records,
        exists=review.exists if not review.error else None,
        explanation=evaluation.explanation or None,
        lookups=review.lookups if review.record else None,
        warnings=review.warnings,
        ip=ip,
        sender=sender,
        helo=helo,
        mechanism=evaluation.mechanism,
    )
    by = f" ({evaluation.mechanism})" if evaluation.mechanism else ""
    detail = _detail(evaluation.explanation)
    summaries = {
        "pass": _("SPF pass: {domain} allows {ip}{by}"),
        "fail": _("SPF fail: {domain} does not allow {ip}{by}"),
        "softfail": _("SPF softfail: {domain} does not list {ip}{by}"),
        "neutral": _("SPF neutral: {domain} neither allows nor denies {ip}{by}"),
        "none": _("SPF none: {domain} publishes no SPF record"),
        "permerror": _("SPF permerror: the SPF record of {domain} is broken ({detail})"),
        "temperror": _("SPF temperror: DNS lookups for the SPF of {domain} failed ({detail})"),
    }
    said = summaries.get(result, _("SPF could not be evaluated: {detail}"))
    out.summary = said.format(domain=domain, ip=ip, by=by, detail=detail)
    if not review.exists:
        out.summary = f"SPF {result}: {_no_such_domain(domain)}"
    elif len(review.records) > 1:
        out.summary = f"SPF {result}: {_several_records(domain, len(review.records))}"
    if result not in RESULT_STATUS:
        out.result = None
    others = [w for w in review.warnings if w.code not in ("multiple_records", "no_such_domain")]
    if others and result != "none":
        out.summary += "; " + _problems(others)
    advice: list[Advice] = []
    if result in ("fail", "softfail", "neutral"):
        advice.append(_add_address_advice(domain, ip, review.record))
    elif result == "none" and review.exists:
        advice.append(_publish_advice(domain, ip))
    elif result == "none":
        advice.extend(_nxdomain_advice(review.warnings))
    elif result == "temperror":
        advice.append(_temperror_advice(domain))
    advice.extend(_warning_advice(review.warnings))
    if result == "permerror" and not any(w.severity == "fail" for w in review.warnings):
        advice.append(
            Advice(
                _("Fix the SPF record of {domain}: {explanation}").format(
                    domain=domain, explanation=evaluation.explanation
                ),
                HOWTO_URL,
            )
        )
    out.advice = advice
    return out


def _nxdomain_advice(warnings: list[SpfWarning]) -> list[Advice]:
    return [
        Advice(problem_and_fix(w.text, w.fix), w.url)
        for w in warnings
        if w.code == "no_such_domain"
    ]


def _no_such_domain(domain: str) -> str:
    return _("{domain} does not exist (NXDOMAIN), so it has no SPF record").format(domain=domain)


def _several_records(domain: str, count: int) -> str:
    return _(
        "{domain} publishes {n} SPF records, which is a permanent error (RFC 7208 section 3.2): "
        "receivers treat the domain as having a broken SPF"
    ).format(domain=domain, n=count)


def _problems(warnings: list[SpfWarning]) -> str:
    """The worst warning's text, and how many more there are."""
    ordered = sorted(warnings, key=lambda w: -rank(w.severity))
    count = len(warnings)
    return ngettext("{n} warning: {text}", "{n} warnings: {text}", count).format(
        n=count, text=ordered[0].text
    )


def _detail(explanation: str) -> str:
    """pyspf's explanation without its 'SPF Permanent Error: ' style prefix."""
    for prefix in ("SPF Permanent Error: ", "SPF Temporary Error: "):
        if explanation.startswith(prefix):
            return explanation[len(prefix) :]
    return explanation


def _warning_advice(warnings: list[SpfWarning]) -> list[Advice]:
    """The fix of every warning bad enough to break SPF for all senders."""
    return [Advice(problem_and_fix(w.text, w.fix), w.url) for w in warnings if w.severity != "warn"]


def _mechanism_for(ip: str) -> str:
    return f"ip{ipaddress.ip_address(ip).version}:{ip}"


def _add_address_advice(domain: str, ip: str, record: str | None) -> Advice:
    """The exact term to add, and the record with it in place (before `all`)."""
    term = _mechanism_for(ip)
    if not record or len(record) > MAX_RECORD_SHOWN:  # a hostile record can be 64 kB
        text = _(
            "Add {term} to the SPF record of {domain} (if this server really sends the "
            "domain's mail)."
        )
        return Advice(text.format(term=term, domain=domain), HOWTO_URL)
    words = record.split()
    terms = parse(record)
    position = next(
        (i + 1 for i, t in enumerate(terms) if not t.modifier and t.name == "all"),
        len(words),
    )
    words.insert(position, term)
    text = _(
        "Add {term} to the SPF record of {domain}: {record} (if this server really sends the "
        "domain's mail)."
    )
    return Advice(text.format(term=term, domain=domain, record=" ".join(words)), HOWTO_URL)


def _publish_advice(domain: str, ip: str | None) -> Advice:
    servers = _mechanism_for(ip) if ip else _("ip4:<your server's address>")
    return Advice(
        _(
            "Publish an SPF record (TXT) at {domain} listing every server that sends its mail, "
            "e.g. 'v=spf1 mx {servers} -all'."
        ).format(domain=domain, servers=servers),
        HOWTO_URL,
    )


def _temperror_advice(domain: str) -> Advice:
    return Advice(
        _(
            "The DNS of {domain} did not answer the SPF lookups; receivers defer mail (4xx) "
            "until it does. Check that the domain's nameservers answer TXT queries."
        ).format(domain=domain),
        f"{RFC}#section-2.6.6",
    )
