"""SPF record review: the record, its DNS lookup count over the include tree, and the usual mistakes.

Why separate from evaluation: pyspf answers "does this address pass?", but stops at the
first match and says nothing about a record that works today and breaks tomorrow
(`+all`, a 12-lookup include tree, an include of a domain without SPF). This module
reads the record tree with our own resolver (sharing its cache with the evaluation)
and words each problem like checkdmarc: what is wrong, why it matters, what to write
instead, and the RFC 7208 section.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal

from handlers.dns.budget import QuestionBudget
from handlers.dns.resolver import Resolver
from handlers.i18n import _, ngettext

RFC = "https://www.rfc-editor.org/rfc/rfc7208"
#: RFC 7208 section 4.6.4: at most 10 DNS-querying terms, at most 2 void lookups.
MAX_LOOKUPS = 10
MAX_VOID_LOOKUPS = 2
#: Records read at most in one review (a pathological include tree must not run forever).
MAX_RECORDS = 60
#: Warnings kept at most (each once); past it one more says how many were left out.
MAX_WARNINGS = 30

MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
QUERYING = frozenset({"include", "a", "mx", "ptr", "exists"})
_SPF_RECORD = re.compile(r"^v=spf1(?:\s|$)", re.IGNORECASE)
_MODIFIER = re.compile(r"^([a-z][a-z0-9_.-]*)=(.*)$", re.IGNORECASE)

Severity = Literal["warn", "fail", "error"]


@dataclass(frozen=True)
class SpfWarning:
    """One problem in an SPF record: what is wrong, why it matters and what to write instead."""

    code: str
    text: str
    why: str
    fix: str
    rfc: str
    url: str
    #: How bad on its own: `fail` when receivers would get a permerror (or everyone may send).
    severity: Severity = "warn"


@dataclass(frozen=True)
class Term:
    """One term of a record: a mechanism (`qualifier`, `name`, `arg`) or a modifier (`name=arg`)."""

    text: str
    name: str
    arg: str
    qualifier: str = "+"
    modifier: bool = False


@dataclass
class SpfReview:
    """What the review found for one domain."""

    domain: str
    #: The domain's SPF record (the first when there are several).
    record: str | None = None
    records: list[str] = field(default_factory=list)
    #: DNS-querying terms over the whole include/redirect tree (RFC 7208 4.6.4).
    lookups: int = 0
    void_lookups: int = 0
    #: Included or redirected-to domains read, in tree order.
    followed: list[str] = field(default_factory=list)
    warnings: list[SpfWarning] = field(default_factory=list)
    #: Set when the domain's own TXT lookup failed (timeout, SERVFAIL): nothing is known.
    error: str | None = None
    #: DNS-querying terms counted but not looked up (past the limits a receiver stops at).
    unresolved: int = 0
    #: False when the domain does not exist (NXDOMAIN): there is nowhere to publish a record.
    exists: bool = True


def is_spf(text: str) -> bool:
    """True for a TXT string that is an SPF record (`v=spf1` alone or followed by space)."""
    return bool(_SPF_RECORD.match(text))


def parse(record: str) -> list[Term]:
    """The terms of `record` after `v=spf1`."""
    terms: list[Term] = []
    for text in record.split()[1:]:
        modifier = _MODIFIER.match(text)
        if modifier:
            terms.append(Term(text, modifier.group(1).lower(), modifier.group(2), modifier=True))
            continue
        qualifier = "+"
        body = text
        if body[:1] in "+-~?":
            qualifier, body = body[0], body[1:]
        name, colon, arg = body.partition(":")
        if not colon and "/" in name:
            name, slash, cidr = name.partition("/")
            arg = slash + cidr
        terms.append(Term(text, name.lower(), arg, qualifier))
    return terms


def target_domain(term: Term, current: str) -> str | None:
    """The domain a querying term asks about, None when it holds a macro (depends on the sender)."""
    arg = term.arg
    if term.name in ("a", "mx", "ptr"):
        arg = arg.split("/")[0] if not arg.startswith("/") else ""
    if "%" in arg:
        return None
    return (arg or current).lower().rstrip(".")


class _Walk:
    """State of one review: counters shared by every record in the tree.

    Terms are read in the order a receiver evaluates them (left to right, an include's
    record where the include stands, a redirect last). Like a receiver, the walk resolves
    at most MAX_LOOKUPS DNS-querying terms and stops at the void lookup past
    MAX_VOID_LOOKUPS; the terms after that are counted and reported, never looked up, so a
    record's author cannot make one check ask thousands of questions.
    """

    def __init__(self, budget: QuestionBudget) -> None:
        self.budget = budget
        self.lookups = 0
        self.resolved = 0
        self.void = 0
        self.unresolved = 0
        self.records_read = 0
        self.followed: list[str] = []
        self.warnings: list[SpfWarning] = []
        self.hidden = 0
        #: The outcome of the last TXT question (`nxdomain` says the name does not exist).
        self.last_outcome = ""

    def warn(self, warning: SpfWarning) -> None:
        """Keep `warning` once; past MAX_WARNINGS only count it."""
        if warning in self.warnings:
            return
        if len(self.warnings) >= MAX_WARNINGS:
            self.hidden += 1
            return
        self.warnings.append(warning)

    def may_resolve(self) -> bool:
        """Count one DNS-querying term; True when a receiver would still look it up."""
        self.lookups += 1
        if (
            self.resolved >= MAX_LOOKUPS
            or self.void > MAX_VOID_LOOKUPS
            or self.budget.spent
            or self.records_read >= MAX_RECORDS
        ):
            self.unresolved += 1
            return False
        self.resolved += 1
        return True

    async def fetch(self, domain: str) -> tuple[list[str], str | None, bool]:
        """SPF records at `domain`, an error text when DNS failed, and whether the name is void."""
        self.records_read += 1
        answer = await self.budget.lookup(domain, "TXT")
        self.last_outcome = answer.outcome
        if not answer.definite:
            return [], answer.detail or answer.outcome, False
        records = [r for r in answer.records if is_spf(r)]
        return records, None, answer.outcome != "answer"


async def review_spf(
    domain: str, resolver: Resolver, budget: QuestionBudget | None = None
) -> SpfReview:
    """Read `domain`'s SPF record and its include/redirect tree; count lookups; list mistakes.

    `budget` bounds the questions (shared with the evaluation when given).
    """
    domain = domain.lower().rstrip(".")
    walk = _Walk(budget or QuestionBudget(resolver))
    review = SpfReview(domain)
    records, error, _void = await walk.fetch(domain)
    if error:
        review.error = error
        return review
    review.records = records
    if not records and walk.last_outcome == "nxdomain":
        review.exists = False
        review.warnings.append(no_such_domain(domain))
        return review
    if not records:
        review.warnings.append(no_record(domain))
        return review
    review.record = records[0]
    if len(records) > 1:
        walk.warn(multiple_records(domain, len(records)))
    else:
        await _visit(walk, domain, records[0], (domain,))
    review.lookups = walk.lookups
    review.void_lookups = walk.void
    review.followed = walk.followed
    review.unresolved = walk.unresolved
    if walk.lookups > MAX_LOOKUPS:
        walk.warn(too_many_lookups(domain, walk.lookups, walk.unresolved))
    if walk.void > MAX_VOID_LOOKUPS:
        walk.warn(too_many_void(domain, walk.void))
    if walk.budget.spent:
        walk.warn(budget_spent(domain, walk.budget.limit))
    if walk.hidden:
        walk.warnings.append(more_warnings(domain, walk.hidden))
    review.warnings = walk.warnings
    return review


async def _visit(walk: _Walk, domain: str, record: str, path: tuple[str, ...]) -> None:
    """Check one record's terms in order, following includes where they stand, redirect last."""
    terms = parse(record)
    has_all = False
    redirect: Term | None = None
    seen_modifiers: set[str] = set()
    for term in terms:
        if term.modifier:
            if term.name in seen_modifiers and term.name in ("redirect", "exp"):
                walk.warn(
                    syntax(
                        domain,
                        term.text,
                        _("{name}= appears more than once").format(name=term.name),
                    )
                )
            seen_modifiers.add(term.name)
            if term.name == "redirect":
                redirect = term
            continue
        problem = _syntax_problem(term)
        if problem:
            walk.warn(syntax(domain, term.text, problem))
            continue
        if term.name == "all":
            has_all = True
            if term.qualifier == "+":
                walk.warn(pass_all(domain, term.text))
            elif term.qualifier == "?":
                walk.warn(neutral_all(domain))
        if term.name not in QUERYING:
            continue
        if term.name == "ptr":
            walk.warn(ptr_mechanism(domain, term.text))
        if not walk.may_resolve():
            continue
        target = target_domain(term, domain)
        if target is None:
            continue
        if term.name == "include":
            await _follow(walk, domain, target, path, include=True)
        elif term.name in ("a", "mx"):
            await _void_check(walk, domain, term, target)
    if redirect is not None:
        resolve = walk.may_resolve()
        target = target_domain(Term(redirect.text, "include", redirect.arg), domain)
        if has_all:
            walk.warn(redirect_ignored(domain, redirect.text))
        elif target is not None and resolve:
            await _follow(walk, domain, target, path, include=False)
    elif not has_all and len(path) == 1:
        walk.warn(no_all(domain))


