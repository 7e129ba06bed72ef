"""What changed between two JSON reports of the same target, in sentences.

Works on the JSON report of INTERFACE.md (not on `Report` objects) so reports stored by
older versions still compare. Times, durations and the resolver never count as changes.

A zone that could not be asked is neither clean nor listed, so going from "listed" to
"unavailable" is not a delisting. `carry_forward` keeps what was last known about such
zones, so a watch that loses a zone to a timeout still notices the delisting later.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from handlers.i18n import _

#: Checks compared field by field; any other check is compared by its status.
_KNOWN_CHECKS = ("dnsbl", "ptr", "spf", "dmarc", "dkim")


@dataclass(frozen=True)
class Change:
    """One sentence, and whether it is worth a post on its own.

    Not material: a zone that could (not) be asked, and the verdict line (it only
    restates the material changes, or a zone's availability).
    """

    text: str
    material: bool = True


def changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Sentences for what changed from `old` to `new`, the verdict first; empty when nothing did.

    Includes a zone, PTR or SPF becoming (un)checkable; `material` says whether anything
    beyond that changed. With no `old` report there is nothing to compare: empty.
    """
    return [c.text for c in diff(old, new)]


def material(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """True when something a watcher cares about changed (a listing, the PTR, SPF)."""
    return any(c.material for c in diff(old, new))


def is_clean(report_json: Mapping[str, Any]) -> bool:
    """The report's verdict is ok: nothing left to fix."""
    return report_json.get("verdict") == "ok"


def check_kind(report: Mapping[str, Any]) -> str:
    """Which check a report is: full, bl, ptr, spf, smtp, mx, egress, bounce, range."""
    checks = report.get("checks")
    names = set(checks) if isinstance(checks, Mapping) else set()
    for kind in ("bounce", "egress", "range", "smtp", "mx"):
        if kind in names:
            return kind
    if {"dnsbl", "ptr"} <= names:
        return "full"
    if names == {"dnsbl"}:
        return "bl"
    if names == {"ptr"}:
        return "ptr"
    return sorted(names)[0] if names else "-"


def scope(report: Mapping[str, Any]) -> tuple[str, tuple[str, ...], Any]:
    """What a report checked: its kind, the mail domains its checks ran for, the SMTP port.
    Two reports compare only when their scopes are equal (a PTR-only check against a full
    one would read "verdict fail → ok" though nothing changed)."""
    checks = _checks(report)
    domains = sorted(
        {
            str(check["domain"]).lower()
            for check in checks.values()
            if isinstance(check, Mapping) and check.get("domain") and _status(check) != "skipped"
        }
    )
    smtp = checks.get("smtp")
    port = smtp.get("port") if isinstance(smtp, Mapping) else None
    return check_kind(report), tuple(domains), port


def same_check(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether `old` and `new` are the same check of the same things (see `scope`)."""
    return scope(old) == scope(new)


def diff(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[Change]:
    """Every change from `old` to `new`, the verdict first; nothing when they are not the
    same check (`same_check`): those are not compared."""
    if old is None or not same_check(old, new):
        return []
    out: list[Change] = []
    old_checks = _checks(old)
    new_checks = _checks(new)
    out += _dnsbl(old_checks.get("dnsbl"), new_checks.get("dnsbl"))
    out += _ptr(old_checks.get("ptr"), new_checks.get("ptr"))
    out += _spf(old_checks.get("spf"), new_checks.get("spf"))
    out += _dmarc(old_checks.get("dmarc"), new_checks.get("dmarc"))
    out += _dkim(old_checks.get("dkim"), new_checks.get("dkim"))
    for name in sorted(set(old_checks) & set(new_checks)):
        if name in _KNOWN_CHECKS:
            continue
        before, after = _status(old_checks[name]), _status(new_checks[name])
        if before != after and "skipped" not in (before, after):
            out.append(
                Change(
                    _("{check} check {before} → {after}").format(
                        check=name.upper(), before=before, after=after
                    )
                )
            )
    was, now = old.get("verdict"), new.get("verdict")
    if was and now and was != now:
        # Explained by the changes above when there are any; news on its own otherwise.
        out.insert(
            0, Change(_("verdict {before} → {after}").format(before=was, after=now), not out)
        )
    return out


def carry_forward(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """`new`, with each blocklist, PTR or SPF it could not ask put back as `old` knew it.

    The result is a baseline for the next comparison, not a report to show: a zone
    listed before a timeout stays listed until an answer says otherwise.
    """
    out = copy.deepcopy(dict(new))
    if old is None:
        return out
    old_checks, new_checks = _checks(old), out.get("checks")
    if isinstance(new_checks, dict):
        ptr, spf = old_checks.get("ptr"), old_checks.get("spf")
        if _status(new_checks.get("ptr")) == "error" and _status(ptr) not in ("error", "skipped"):
            new_checks["ptr"] = copy.deepcopy(ptr)
        unknown = isinstance(new_checks.get("spf"), Mapping) and new_checks["spf"].get("result")
        if (
            unknown == "temperror"
            and isinstance(spf, Mapping)
            and spf.get("result")
            not in (
                None,
                "temperror",
            )
        ):
            new_checks["spf"] = copy.deepcopy(spf)
    before = old_checks.get("dnsbl")
    after = out.get("checks", {}).get("dnsbl")
    if not isinstance(before, Mapping) or not isinstance(after, dict):
        return out
    old_listed = {e.get("zone"): e for e in _entries(before, "listed")}
    old_clean = set(_zones(before, "clean"))
    still_unavailable = []
    for entry in _entries(after, "unavailable"):
        zone = entry.get("zone")
        if zone in old_listed:
            after.setdefault("listed", []).append(copy.deepcopy(dict(old_listed[zone])))
        elif zone in old_clean:
            after.setdefault("clean", []).append(zone)
        else:
            still_unavailable.append(entry)
    after["unavailable"] = still_unavailable
    return out


# ---- blocklists ----------------------------------------------------------------------


def _dnsbl(old: Any, new: Any) -> list[Change]:
    if not _comparable(old, new):
        return []
    old_listed = {e.get("zone"): e for e in _entries(old, "listed")}
    new_listed = {e.get("zone"): e for e in _entries(new, "listed")}
    old_clean, new_clean = set(_zones(old, "clean")), set(_zones(new, "clean"))
    old_gone = {e.get("zone"): e for e in _entries(old, "unavailable")}
    new_gone = {e.get("zone"): e for e in _entries(new, "unavailable")}
    names = _names(old, new)
    out: list[Change] = []
    for zone, entry in new_listed.items():
        name = names(zone)
        what = _meanings(entry)
        if zone in old_listed:
            before = _meanings(old_listed[zone])
            if what != before and what and before:
                out.append(
                    Change(
                        _("{list} listing changed from {before} to {after}").format(
                            list=name, before=before, after=what
                        )
                    )
                )
        elif zone in old_gone:
            out.append(
                Change(
                    _("listed on {list} (it could not be checked before)").format(
                        list=name + _paren(what)
                    )
                )
            )
        else:
            out.append(Change(_("newly listed on {list}").format(list=name + _paren(what))))
    for zone, entry in old_listed.items():
        if zone in new_listed:
            continue
        name = names(zone)
        if zone in new_clean:
            out.append(
                Change(_("delisted from {list}").format(list=name + _paren(_meanings(entry))))
            )
        elif zone in new_gone:
            out.append(_unchecked(name, new_gone[zone]))
    for zone, entry in new_gone.items():
        if zone in old_clean:
            out.append(_unchecked(names(zone), entry))
    for zone in old_gone:
        if zone in new_clean:
            out.append(
                Change(
                    _("{list} could be checked again: not listed").format(list=names(zone)), False
                )
            )
    return out


def _meanings(entry: Mapping[str, Any]) -> str:
    """Sub-list names from meanings ("SBL: ..." -> "SBL"); empty when they only repeat the list."""
    meanings = entry.get("meanings") or []
    name = str(entry.get("list") or entry.get("zone") or "").lower()
    short = [str(m).split(":", 1)[0].strip() for m in meanings if ":" in str(m)]
    short = [s for s in short if s and s.lower() not in name]
    if short and all(len(s) <= 24 for s in short):
        return ", ".join(dict.fromkeys(short))
    return ""


def _unchecked(name: str, entry: Mapping[str, Any]) -> Change:
    reason = str(entry.get("reason") or _("no answer"))
    return Change(
        _("{list} could not be checked ({reason})").format(list=name, reason=reason), False
    )


def _paren(text: str) -> str:
    return f" ({text})" if text else ""


def _names(*checks: Mapping[str, Any]) -> Any:
    """zone -> list name: from the reports themselves, else the built-in catalogue."""
    known: dict[str, str] = {}
    for check in checks:
        for key in ("listed", "unavailable"):
            for entry in _entries(check, key):
                if entry.get("zone") and entry.get("list"):
                    known[str(entry["zone"])] = str(entry["list"])

    def name(zone: Any) -> str:
        text = str(zone)
        return known.get(text) or _catalogue_names().get(text) or text

    return name


@lru_cache(maxsize=1)
def _catalogue_names() -> dict[str, str]:
    try:
        from handlers import catalogue

        return {z.zone: z.name for z in catalogue.builtin()}
    except Exception:  # a broken catalogue must not break comparing reports
        return {}


# ---- PTR -----------------------------------------------------------------------------


def _ptr(old: Any, new: Any) -> list[Change]:
    if not _comparable(old, new):
        return []
    if _status(new) == "error" and _status(old) != "error":
        return [Change(_("PTR could not be checked"), False)]
    if _status(old) == "error" and _status(new) != "error":
        return [
            Change(_("PTR could be checked again: {state}").format(state=_ptr_state(new)), False)
        ]
    if _status(old) == "error":
        return []
    old_names, new_names = _names_of(old), _names_of(new)
    old_ok, new_ok = bool(old.get("forward_confirmed")), bool(new.get("forward_confirmed"))
    shown = ", ".join(new_names)
    out: list[Change] = []
    was = ", ".join(old_names)
    if old_names and not new_names:
        out.append(Change(_("PTR lost (was {before})").format(before=was)))
    elif new_names and new_ok and (not old_ok or not old_names):
        said = (
            _("PTR fixed: {names} now confirms (was {before})")
            if old_names and old_names != new_names
            else _("PTR fixed: {names} now confirms")
        )
        out.append(Change(said.format(names=shown, before=was)))
    elif new_names and not old_names:
        out.append(
            Change(
                _("PTR added: {names}, but it does not resolve back to the address").format(
                    names=shown
                )
            )
        )
    elif old_ok and not new_ok:
        out.append(
            Change(
                _("PTR broken: {names} no longer resolves back to the address").format(names=shown)
            )
        )
    elif old_names != new_names:
        out.append(
            Change(_("PTR changed from {before} to {after}").format(before=was, after=shown))
        )
    if new_names and old_names and bool(old.get("generic")) != bool(new.get("generic")):
        out.append(
            Change(
                _("PTR now looks generic")
                if new.get("generic")
                else _("PTR no longer looks generic")
            )
        )
    return out


def _names_of(check: Mapping[str, Any]) -> list[str]:
    return sorted(str(n).rstrip(".").lower() for n in check.get("names") or [])


def _ptr_state(check: Mapping[str, Any]) -> str:
    names = _names_of(check)
    if not names:
        return _("no PTR")
    if check.get("forward_confirmed"):
        return _("{names} confirms").format(names=", ".join(names))
    return _("{names} does not confirm").format(names=", ".join(names))


# ---- SPF -----------------------------------------------------------------------------


def _spf(old: Any, new: Any) -> list[Change]:
    if not _comparable(old, new):
        return []
    if (old.get("domain") or None) != (new.get("domain") or None):
        return []  # a different question, not a change
    out: list[Change] = []
    before, after = old.get("result"), new.get("result")
    if before != after:
        if after == "temperror":
            out.append(Change(_("SPF could not be checked (temperror)"), False))
        elif before == "temperror":
            out.append(
                Change(
                    _("SPF could be checked again: {result}").format(result=after or "none"), False
                )
            )
        else:
            out.append(
                Change(
                    _("SPF result changed from {before} to {after}").format(
                        before=before or "none", after=after or "none"
                    )
                )
            )
    if _record(old) != _record(new) and None not in (_record(old), _record(new)):
        out.append(Change(_("SPF record changed")))
    elif _record(old) is None and _record(new) is not None and before != "temperror":
        out.append(Change(_("SPF record published")))
    elif _record(old) is not None and _record(new) is None and after != "temperror":
        out.append(Change(_("SPF record removed")))
    return out


def _dmarc(old: Any, new: Any) -> list[Change]:
    """The policy that applies, where its record is, and SPF alignment."""
    if not _comparable(old, new) or old.get("domain") != new.get("domain"):
        return []
    if "error" in (_status(old), _status(new)):
        if _status(old) != _status(new):
            said = (
                _("DMARC could not be read")
                if _status(new) == "error"
                else _("DMARC could be read again")
            )
            return [Change(said, False)]
        return []
    out: list[Change] = []
    before, after = old.get("policy"), new.get("policy")
    if old.get("found_at") is None and new.get("found_at") is not None:
        out.append(
            Change(
                _("DMARC record published at _dmarc.{name}: p={policy}").format(
                    name=new["found_at"], policy=after or "?"
                )
            )
        )
    elif old.get("found_at") is not None and new.get("found_at") is None:
        out.append(Change(_("DMARC record removed")))
    elif before != after:
        out.append(
            Change(
                _("DMARC policy {before} → {after}").format(
                    before=before or _("none applies"), after=after or _("none applies")
                )
            )
        )
    elif _record(old) != _record(new):
        out.append(Change(_("DMARC record changed")))
    aligned_before, aligned_after = old.get("spf_aligned"), new.get("spf_aligned")
    if None not in (aligned_before, aligned_after) and aligned_before != aligned_after:
        out.append(
            Change(_("SPF now passes aligned") if aligned_after else _("SPF no longer aligned"))
        )
    return out


def _dkim(old: Any, new: Any) -> list[Change]:
    """Keys found, gone or changed at each selector."""
    if not _comparable(old, new) or old.get("domain") != new.get("domain"):
        return []
    if "error" in (_status(old), _status(new)):
        return []
    keys_before, keys_after = _keys(old), _keys(new)
    out: list[Change] = []
    for selector in sorted(set(keys_before) | set(keys_after)):
        was, now = keys_before.get(selector), keys_after.get(selector)
        if was == now:
            continue
        if now and not was:
            out.append(
                Change(
                    _("DKIM key published at selector {selector} ({key})").format(
                        selector=selector, key=now
                    )
                )
            )
        elif was and not now:
            out.append(
                Change(_("DKIM key at selector {selector} is gone").format(selector=selector))
            )
        else:
            out.append(
                Change(
                    _("DKIM key at selector {selector}: {before} → {after}").format(
                        selector=selector, before=was, after=now
                    )
                )
            )
    return out


def _keys(check: Mapping[str, Any]) -> dict[str, str]:
    """Selector -> a short description of its key, for the selectors whose key was found."""
    out = {}
    for key in _entries(check, "selectors"):
        if not key.get("found"):
            continue
        if key.get("revoked"):
            out[str(key.get("selector"))] = "revoked"
            continue
        size = f" {key['key_bits']} bits" if key.get("key_bits") else ""
        testing = ", testing" if key.get("testing") else ""
        out[str(key.get("selector"))] = f"{str(key.get('key_type', '')).upper()}{size}{testing}"
    return out


def _record(check: Mapping[str, Any]) -> str | None:
    record = check.get("record")
    return " ".join(str(record).split()).lower() if record else None


# ---- helpers -------------------------------------------------------------------------


def _checks(report: Mapping[str, Any]) -> Mapping[str, Any]:
    checks = report.get("checks")
    return checks if isinstance(checks, Mapping) else {}


def _status(check: Any) -> str:
    return str(check.get("status")) if isinstance(check, Mapping) else "skipped"


def _comparable(old: Any, new: Any) -> bool:
    """Both reports ran this check (skipped ones say nothing)."""
    return (
        isinstance(old, Mapping)
        and isinstance(new, Mapping)
        and _status(old) != "skipped"
        and _status(new) != "skipped"
    )


def _entries(check: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    return [e for e in check.get(key) or [] if isinstance(e, Mapping)]


def _zones(check: Mapping[str, Any], key: str) -> list[str]:
    out = []
    for item in check.get(key) or []:
        zone = item.get("zone") if isinstance(item, Mapping) else item
        if zone:
            out.append(str(zone))
    return out
