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

from handlers.i18n import N_, _
from handlers.taglist import parse_tags

RFC = "https://www.rfc-editor.org/rfc/rfc9989"
TAGS_URL = f"{RFC}#section-4.7"
POLICIES = ("none", "quarantine", "reject")
#: Tags RFC 7489 had and RFC 9989 removed: harmless, ignored by receivers.
OBSOLETE = {
    "pct": N_("receivers apply the policy to all failing mail; use t=y to test a policy instead"),
    "rf": N_("failure reports have one format"),
    "ri": N_("receivers choose the report interval (usually daily)"),
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
                _("The record at _dmarc.{where} does not start with exactly 'v=DMARC1;'").format(
                    where=where
                ),
                _(
                    "Receivers ignore a record whose first tag is not v=DMARC1, so no policy applies."
                ),
                _("Start the record with 'v=DMARC1; ' followed by the other tags."),
                severity="fail",
            )
        )
    for problem in tags.problems:
        warn(
            DmarcWarning(
                "syntax",
                _("Syntax error in the DMARC record of {where}: {problem}").format(
                    where=where, problem=problem
                ),
                _(
                    "Receivers skip what they cannot parse, so that part of the record has no effect."
                ),
                _(
                    "Write tags as name=value separated by '; ', e.g. 'v=DMARC1; p=none; rua=mailto:…'."
                ),
                severity="fail",
            )
        )
    for name in tags.duplicates:
        warn(
            DmarcWarning(
                "duplicate_tag",
                _("The tag '{name}' appears twice in the DMARC record of {where}").format(
                    name=name, where=where
                ),
                _(
                    "Receivers may read either value, so the record means different things to different receivers."
                ),
                _("Keep one '{name}=' tag.").format(name=name),
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
                    _("The DMARC record of {where} has no p= tag").format(where=where),
                    _(
                        "Receivers treat it as p=none (monitoring only) because it has a rua address."
                    ),
                    _("Add the policy right after the version: 'v=DMARC1; p=none; …'."),
                )
            )
        else:
            warn(
                DmarcWarning(
                    "no_policy",
                    _("The DMARC record of {where} has no p= tag and no usable rua address").format(
                        where=where
                    ),
                    _(
                        "Receivers ignore such a record entirely (RFC 9989 section 4.7): the domain has no DMARC policy."
                    ),
                    _("Publish 'v=DMARC1; p=none; rua=mailto:dmarc-reports@{where}'.").format(
                        where=where
                    ),
                    severity="fail",
                )
            )
    if not record.rua:
        warn(
            DmarcWarning(
                "no_rua",
                _("The DMARC record of {where} asks for no aggregate reports (no rua=)").format(
                    where=where
                ),
                _(
                    "Without reports nobody sees which servers send mail as the domain, or which of them fail SPF and DKIM."
                ),
                _(
                    "Add 'rua=mailto:dmarc-reports@{where}' (a mailbox someone reads, or a report service)."
                ).format(where=where),
                severity="ok",
            )
        )
    if record.testing:
        warn(
            DmarcWarning(
                "testing",
                _("The DMARC record of {where} is in test mode (t=y)").format(where=where),
                _("Receivers are asked not to apply the policy yet."),
                _("Remove t=y once the reports show all legitimate mail passing."),
                severity="ok",
            )
        )
    if record.p == "none" and not record.policy_invalid:
        warn(
            DmarcWarning(
                "monitoring",
                _("The DMARC policy of {where} is p=none (monitoring only)").format(where=where),
                _(
                    "That meets the big receivers' minimum, but mail failing DMARC is still delivered, spoofed mail included."
                ),
                _(
                    "Once the aggregate reports show all legitimate mail passing, move to p=quarantine, then p=reject."
                ),
                severity="ok",
            )
        )
    for name in tags.order:
        if name in OBSOLETE:
            warn(
                DmarcWarning(
                    "obsolete_tag",
                    _(
                        "The tag '{name}' in the DMARC record of {where} was removed by RFC 9989"
                    ).format(name=name, where=where),
                    _("Receivers ignore it: {why}.").format(why=_(OBSOLETE[name])),
                    _("Remove '{name}={value}'.").format(name=name, value=_short(values[name])),
                    severity="ok",
                )
            )
        elif name not in KNOWN:
            warn(
                DmarcWarning(
                    "unknown_tag",
                    _("'{name}' is not a DMARC tag (in the record of {where})").format(
                        name=name, where=where
                    ),
                    _(
                        "Receivers ignore unknown tags; a misspelt tag (e.g. 'rue' for 'rua') does nothing."
                    ),
                    _("Remove '{name}=' or correct its name (tags: {items}).").format(
                        name=name, items=", ".join(sorted(KNOWN))
                    ),
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
            _("'{tag}={value}' in the DMARC record of {where} is not a policy").format(
                tag=tag, value=_short(value), where=where
            ),
            _("Receivers then act as if the record said p=none (it has a rua address).")
            if usable
            else _(
                "Receivers then act as if the record said p=none; with no usable rua they ignore the record."
            ),
            _("Write {tag}=none, {tag}=quarantine or {tag}=reject.").format(tag=tag),
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
            _("'{tag}={value}' in the DMARC record of {where} is not valid").format(
                tag=tag, value=_short(value), where=where
            ),
            _("Receivers use the default ({tag}={default}) instead.").format(
                tag=tag, default=default
            ),
            _("Write {choices}.").format(choices=_(" or ").join(f"{tag}={a}" for a in allowed)),
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
            _("'fo={value}' in the DMARC record of {where} is not valid").format(
                value=_short(value), where=where
            ),
            _("Receivers use the default (fo=0) instead."),
            _("Write fo=0, fo=1, fo=d, fo=s or a colon list such as fo=d:s."),
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
                    _("'{uri}' in {tag}= of the DMARC record of {where} is not a URI").format(
                        uri=_short(uri), tag=tag, where=where
                    ),
                    _("Receivers ignore it, so no reports reach that address."),
                    _("Write a mailto: URI: '{tag}={example}'.").format(tag=tag, example=example),
                )
            )
        elif uri.lower().startswith("mailto:") and not _MAILTO.match(uri):
            record.warnings.append(
                DmarcWarning(
                    f"invalid_{tag}",
                    _(
                        "'{uri}' in {tag}= of the DMARC record of {where} is not a valid mail address"
                    ).format(uri=_short(uri), tag=tag, where=where),
                    _("Receivers cannot send reports to it."),
                    _("Write '{tag}=mailto:dmarc-reports@{where}' with a real mailbox.").format(
                        tag=tag, where=where
                    ),
                )
            )
    return uris


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