async def _follow(
    walk: _Walk, parent: str, target: str, path: tuple[str, ...], *, include: bool
) -> None:
    """Read an included or redirected-to record and visit it."""
    term = f"include:{target}" if include else f"redirect={target}"
    if target in path:
        walk.warn(loop(parent, term))
        return
    walk.followed.append(target)
    records, error, void = await walk.fetch(target)
    if void and include:
        walk.void += 1
    if error:
        walk.warn(lookup_failed(parent, target, error))
        return
    if not records:
        walk.warn(include_without_spf(parent, target, include=include))
        return
    if len(records) > 1:
        walk.warn(multiple_records(target, len(records)))
        return
    await _visit(walk, target, records[0], (*path, target))


async def _void_check(walk: _Walk, domain: str, term: Term, target: str) -> None:
    """`a`/`mx` naming something that does not exist: a void lookup (RFC 7208 4.6.4)."""
    types = ("A", "AAAA") if term.name == "a" else ("MX",)
    answers = await asyncio.gather(*(walk.budget.lookup(target, t) for t in types))
    if all(a.outcome in ("nxdomain", "nodata") for a in answers):
        walk.void += 1
        walk.warn(void_mechanism(domain, term.text, target))


def _syntax_problem(term: Term) -> str:
    """Why a mechanism is malformed (receivers return permerror), or ''."""
    if term.name not in MECHANISMS:
        return _("'{name}' is not an SPF mechanism").format(name=term.name)
    if term.name == "all" and term.arg:
        return _("all takes no argument")
    if term.name in ("include", "exists") and not term.arg:
        return _("{name} needs a domain ({name}:example.com)").format(name=term.name)
    if term.name in ("ip4", "ip6"):
        try:
            network = ipaddress.ip_network(term.arg, strict=False)
        except ValueError:
            return _("'{value}' is not an {name} address or range").format(
                value=term.arg, name=term.name
            )
        if network.version != int(term.name[-1]):
            return _("'{value}' is not an IPv{version} address").format(
                value=term.arg, version=term.name[-1]
            )
    return ""


