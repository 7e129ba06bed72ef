"""The big receivers' sender rules, each marked met, not met or unknown from the checks run.

Why: since 2024 Gmail, Yahoo and Microsoft reject mail from senders that miss their
published rules (SPF, DKIM, DMARC at least p=none, alignment, reverse DNS, TLS). Side by
side, a support engineer sees which rule a rejection is about. The rules and their
sources live in `requirements.toml` beside this module. `met` is None whenever the checks
cannot tell (no address, a DKIM selector not known, a lookup that failed): never a guess.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from handlers.i18n import _, ngettext
from handlers.results import CheckResult


@dataclass(frozen=True)
class Receiver:
    id: str
    name: str
    title: str
    url: str


@dataclass(frozen=True)
class Rule:
    id: str
    rule: str
    short: str
    who: tuple[str, ...]


@dataclass(frozen=True)
class Requirement:
    """One rule, who asks for it, and whether the checks show it met (None: unknown)."""

    id: str
    rule: str
    short: str
    who: tuple[str, ...]
    met: bool | None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "short": self.short,
            "who": list(self.who),
            "met": self.met,
            "detail": self.detail,
        }


@lru_cache(maxsize=1)
def _data() -> tuple[tuple[Receiver, ...], tuple[Rule, ...]]:
    text = resources.files("handlers").joinpath("requirements.toml").read_text("utf-8")
    data = tomllib.loads(text)
    receivers = tuple(
        Receiver(key, r["name"], r["title"], r["url"]) for key, r in data["receiver"].items()
    )
    rules = tuple(Rule(r["id"], r["rule"], r["short"], tuple(r["who"])) for r in data["rule"])
    return receivers, rules


def receivers() -> tuple[Receiver, ...]:
    return _data()[0]


def has_domain(checks: Mapping[str, CheckResult]) -> bool:
    """True when a mail domain was checked (the report then lists the rules)."""
    for name in ("spf", "dmarc", "dkim"):
        check = checks.get(name)
        if check is not None and check.status != "skipped" and getattr(check, "domain", None):
            return True
    bounce = checks.get("bounce")
    return bool(bounce is not None and getattr(bounce, "domain", None))


def evaluate(checks: Mapping[str, CheckResult]) -> list[Requirement]:
    """Every rule of `requirements.toml`, judged from the checks of one report."""
    judged = {
        "ptr": _ptr(checks),
        "spf_pass": _spf(checks),
        "dkim_key": _dkim(checks),
        "dmarc_policy": _dmarc(checks),
        "tls": _tls(checks),
    }
    judged["alignment"] = _alignment(checks, judged["dkim_key"][0])
    out = []
    for rule in _data()[1]:
        met, detail = judged.get(rule.id, (None, ""))
        out.append(Requirement(rule.id, rule.rule, rule.short, rule.who, met, detail))
    return out


def summary_line(receiver: Receiver, requirements: Sequence[Requirement]) -> str:
    """'Gmail bulk sender rules: 4 of 5 met; not met: DMARC' for one receiver."""
    return line_for(receiver, [r.to_json() for r in requirements])


def line_for(receiver: Receiver, items: Sequence[Mapping[str, Any]]) -> str:
    """The receiver's line from the report's JSON `requirements` (what the renderers have)."""
    mine = [r for r in items if receiver.id in (r.get("who") or [])]
    met = [r for r in mine if r.get("met") is True]
    missing = [str(r.get("short") or r.get("rule")) for r in mine if r.get("met") is False]
    unknown = [str(r.get("short") or r.get("rule")) for r in mine if r.get("met") is None]
    line = ngettext("{title}: {n} of {total} met", "{title}: {n} of {total} met", len(met)).format(
        title=_(receiver.title), n=len(met), total=len(mine)
    )
    # "not met", not "missing": a rule fails as often for a record that is there but wrong
    # (SPF fail for this address) as for one that is absent.
    if missing:
        line += _("; not met: {rules}").format(rules=", ".join(_(m) for m in missing))
    if unknown:
        line += _("; unknown: {rules}").format(rules=", ".join(_(u) for u in unknown))
    return line


Judgement = tuple[bool | None, str]


def _ptr(checks: Mapping[str, CheckResult]) -> Judgement:
    ptr = checks.get("ptr")
    if ptr is None or ptr.status in ("error", "skipped"):
        return None, _("reverse DNS not checked")
    confirmed = bool(getattr(ptr, "forward_confirmed", False))
    return confirmed, "" if confirmed else ptr.summary


def _spf(checks: Mapping[str, CheckResult]) -> Judgement:
    spf = checks.get("spf")
    result = getattr(spf, "result", None) if spf is not None else None
    if spf is None or getattr(spf, "ip", None) is None or result in (None, "temperror"):
        return None, _("SPF not evaluated for an address")
    return result == "pass", "" if result == "pass" else spf.summary


def _dkim(checks: Mapping[str, CheckResult]) -> Judgement:
    dkim = checks.get("dkim")
    keys = getattr(dkim, "selectors", []) if dkim is not None else []
    usable = [k for k in keys if k.found and not k.revoked and (k.key_bits or 0) >= 1024]
    if usable:
        return True, ""
    if dkim is None or dkim.status in ("error", "skipped"):
        return None, _("DKIM not checked")
    if getattr(dkim, "guessed", False) and not any(k.found for k in keys):
        return None, _("no key at the common selectors; the real selector is not known")
    return False, dkim.summary


def _dmarc(checks: Mapping[str, CheckResult]) -> Judgement:
    dmarc = checks.get("dmarc")
    if dmarc is None or dmarc.status in ("error", "skipped"):
        return None, _("DMARC not checked")
    policy = getattr(dmarc, "policy", None)
    return policy is not None, "" if policy else dmarc.summary


def _alignment(checks: Mapping[str, CheckResult], dkim_met: bool | None) -> Judgement:
    dmarc = checks.get("dmarc")
    aligned = getattr(dmarc, "spf_aligned", None) if dmarc is not None else None
    if aligned is True:
        return True, ""
    if aligned is None:
        return None, _("alignment needs an address to evaluate SPF")
    if dkim_met is False:
        return False, _("SPF is not aligned and no DKIM key signs for the domain")
    return None, _("SPF is not aligned; an aligned DKIM signature would also do")


def _tls(checks: Mapping[str, CheckResult]) -> Judgement:
    bounce = checks.get("bounce")
    if bounce is not None and getattr(bounce, "kind", None) == "tls":
        return False, _("the receiver says the message was not sent over TLS")
    for name in ("mx", "smtp"):
        check = checks.get(name)
        if check is None or check.status == "skipped":
            continue
        hosts = getattr(check, "hosts", None)
        if hosts is not None:
            answering = [h for h in hosts if getattr(h, "failure", None) is None]
            if answering:
                return all(h.starttls for h in answering), ""
        elif getattr(check, "failure", None) is None and hasattr(check, "starttls"):
            return bool(check.starttls), ""
    return None, _("TLS not probed (smtpcheck mx DOMAIN shows it)")
