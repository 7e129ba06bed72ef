"""One DMARC record read as RFC 9989 (DMARCbis) says receivers read it, with its mistakes.

Receivers are forgiving: unknown tags are ignored, a bad value falls back to the default,
a record without a valid `p` counts as `p=none` when it has a usable `rua` and is ignored
otherwise. A record that "works" this way may still not do what its owner meant, so every
problem is worded like checkdmarc's: what is wrong, why it matters, what to write instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from handlers.taglist import parse_tags

RFC = "https://www.rfc-editor.org/rfc/rfc9989"
TAGS_URL = f"{RFC}#section-4.7"
POLICIES = ("none", "quarantine", "reject")
#: Tags RFC 7489 had and RFC 9989 removed: harmless, ignored by receivers.
OBSOLETE = {
    "pct": "receivers apply the policy to all failing mail; use t=y to test a policy instead",
    "rf": "failure reports have one format",
    "ri": "receivers choose the report interval (usually daily)",
}
KNOWN = frozenset({"v", "p", "sp", "np", "adkim", "aspf", "fo", "psd", "rua", "ruf", "t"})

#: A TXT record is a DMARC record when it starts with a version tag (RFC 9989 section 4.7).
_VERSION = re.compile(r"^[vV][ \t]*=[ \t]*DMARC1")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_MAILTO = re.compile(r"^mailto:[^@\s]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,63})(?:!\d+[kmgt]?)?$", re.I)

Severity = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class DmarcWarning:
    """One problem or remark: what is wrong, why it matters, what to write instead."""

    code: str
    text: str
    why: str
    fix: str
    url: str = TAGS_URL
    #: `ok` for remarks that change nothing for delivery (an obsolete tag, no reports).
    severity: Severity = "warn"


@dataclass
class DmarcRecord:
    """The tags that matter, each None when absent or invalid (receivers then use defaults)."""

    text: str
    p: str | None = None
    sp: str | None = None
    np: str | None = None
    aspf: str = "r"
    adkim: str = "r"
    psd: str = "u"
    testing: bool = False
    rua: list[str] = field(default_factory=list)
    ruf: list[str] = field(default_factory=list)
    #: The `p`, `sp` or `np` tag is missing or invalid somewhere it is needed.
    policy_invalid: bool = False
    warnings: list[DmarcWarning] = field(default_factory=list)

    @property
    def usable_rua(self) -> bool:
        return any(_URI.match(uri) for uri in self.rua)


def is_dmarc(text: str) -> bool:
    """True when a TXT string is a DMARC record (the rest of the TXT set is not DMARC's)."""
    return _VERSION.match(text) is not None


def parse_record(text: str, where: str) -> DmarcRecord:
    """Read the record published at `_dmarc.{where}`."""
    record = DmarcRecord(text)
    warn = record.warnings.append
    tags = parse_tags(text, lower_names=True)
    if tags.tags.get("v") != "DMARC1" or tags.order[:1] != ("v",):
        warn(
            DmarcWarning(
                "version",
                f"The record at _dmarc.{where} does not start with exactly 'v=DMARC1;'",
                "Receivers ignore a record whose first tag is not v=DMARC1, so no policy applies.",
                "Start the record with 'v=DMARC1; ' followed by the other tags.",
                severity="fail",
            )
        )
    for problem in tags.problems:
        warn(
            DmarcWarning(
                "syntax",
                f"Syntax error in the DMARC record of {where}: {problem}",
                "Receivers skip what they cannot parse, so that part of the record has no effect.",
                "Write tags as name=value separated by '; ', e.g. 'v=DMARC1; p=none; rua=mailto:…'.",
                severity="fail",
            )
        )
    for name in tags.duplicates:
        warn(
            DmarcWarning(
                "duplicate_tag",
                f"The tag '{name}' appears twice in the DMARC record of {where}",
                "Receivers may read either value, so the record means different things to different receivers.",
                f"Keep one '{name}=' tag.",
                severity="fail",
            )
        )
    values = tags.tags
    record.p = _policy(record, values, "p", where)
    record.sp = _policy(record, values, "sp", where)
    record.np = _policy(record, values, "np", where)
    record.aspf = _choice(record, values, "aspf", ("r", "s"), "r", where)
    record.adkim = _choice(record, values, "adkim", ("r", "s"), "r", where)
    record.psd = _choice(record, values, "psd", ("y", "n", "u"), "u", where)
    record.testing = _choice(record, values, "t", ("y", "n"), "n", where) == "y"
    _fo(record, values, where)
    record.rua = _uris(record, values, "rua", where)
    record.ruf = _uris(record, values, "ruf", where)
    if "p" not in values:
        record.policy_invalid = True
        if record.usable_rua:
            warn(
                DmarcWarning(
                    "no_policy",
                    f"The DMARC record of {where} has no p= tag",
                    "Receivers treat it as p=none (monitoring only) because it has a rua address.",
                    "Add the policy right after the version: 'v=DMARC1; p=none; …'.",
                )
            )
        else:
            warn(
                DmarcWarning(
                    "no_policy",
                    f"The DMARC record of {where} has no p= tag and no usable rua address",
                    "Receivers ignore such a record entirely (RFC 9989 section 4.7): the domain has no DMARC policy.",
                    f"Publish 'v=DMARC1; p=none; rua=mailto:dmarc-reports@{where}'.",
                    severity="fail",
                )
            )
    if not record.rua:
        warn(
            DmarcWarning(
                "no_rua",
                f"The DMARC record of {where} asks for no aggregate reports (no rua=)",
                "Without reports nobody sees which servers send mail as the domain, or which of them fail SPF and DKIM.",
                f"Add 'rua=mailto:dmarc-reports@{where}' (a mailbox someone reads, or a report service).",
                severity="ok",
            )
        )
    if record.testing:
        warn(
            DmarcWarning(
                "testing",
                f"The DMARC record of {where} is in test mode (t=y)",
                "Receivers are asked not to apply the policy yet.",
                "Remove t=y once the reports show all legitimate mail passing.",
                severity="ok",
            )
        )
    if record.p == "none" and not record.policy_invalid:
        warn(
            DmarcWarning(
                "monitoring",
                f"The DMARC policy of {where} is p=none (monitoring only)",
                "That meets the big receivers' minimum, but mail failing DMARC is still delivered, spoofed mail included.",
                "Once the aggregate reports show all legitimate mail passing, move to p=quarantine, then p=reject.",
                severity="ok",
            )
        )
    for name in tags.order:
        if name in OBSOLETE:
            warn(
                DmarcWarning(
                    "obsolete_tag",
                    f"The tag '{name}' in the DMARC record of {where} was removed by RFC 9989",
                    f"Receivers ignore it: {OBSOLETE[name]}.",
                    f"Remove '{name}={_short(values[name])}'.",
                    severity="ok",
                )
            )
        elif name not in KNOWN:
            warn(
                DmarcWarning(
                    "unknown_tag",
                    f"'{name}' is not a DMARC tag (in the record of {where})",
                    "Receivers ignore unknown tags; a misspelt tag (e.g. 'rue' for 'rua') does nothing.",
                    f"Remove '{name}=' or correct its name (tags: {', '.join(sorted(KNOWN))}).",
                    severity="ok",
                )
            )
    return record


def _policy(record: DmarcRecord, values: dict[str, str], tag: str, where: str) -> str | None:
    value = values.get(tag)
    if value is None:
        return None
    if value.lower() in POLICIES:
        return value.lower()
    record.policy_invalid = True
    usable = record.usable_rua or any(
        _URI.match(u.strip()) for u in values.get("rua", "").split(",")
    )
    record.warnings.append(
        DmarcWarning(
            f"invalid_{tag}",
            f"'{tag}={_short(value)}' in the DMARC record of {where} is not a policy",
            "Receivers then act as if the record said p=none"
            + (
                " (it has a rua address)"
                if usable
                else "; with no usable rua they ignore the record"
            )
            + ".",
            f"Write {tag}=none, {tag}=quarantine or {tag}=reject.",
            severity="fail",
        )
    )
    return None


def _choice(
    record: DmarcRecord,
    values: dict[str, str],
    tag: str,
    allowed: tuple[str, ...],
    default: str,
    where: str,
) -> str:
    value = values.get(tag)
    if value is None:
        return default
    if value.lower() in allowed:
        return value.lower()
    record.warnings.append(
        DmarcWarning(
            f"invalid_{tag}",
            f"'{tag}={_short(value)}' in the DMARC record of {where} is not valid",
            f"Receivers use the default ({tag}={default}) instead.",
            f"Write {' or '.join(f'{tag}={a}' for a in allowed)}.",
            severity="fail",
        )
    )
    return default


def _fo(record: DmarcRecord, values: dict[str, str], where: str) -> None:
    value = values.get("fo")
    if value is None:
        return
    options = [o.strip() for o in value.split(":")]
    if options and all(o in ("0", "1", "d", "s") for o in options):
        return
    record.warnings.append(
        DmarcWarning(
            "invalid_fo",
            f"'fo={_short(value)}' in the DMARC record of {where} is not valid",
            "Receivers use the default (fo=0) instead.",
            "Write fo=0, fo=1, fo=d, fo=s or a colon list such as fo=d:s.",
            severity="fail",
        )
    )


def _uris(record: DmarcRecord, values: dict[str, str], tag: str, where: str) -> list[str]:
    value = values.get(tag)
    if value is None:
        return []
    uris = [u.strip() for u in value.split(",") if u.strip()]
    for uri in uris:
        if not _URI.match(uri):
            example = f"mailto:{uri}" if "@" in uri else f"mailto:dmarc-reports@{where}"
            record.warnings.append(
                DmarcWarning(
                    f"invalid_{tag}",
                    f"'{_short(uri)}' in {tag}= of the DMARC record of {where} is not a URI",
                    "Receivers ignore it, so no reports reach that address.",
                    f"Write a mailto: URI: '{tag}={example}'.",
                )
            )
        elif uri.lower().startswith("mailto:") and not _MAILTO.match(uri):
            record.warnings.append(
                DmarcWarning(
                    f"invalid_{tag}",
                    f"'{_short(uri)}' in {tag}= of the DMARC record of {where} is not a valid mail address",
                    "Receivers cannot send reports to it.",
                    f"Write '{tag}=mailto:dmarc-reports@{where}' with a real mailbox.",
                )
            )
    return uris


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