# ---- the warnings, one constructor each -------------------------------------------------------


def _sec(section: str) -> str:
    return f"{RFC}#section-{section}"


def no_such_domain(domain: str) -> SpfWarning:
    return SpfWarning(
        "no_such_domain",
        _("{domain} does not exist (the DNS answers NXDOMAIN)").format(domain=domain),
        _(
            "A domain that does not exist can have no SPF record, and receivers refuse mail "
            "from it whatever SPF says."
        ),
        _(
            "Check the spelling of {domain}; if it is right, the domain is not registered or its "
            "DNS is not delegated."
        ).format(domain=domain),
        "RFC 7208 section 4.3",
        _sec("4.3"),
    )


def no_record(domain: str) -> SpfWarning:
    return SpfWarning(
        "no_record",
        _("{domain} publishes no SPF record").format(domain=domain),
        _(
            "Receivers cannot tell which servers may send for the domain; many score such mail "
            "as spam or reject it, and anyone can forge the domain."
        ),
        _(
            "Publish a TXT record at {domain} listing every server that sends its mail, e.g. "
            "'v=spf1 mx ip4:<your server's address> -all'."
        ).format(domain=domain),
        "RFC 7208 section 4.5",
        _sec("4.5"),
    )


def multiple_records(domain: str, count: int) -> SpfWarning:
    return SpfWarning(
        "multiple_records",
        ngettext(
            "{domain} publishes {n} SPF record", "{domain} publishes {n} SPF records", count
        ).format(domain=domain, n=count),
        _(
            "With more than one v=spf1 record every receiver's SPF check ends in permerror, "
            "so none of the records counts."
        ),
        _("Merge them into one TXT record starting with v=spf1 and delete the others."),
        "RFC 7208 section 4.5",
        _sec("4.5"),
        "fail",
    )


