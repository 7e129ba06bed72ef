"""DKIM: the public keys a domain publishes at SELECTOR._domainkey.DOMAIN, and what is wrong with them.

Why guess selectors: DNS cannot list them (a key's name is only known from the `s=` tag of
a DKIM-Signature), so without one the check asks the defaults of the common mail
platforms, listed in `dkim_selectors.toml` beside this module, all at once. Finding none
of them is a `warn` with what to do, never a `fail`: the domain may sign with another name.
Keys are read with `cryptography`, so the size is the key's real modulus, not a guess
from the base64 length.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from handlers.dns.resolver import Answer, Resolver
from handlers.i18n import _, ngettext
from handlers.results import Advice, CheckResult, Status, worst
from handlers.spf import normalise_domain
from handlers.taglist import parse_tags

RFC = "https://www.rfc-editor.org/rfc/rfc6376"
KEY_URL = f"{RFC}#section-3.6.1"
#: RFC 8301: verifiers must not accept RSA keys under 1024 bits; 2048 is what Gmail asks for.
MIN_RSA_BITS = 1024
GOOD_RSA_BITS = 2048
SELECTOR_HELP_URL = "https://support.google.com/a/answer/174124"


@dataclass(frozen=True)
class CommonSelector:
    name: str
    platform: str


@lru_cache(maxsize=1)
def common_selectors() -> tuple[CommonSelector, ...]:
    """The selectors asked when none is given (from `dkim_selectors.toml`)."""
    text = resources.files("handlers").joinpath("dkim_selectors.toml").read_text("utf-8")
    return tuple(CommonSelector(s["name"], s["platform"]) for s in tomllib.loads(text)["selector"])


@dataclass
class DkimKey:
    """The key at one selector (INTERFACE.md's `dkim.selectors[]`)."""

    selector: str
    found: bool
    key_type: str | None = None
    key_bits: int | None = None
    testing: bool = False
    revoked: bool = False
    problems: list[str] = field(default_factory=list)
    record: str | None = None
    #: Where a CNAME at the selector's name led (a key hosted by the mail platform).
    cname: str | None = None
    #: Hash algorithms the key accepts (h=), empty meaning all.
    hashes: list[str] = field(default_factory=list)
    platform: str | None = None
    status: Status = "ok"


@dataclass
class DkimResult(CheckResult):
    """DKIM keys of `domain` at the selectors given, or at the common ones (`guessed`)."""

    domain: str | None = None
    guessed: bool = False
    selectors: list[DkimKey] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)


def read_key(selector: str, text: str) -> DkimKey:
    """Parse one key record (RFC 6376 section 3.6.1) and judge it."""
    key = DkimKey(selector, True, record=text)
    statuses: list[Status] = []

    def problem(status: Status, words: str) -> None:
        statuses.append(status)
        key.problems.append(words)

    tags = parse_tags(text)
    for words in tags.problems:
        problem("fail", _("syntax error: {problem}").format(problem=words))
    for name in tags.duplicates:
        problem(
            "fail",
            _("the tag '{tag}' appears twice, which makes the whole record invalid").format(
                tag=name
            ),
        )
    values = tags.tags
    if "v" in values and (values["v"] != "DKIM1" or tags.order[0] != "v"):
        problem("fail", _("v= must be exactly 'v=DKIM1' and come first (or be left out)"))
    key.key_type = values.get("k", "rsa").lower()
    key.hashes = [h.strip().lower() for h in values.get("h", "").split(":") if h.strip()]
    flags = [f.strip() for f in values.get("t", "").split(":") if f.strip()]
    key.testing = "y" in flags
    if key.testing:
        problem(
            "warn", _("t=y: the domain says it is testing DKIM, so receivers may ignore signatures")
        )
    services = [s.strip() for s in values.get("s", "*").split(":")]
    if "*" not in services and "email" not in services:
        problem(
            "fail",
            _("s={value} says the key is not for email; write s=email or drop s=").format(
                value=values.get("s")
            ),
        )
    if key.hashes and "sha256" not in key.hashes:
        problem(
            "warn",
            _(
                "h={value} allows only SHA-1, which RFC 8301 forbids; write h=sha256 or drop h="
            ).format(value=values.get("h")),
        )
    if "p" not in values:
        problem("fail", _("no p= tag: this is not a DKIM key record"))
        key.status = worst(statuses)
        return key
    data = "".join(values["p"].split())
    if not data:
        key.revoked = True
        problem("fail", _("the key is revoked (p= is empty): signatures made with it fail"))
        key.status = worst(statuses)
        return key
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        problem("fail", _("p= is not valid base64, so no receiver can read the key"))
        key.status = worst(statuses)
        return key
    if key.key_type == "rsa":
        _rsa(key, raw, problem)
    elif key.key_type == "ed25519":
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(raw)
            key.key_bits = 256
        except ValueError:
            problem("fail", _("p= is not a 32-byte Ed25519 key (RFC 8463)"))
    else:
        problem(
            "fail",
            _("k={value} is not a DKIM key type (rsa or ed25519)").format(value=key.key_type),
        )
    key.status = worst(statuses)
    return key


