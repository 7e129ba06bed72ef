"""The blocklist catalogue: which DNS blocklists to ask and how to read their answers.

The data lives in `catalogue.toml` beside this module; a user's TOML file
(`SMTPCHECK_ZONES`) can add entries, replace them (same `zone`) or disable them
(`disabled = true`). Each entry says what its return codes mean, which codes are
errors rather than listings, whether it is a policy or a reputation list, how much
weight receivers give it (tier), where to look an address up, and its terms of use.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from handlers.i18n import N_, _

#: reputation: the address behaved badly; policy: it should not send directly; allow: an
#: allow-list (DNSWL), where a hit is a good sign and never a listing.
Kind = Literal["reputation", "policy", "allow"]
Tier = Literal["major", "secondary", "informational"]
ErrorReason = Literal["resolver_blocked", "bad_key", "unreliable", "error"]

_KINDS = ("reputation", "policy", "allow")
_TIERS = ("major", "secondary", "informational")
_ERROR_REASONS = ("resolver_blocked", "bad_key", "unreliable", "error")


class CatalogueError(ValueError):
    """A catalogue file that cannot be used, with the entry and field at fault."""


@dataclass(frozen=True)
class Code:
    """What one return code (e.g. 127.0.0.10) of a list means."""

    meaning: str
    kind: Kind
    #: What to do about a listing with this code, when the generic advice for its kind does not fit.
    advice: str | None = None


@dataclass(frozen=True)
class Zone:
    """One DNS blocklist."""

    zone: str
    name: str
    kind: Kind
    tier: Tier
    lookup_url: str
    ipv4: bool = True
    ipv6: bool = False
    codes: Mapping[str, Code] = field(default_factory=dict)
    #: Answers that are not listings: code -> reason (resolver_blocked, bad_key, unreliable, error).
    error_codes: Mapping[str, ErrorReason] = field(default_factory=dict)
    removal_url: str | None = None
    #: Who must register or hold a key before the list answers (None: free to query).
    access: str | None = None
    terms: str = ""
    #: Spamhaus Data Query Service zone; with a key, `KEY.<dqs_zone>` is asked instead of `zone`.
    dqs_zone: str | None = None
    #: Whether the list follows RFC 5782 test points (127.0.0.2 listed, 127.0.0.1 not).
    selftest: bool = True
    #: Meaning for a listed code the catalogue does not know.
    #: What a code the catalogue does not describe means (translated where it is shown).
    default_meaning: str = N_("listed")
    #: True when only the codes in `codes` are listings; any other answer is `unreliable`
    #: (lists such as SpamRATS answer other 127.x codes when they refuse a resolver).
    strict_codes: bool = False

    def lookup_for(self, ip: str) -> str:
        """The list's lookup page for `ip`."""
        return self.lookup_url.replace("{ip}", ip)

    def removal_for(self, ip: str) -> str:
        """The page where `ip` is taken off the list (the lookup page when they are one)."""
        return (self.removal_url or self.lookup_url).replace("{ip}", ip)

    def code(self, answer: str) -> Code | None:
        """The catalogue's entry for `answer`: exact first, then wildcard keys like `127.0.*.3`."""
        known = self.codes.get(answer)
        if known is not None:
            return known
        for pattern, spec in self.codes.items():
            if "*" in pattern and fnmatch.fnmatchcase(answer, pattern):
                return spec
        return None

    def code_kind(self, code: str) -> Kind:
        known = self.code(code)
        return known.kind if known else self.kind

    def meaning(self, code: str) -> str:
        known = self.code(code)
        return known.meaning if known else self.default_meaning