def pass_all(domain: str, text: str) -> SpfWarning:
    return SpfWarning(
        "pass_all",
        _("The SPF record of {domain} ends with '{term}'").format(domain=domain, term=text),
        _(
            "'+all' allows every address on the internet to send as the domain, which makes the "
            "record worthless and invites forgery."
        ),
        _("End the record with '-all' (or '~all' while testing) after listing your servers."),
        "RFC 7208 section 5.1",
        _sec("5.1"),
        "fail",
    )


def neutral_all(domain: str) -> SpfWarning:
    return SpfWarning(
        "neutral_all",
        _("The SPF record of {domain} ends with '?all'").format(domain=domain),
        _(
            "A neutral result tells receivers nothing, so unlisted senders are treated as if the "
            "domain had no SPF."
        ),
        _("End the record with '~all' or '-all'."),
        "RFC 7208 section 8.2",
        _sec("8.2"),
    )


def ptr_mechanism(domain: str, text: str) -> SpfWarning:
    return SpfWarning(
        "ptr_mechanism",
        _("The SPF record of {domain} uses '{term}'").format(domain=domain, term=text),
        _(
            "The ptr mechanism is slow, unreliable and SHOULD NOT be used; some receivers "
            "ignore it."
        ),
        _("Replace it with ip4:/ip6: ranges or a:host names of the sending servers."),
        "RFC 7208 section 5.5",
        _sec("5.5"),
    )


def include_without_spf(parent: str, target: str, *, include: bool) -> SpfWarning:
    term = f"include:{target}" if include else f"redirect={target}"
    return SpfWarning(
        "include_without_spf",
        _("The SPF record of {parent} has '{term}', but {target} publishes no SPF record").format(
            parent=parent, term=term, target=target
        ),
        _("A receiver that reaches this term gets permerror and the whole SPF check fails."),
        _(
            "Remove '{term}' or correct the domain name (the provider's documentation names the "
            "include to use)."
        ).format(term=term),
        "RFC 7208 section 5.2" if include else "RFC 7208 section 6.1",
        _sec("5.2" if include else "6.1"),
        "fail",
    )


def too_many_lookups(domain: str, count: int, unresolved: int = 0) -> SpfWarning:
    return SpfWarning(
        "too_many_lookups",
        _("The SPF record of {domain} needs {n} DNS lookups (limit {max})").format(
            domain=domain, n=count, max=MAX_LOOKUPS
        )
        if not unresolved
        else _(
            "The SPF record of {domain} needs at least {n} DNS lookups (limit {max}; the "
            "{unresolved} past the limit were counted, not looked up)"
        ).format(domain=domain, n=count, max=MAX_LOOKUPS, unresolved=unresolved),
        _(
            "Receivers stop after 10 include/a/mx/ptr/exists/redirect lookups and return "
            "permerror, so the record fails for every sender."
        ),
        _(
            "Remove includes of services you no longer use, replace a/mx with ip4:/ip6: ranges, "
            "or flatten large includes into their address ranges."
        ),
        "RFC 7208 section 4.6.4",
        _sec("4.6.4"),
        "fail",
    )


def budget_spent(domain: str, limit: int) -> SpfWarning:
    return SpfWarning(
        "question_budget",
        _("The review of the SPF of {domain} stopped after {n} DNS questions").format(
            domain=domain, n=limit
        ),
        _(
            "The record tree asks for more lookups than one check may make; what is past that "
            "point was not looked at."
        ),
        _("Shrink the record tree (see the lookup limit of RFC 7208 section 4.6.4)."),
        "RFC 7208 section 4.6.4",
        _sec("4.6.4"),
        "error",
    )