def _rsa(key: DkimKey, raw: bytes, report: Callable[[Status, str], None]) -> None:
    try:
        public = load_der_public_key(raw)
    except ValueError:
        report(
            "fail", _("p= does not hold an RSA public key that parses (DER SubjectPublicKeyInfo)")
        )
        return
    if not isinstance(public, rsa.RSAPublicKey):
        report("fail", _("k=rsa but p= holds another kind of key"))
        return
    key.key_bits = public.key_size
    if public.key_size < MIN_RSA_BITS:
        report(
            "fail",
            _(
                "RSA {bits} bits: receivers treat keys under {min} bits as no key (RFC 8301); "
                "publish a {good}-bit key"
            ).format(bits=public.key_size, min=MIN_RSA_BITS, good=GOOD_RSA_BITS),
        )
    elif public.key_size < GOOD_RSA_BITS:
        report(
            "warn",
            _(
                "RSA {bits} bits: still accepted, but Gmail asks for {good}-bit keys; rotate to "
                "{good} bits at a new selector"
            ).format(bits=public.key_size, good=GOOD_RSA_BITS),
        )


def parse_selectors(text: str) -> list[str]:
    """Selectors as typed (`s1`, `s1._domainkey.example.com`) reduced to the selector itself."""
    out: list[str] = []
    for word in text.replace(",", " ").split():
        name = word.strip().rstrip(".").lower()
        if "._domainkey." in name:
            name = name.split("._domainkey.", 1)[0]
        if name and name not in out:
            out.append(name)
    return out


async def check_dkim(
    domain: str | None,
    selectors: list[str] | None,
    resolver: Resolver,
) -> DkimResult:
    """DKIM keys of `domain` at `selectors`, or at the common selectors when none is given."""
    if not domain:
        return DkimResult("skipped", _("DKIM not checked: no mail domain given"))
    name = normalise_domain(domain)
    if name is None:
        return DkimResult(
            "warn", _("'{domain}' is not a valid domain name").format(domain=domain), domain=domain
        )
    guessed = not selectors
    platforms = {s.name: s for s in common_selectors()}
    wanted = [s.name for s in common_selectors()] if guessed else list(selectors or [])
    answers = await asyncio.gather(
        *(resolver.lookup(f"{s}._domainkey.{name}", "TXT") for s in wanted)
    )
    result = DkimResult("ok", "", domain=name, guessed=guessed, tried=wanted)
    failures: list[tuple[str, Answer]] = []
    absent: list[str] = []
    for selector, answer in zip(wanted, answers, strict=True):
        if not answer.definite:
            failures.append((selector, answer))
            continue
        key = _key(selector, answer)
        if key is None or (guessed and not _looks_like_key(key)):
            absent.append(selector)
            continue
        key.platform = platforms[selector].platform if selector in platforms else None
        result.selectors.append(key)
    # A CNAME whose target has no key: the platform hosts the key but never published it.
    # The TXT answer itself says where the CNAME led, so this costs no further question.
    answered = dict(zip(wanted, answers, strict=True))
    targets = {s: answered[s].canonical for s in absent if answered[s].canonical}
    for selector in absent:
        target = targets.get(selector)
        if guessed and target is None:
            continue
        key = DkimKey(selector, False, cname=target, status="warn" if guessed else "fail")
        key.platform = platforms[selector].platform if selector in platforms else None
        said = (
            _("no key at {name} (it is a CNAME to {target}, which has no key)")
            if target
            else _("no key at {name}")
        )
        key.problems.append(said.format(name=f"{selector}._domainkey.{name}", target=target))
        result.selectors.append(key)
    _finish(result, name, failures)
    return result


def _looks_like_key(key: DkimKey) -> bool:
    """A TXT at a guessed name is a key only if it says so (a wildcard TXT is not one)."""
    tags = parse_tags(key.record or "").tags
    return "p" in tags or tags.get("v") == "DKIM1"


def _key(selector: str, answer: Answer) -> DkimKey | None:
    """The key in a TXT answer; None when the name has no TXT record at all."""
    if answer.outcome != "answer" or not answer.records:
        return None
    candidates = [r for r in answer.records if "p=" in r or r.startswith("v=DKIM1")]
    key = read_key(selector, (candidates or list(answer.records))[0])
    key.cname = answer.canonical
    if len(candidates) > 1:
        key.problems.append(
            _("{n} key records at one selector: receivers may pick any of them").format(
                n=len(candidates)
            )
        )
        key.status = worst([key.status, "warn"])
    return key