def _zone_from(entry: Mapping[str, Any], where: str) -> Zone:
    try:
        zone = str(entry["zone"]).lower().rstrip(".")
        kind = entry.get("kind", "reputation")
        tier = entry.get("tier", "secondary")
        if kind not in _KINDS:
            raise CatalogueError(
                _("{where}: kind must be one of {_KINDS}").format(
                    where=where, _KINDS=", ".join(_KINDS)
                )
            )
        if tier not in _TIERS:
            raise CatalogueError(
                _("{where}: tier must be one of {_TIERS}").format(
                    where=where, _TIERS=", ".join(_TIERS)
                )
            )
        codes = {}
        for code, spec in dict(entry.get("codes", {})).items():
            if isinstance(spec, str):
                codes[code] = Code(spec, kind)
            else:
                code_kind = spec.get("kind", kind)
                if code_kind not in _KINDS:
                    raise CatalogueError(
                        _("{where}: code {code} kind must be one of {_KINDS}").format(
                            where=where, code=code, _KINDS=", ".join(_KINDS)
                        )
                    )
                advice = spec.get("advice")
                codes[code] = Code(
                    str(spec["meaning"]), code_kind, None if advice is None else str(advice)
                )
        errors = dict(entry.get("error_codes", {}))
        for code, reason in errors.items():
            if reason not in _ERROR_REASONS:
                raise CatalogueError(
                    _("{where}: error code {code} must map to one of {_ERROR_REASONS}").format(
                        where=where, code=code, _ERROR_REASONS=", ".join(_ERROR_REASONS)
                    )
                )
        return Zone(
            zone=zone,
            name=str(entry.get("name", zone)),
            kind=kind,
            tier=tier,
            lookup_url=str(entry["lookup_url"]),
            ipv4=bool(entry.get("ipv4", True)),
            ipv6=bool(entry.get("ipv6", False)),
            codes=codes,
            error_codes=errors,
            removal_url=entry.get("removal_url"),
            access=entry.get("access"),
            terms=str(entry.get("terms", "")),
            dqs_zone=entry.get("dqs_zone"),
            selftest=bool(entry.get("selftest", True)),
            default_meaning=str(entry.get("default_meaning", N_("listed"))),
            strict_codes=bool(entry.get("strict_codes", False)),
        )
    except KeyError as exc:
        raise CatalogueError(
            _("{where}: missing field {args!r}").format(where=where, args=exc.args[0])
        ) from exc
    except (TypeError, AttributeError) as exc:
        raise CatalogueError(_("{where}: {exc}").format(where=where, exc=exc)) from exc


def _entries(data: Mapping[str, Any], source: str) -> list[tuple[Mapping[str, Any], str]]:
    lists = data.get("list", [])
    if not isinstance(lists, list):
        raise CatalogueError(_("{source}: expected [[list]] tables").format(source=source))
    for n, entry in enumerate(lists):
        if not isinstance(entry, dict):
            raise CatalogueError(
                _("{source} [[list]] #{value}: expected a table").format(source=source, value=n + 1)
            )
    return [
        (entry, f"{source} [[list]] #{n + 1} ({entry.get('zone', '?')})")
        for n, entry in enumerate(lists)
    ]


def builtin() -> tuple[Zone, ...]:
    """The catalogue shipped with smtpcheck."""
    text = resources.files("handlers").joinpath("catalogue.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return tuple(_zone_from(entry, where) for entry, where in _entries(data, "catalogue.toml"))


def load(user_file: Path | str | None = None) -> tuple[Zone, ...]:
    """The built-in catalogue with a user's file applied (add, replace by zone, or disable).

    A user file may also say `replace_builtin = true` at the top to start from nothing.
    """
    zones = {z.zone: z for z in builtin()}
    if user_file is None:
        return tuple(zones.values())
    path = Path(user_file)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise CatalogueError(
            _("{path}: cannot read ({strerror})").format(path=path, strerror=exc.strerror)
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(
            _("{path}: not valid TOML ({exc})").format(path=path, exc=exc)
        ) from exc
    if data.get("replace_builtin"):
        zones = {}
    for entry, where in _entries(data, str(path)):
        name = str(entry.get("zone", "")).lower().rstrip(".")
        if not name:
            raise CatalogueError(_("{where}: missing field 'zone'").format(where=where))
        if entry.get("disabled"):
            zones.pop(name, None)
            continue
        base = zones.get(name)
        if base is not None and "lookup_url" not in entry:
            merged = _as_entry(base) | dict(entry)
            zones[name] = _zone_from(merged, where)
        else:
            zones[name] = _zone_from(entry, where)
    return tuple(zones.values())


def _as_entry(zone: Zone) -> dict[str, Any]:
    """A zone back as a TOML-like entry, so a user's partial entry can override fields."""
    return {
        "zone": zone.zone,
        "name": zone.name,
        "kind": zone.kind,
        "tier": zone.tier,
        "lookup_url": zone.lookup_url,
        "ipv4": zone.ipv4,
        "ipv6": zone.ipv6,
        "codes": {
            c: {"meaning": v.meaning, "kind": v.kind}
            | ({"advice": v.advice} if v.advice is not None else {})
            for c, v in zone.codes.items()
        },
        "error_codes": dict(zone.error_codes),
        "removal_url": zone.removal_url,
        "access": zone.access,
        "terms": zone.terms,
        "dqs_zone": zone.dqs_zone,
        "selftest": zone.selftest,
        "default_meaning": zone.default_meaning,
        "strict_codes": zone.strict_codes,
    }