def more_warnings(domain: str, count: int) -> SpfWarning:
    return SpfWarning(
        "more_warnings",
        ngettext(
            "{n} more problem in the SPF record of {domain} not shown",
            "{n} more problems in the SPF record of {domain} not shown",
            count,
        ).format(n=count, domain=domain),
        _("Only the first {n} are listed.").format(n=MAX_WARNINGS),
        _("Fix the ones above and check again."),
        "RFC 7208",
        RFC,
    )


def too_many_void(domain: str, count: int) -> SpfWarning:
    return SpfWarning(
        "too_many_void_lookups",
        _("The SPF record of {domain} has {n} lookups that find nothing (limit {max})").format(
            domain=domain, n=count, max=MAX_VOID_LOOKUPS
        ),
        _("Receivers return permerror after more than 2 lookups answered NXDOMAIN or no data."),
        _("Remove the a/mx/include terms that name hosts or domains that do not exist."),
        "RFC 7208 section 4.6.4",
        _sec("4.6.4"),
        "fail",
    )


def void_mechanism(domain: str, text: str, target: str) -> SpfWarning:
    return SpfWarning(
        "void_lookup",
        (
            _("'{term}' in the SPF record of {domain} finds nothing: {target} has no address")
            if text.lstrip("+-~?").lower().startswith("a")
            else _("'{term}' in the SPF record of {domain} finds nothing: {target} has no MX")
        ).format(term=text, domain=domain, target=target),
        _(
            "The term matches no sender and counts as a void lookup; more than 2 make the "
            "record fail with permerror."
        ),
        _("Remove '{term}' or point it at a host that exists.").format(term=text),
        "RFC 7208 section 4.6.4",
        _sec("4.6.4"),
    )


def no_all(domain: str) -> SpfWarning:
    return SpfWarning(
        "no_all",
        _("The SPF record of {domain} has neither 'all' nor 'redirect='").format(domain=domain),
        _("Senders that match nothing get neutral, which receivers treat like no SPF at all."),
        _("End the record with '-all' (or '~all')."),
        "RFC 7208 section 4.7",
        _sec("4.7"),
    )


def redirect_ignored(domain: str, text: str) -> SpfWarning:
    return SpfWarning(
        "redirect_ignored",
        _("The SPF record of {domain} has both 'all' and '{term}'").format(
            domain=domain, term=text
        ),
        _("Receivers ignore redirect= when the record has an 'all' mechanism."),
        _("Remove '{term}', or remove 'all' if the redirect is what you meant.").format(term=text),
        "RFC 7208 section 6.1",
        _sec("6.1"),
    )


def loop(parent: str, term: str) -> SpfWarning:
    return SpfWarning(
        "include_loop",
        _("'{term}' in the SPF record of {parent} includes a record that includes it again").format(
            term=term, parent=parent
        ),
        _("The loop runs until the lookup limit and ends in permerror."),
        _("Remove '{term}'.").format(term=term),
        "RFC 7208 section 5.2",
        _sec("5.2"),
        "fail",
    )


def syntax(domain: str, text: str, problem: str) -> SpfWarning:
    return SpfWarning(
        "syntax",
        _("'{term}' in the SPF record of {domain}: {problem}").format(
            term=text, domain=domain, problem=problem
        ),
        _(
            "Receivers return permerror for a record they cannot parse, so it fails for every "
            "sender."
        ),
        _(
            "Correct or remove the term (mechanisms: all, include, a, mx, ptr, ip4, ip6, exists; "
            "separate terms with spaces)."
        ),
        "RFC 7208 section 4.6.1",
        _sec("4.6.1"),
        "fail",
    )


def lookup_failed(parent: str, target: str, error: str) -> SpfWarning:
    return SpfWarning(
        "lookup_failed",
        _("The SPF record of {target} (used by {parent}) could not be read: {error}").format(
            target=target, parent=parent, error=error
        ),
        _("Receivers get temperror and defer the mail while that DNS does not answer."),
        _("Check that the nameservers of {target} answer TXT queries.").format(target=target),
        "RFC 7208 section 2.6.6",
        _sec("2.6.6"),
        "error",
    )