def _finish(result: DkimResult, domain: str, failures: list[tuple[str, Answer]]) -> None:
    if failures and len(failures) == len(result.tried):
        selector, answer = failures[0]
        result.status = "error"
        result.summary = _("Could not read DKIM keys of {domain} ({name}: {error})").format(
            domain=domain, name=f"{selector}._domainkey", error=answer.detail or answer.outcome
        )
        return
    if not result.guessed:
        # A named selector that did not answer is unknown, not missing.
        for selector, answer in failures:
            key = DkimKey(selector, False, status="error")
            key.problems.append(
                _("{name} could not be read: {error}").format(
                    name=f"{selector}._domainkey.{domain}", error=answer.detail or answer.outcome
                )
            )
            result.selectors.append(key)
    statuses = [k.status for k in result.selectors]
    if not result.selectors:
        count = len(result.tried)
        result.status = "warn"
        # The finding only: why DNS cannot list selectors, and what to give instead, is
        # said once, in the detail under it (bot.facts.dkim_lines) and the advice.
        result.summary = _("No DKIM key at the {n} common selectors of {domain}").format(
            n=count, domain=domain
        )
        if failures:
            result.summary += " " + ngettext(
                "({n} selector did not answer)", "({n} selectors did not answer)", len(failures)
            ).format(n=len(failures))
        result.advice.append(
            Advice(
                _(
                    "Find the selector in the s= tag of the DKIM-Signature header of a message "
                    "sent from {domain}, or ask the mail platform which selector it signs with, "
                    "then run 'dkim {domain} SELECTOR'. If nothing signs the domain's mail, switch "
                    "DKIM signing on at the mail platform and publish the key it gives."
                ).format(domain=domain),
                SELECTOR_HELP_URL,
            )
        )
        return
    result.status = worst(statuses)
    described = [_describe(k, domain) for k in result.selectors]
    result.summary = "DKIM: " + "; ".join(described)
    for key in result.selectors:
        result.advice.extend(_advice(key, domain))
    if failures and result.guessed:
        result.summary += " " + ngettext(
            "({n} selector did not answer)", "({n} selectors did not answer)", len(failures)
        ).format(n=len(failures))


def _describe(key: DkimKey, domain: str) -> str:
    if not key.found or key.status == "error":
        return key.problems[0]
    kind = (key.key_type or "?").upper() if key.key_type != "ed25519" else "Ed25519"
    if key.key_bits:
        kind = _("{kind} {bits} bits").format(kind=kind, bits=key.key_bits)
    text = _("key at {name} ({kind})").format(name=f"{key.selector}._domainkey.{domain}", kind=kind)
    if key.problems:
        text += ": " + key.problems[0]
    return text


def _advice(key: DkimKey, domain: str) -> list[Advice]:
    name = f"{key.selector}._domainkey.{domain}"
    if key.status == "error":
        return []
    if not key.found and key.cname:
        return [
            Advice(
                _(
                    "{name} points to {target}, where the mail platform has not published a key: "
                    "switch DKIM signing on for the domain there (Microsoft 365: Defender portal, "
                    "Email authentication settings, DKIM)."
                ).format(name=name, target=key.cname),
                "https://learn.microsoft.com/en-us/defender-office-365/email-authentication-dkim-configure",
            )
        ]
    if not key.found:
        return [
            Advice(
                _(
                    "Publish the public key for selector '{selector}' as a TXT record at {name} "
                    "(the mail platform gives the value: 'v=DKIM1; k=rsa; p=…'), or give the "
                    "selector the platform really signs with."
                ).format(selector=key.selector, name=name),
                KEY_URL,
            )
        ]
    if key.revoked:
        return [
            Advice(
                _(
                    "The key at {name} is revoked: if mail is still signed with selector "
                    "'{selector}', switch signing to a selector that has a key."
                ).format(name=name, selector=key.selector),
                KEY_URL,
            )
        ]
    if key.status == "ok" and not key.testing:
        return []
    out = []
    if key.key_bits and key.key_type == "rsa" and key.key_bits < GOOD_RSA_BITS:
        out.append(
            Advice(
                _(
                    "Rotate the DKIM key at {name} ({bits} bits) to {good} bits: publish a new "
                    "key at a new selector, switch signing to it, then empty p= of the old one."
                ).format(name=name, bits=key.key_bits, good=GOOD_RSA_BITS),
                "https://www.rfc-editor.org/rfc/rfc8301",
            )
        )
    if key.testing:
        out.append(
            Advice(
                _("Remove t=y from {name} once signatures verify (test mode).").format(name=name),
                KEY_URL,
            )
        )
    out.extend(
        Advice(_("{name}: {problem}").format(name=name, problem=p), KEY_URL)
        for p in key.problems
        if "bits" not in p and not p.startswith("t=y")
    )
    return out
