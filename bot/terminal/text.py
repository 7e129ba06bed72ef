"""Terminal rendering of reports: a pure function of the JSON report to text.

Working from the JSON (the same data `--json` prints) keeps the two outputs from
drifting apart. Text from DNS and SMTP is stripped of control characters so a
hostile TXT record cannot move the cursor or recolour the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.facts import LINES, address_rows, guideline_links, requirement_lines, shared_notes
from bot.untrusted import visible
from handlers import i18n
from handlers.i18n import N_, _, ngettext

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_COLOURS = {"ok": "32", "warn": "33", "fail": "31", "error": "35", "skipped": "90"}
_TITLES = {
    "dnsbl": N_("Blocklists"),
    "ptr": N_("Reverse DNS"),
    "spf": N_("SPF"),
    "dmarc": N_("DMARC"),
    "dkim": N_("DKIM"),
    "smtp": N_("SMTP"),
    "mx": N_("MX hosts"),
    "egress": N_("Egress"),
    "bounce": N_("Bounce"),
    "resolver": "Resolver",
}
CLEAN_SHOWN = 0


def clean(value: object) -> str:
    """`value` as text with control characters made visible instead of obeyed, and bidi
    controls and zero-width characters removed (they could disguise a name)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", visible(value))


class Style:
    """ANSI colour when writing to a terminal, plain text otherwise."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def status(self, status: str) -> str:
        word = status.upper()
        if not self.colour:
            return word
        return f"\x1b[1;{_COLOURS.get(status, '0')}m{word}\x1b[0m"

    def bold(self, text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if self.colour else text

    def dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.colour else text


def _dnsbl_lines(check: Mapping[str, Any], style: Style) -> list[str]:
    lines: list[str] = []
    for item in check.get("listed") or []:
        codes = ", ".join(clean(c) for c in item.get("codes") or [])
        lines.append(
            f"{style.bold(clean(item.get('list', item.get('zone'))))} ({clean(item.get('zone'))}): {codes}"
        )
        for meaning in item.get("meanings") or []:
            lines.append(f"    {clean(meaning)}")
        if item.get("txt"):
            lines.append("    " + _("reason: {txt}").format(txt=clean(item["txt"])))
        url = item.get("removal_url") or item.get("lookup_url")
        if url:
            lines.append("    " + _("lookup/removal: {url}").format(url=clean(url)))
    unavailable = check.get("unavailable") or []
    for item in unavailable:
        detail = f" ({clean(item['detail'])})" if item.get("detail") else ""
        lines.append(
            _("not checked: {zone}: {reason}").format(
                zone=clean(item.get("zone")), reason=clean(item.get("reason"))
            )
            + detail
        )
    clean_zones = check.get("clean") or []
    if clean_zones:
        lines.append(
            style.dim(
                ngettext("clean on {n} list", "clean on {n} lists", len(clean_zones)).format(
                    n=len(clean_zones)
                )
            )
        )
    for note in check.get("notes") or []:
        lines.append(style.dim(_("note: {note}").format(note=clean(note))))
    return lines


def _ptr_lines(check: Mapping[str, Any], style: Style) -> list[str]:
    lines: list[str] = []
    forward = check.get("forward") or {}
    for name in check.get("names") or []:
        back = forward.get(name)
        resolved = f" -> {', '.join(clean(a) for a in back)}" if back else ""
        lines.append(f"{clean(name)}{resolved}")
    if check.get("names"):
        line = (
            _("forward-confirmed: yes")
            if check.get("forward_confirmed")
            else _("forward-confirmed: no")
        )
        if check.get("generic"):
            line += "; " + _("looks generic/dynamic")
        lines.append(line)
    return lines


def _spf_lines(check: Mapping[str, Any], style: Style) -> list[str]:
    lines: list[str] = []
    if check.get("result"):
        lines.append(_("result: {result}").format(result=clean(check["result"])))
    records = check.get("records") or []
    if len(records) > 1:
        lines.extend(f"record {n}: {clean(r)}" for n, r in enumerate(records, 1))
    elif check.get("record"):
        lines.append(_("record: {record}").format(record=clean(check["record"])))
    if check.get("lookups") is not None:
        lines.append(_("DNS lookups: {n} of 10 allowed").format(n=check["lookups"]))
    if check.get("explanation"):
        lines.append(_("explanation: {text}").format(text=clean(check["explanation"])))
    for warning in check.get("warnings") or []:
        if isinstance(warning, Mapping):
            lines.append(_("warning: {text}").format(text=clean(warning.get("text", ""))))
            if warning.get("fix"):
                lines.append("    " + _("fix: {fix}").format(fix=clean(warning["fix"])))
        else:
            lines.append(_("warning: {text}").format(text=clean(warning)))
    return lines


def _generic_lines(check: Mapping[str, Any], style: Style) -> list[str]:
    """Facts of a check without a dedicated layout: its simple fields, one a line."""
    lines = []
    for key, value in check.items():
        if key in ("status", "summary") or value in (None, "", [], {}):
            continue
        if isinstance(value, (str, int, float, bool)):
            lines.append(f"{key}: {clean(value)}")
        elif isinstance(value, Sequence) and all(isinstance(v, (str, int, float)) for v in value):
            lines.append(f"{key}: {', '.join(clean(v) for v in value)}")
    return lines


def _from_facts(name: str) -> Callable[[Mapping[str, Any], Style], list[str]]:
    def lines(check: Mapping[str, Any], style: Style) -> list[str]:
        return [clean(line) for line in LINES[name](check)]

    return lines


_LAYOUTS = {
    "resolver": lambda check, style: [],  # its summary names the resolver and the fix
    "dnsbl": _dnsbl_lines,
    "ptr": _ptr_lines,
    "spf": _spf_lines,
    **{name: _from_facts(name) for name in LINES},
}


def render(report: Mapping[str, Any], *, colour: bool = False) -> str:
    """One report (its JSON form) as terminal text."""
    style = Style(colour)
    target = clean(report.get("target", ""))
    if report.get("hostname"):
        target = f"{target} ({clean(report['hostname'])})"
    out = [f"{style.bold(target)}  {style.status(report.get('verdict', 'ok'))}"]
    for note in report.get("notes") or []:
        out.append(f"  {clean(note)}")
    checks = report.get("checks") or {}
    titles = {name: _(_TITLES[name]) if name in _TITLES else name for name in checks}
    # As wide as the longest title in this language ("Listes de blocage" ran into its status).
    width = max([12, *(len(t) for t in titles.values())])
    for name, check in checks.items():
        title = titles[name]
        out.append(
            f"  {title:<{width}} {style.status(check.get('status', 'ok')):<8} {clean(check.get('summary', ''))}"
        )
        layout = _LAYOUTS.get(name, _generic_lines)
        out.extend(f"      {line}" for line in layout(check, style))
    rules = requirement_lines(report)
    if rules:
        out.append(style.bold(_("Receivers' sender rules:")))
        out.extend(f"  {clean(line)}" for line in rules)
        out.extend(f"      {clean(label)}: {clean(url)}" for label, url in guideline_links(report))
    advice = report.get("advice") or []
    if advice:
        out.append(style.bold(_("What to do:")))
        for n, item in enumerate(advice, 1):
            out.append(f"  {n}. {clean(item.get('text', ''))}")
            if item.get("url"):
                out.append(f"     {clean(item['url'])}")
    stamp = report.get("checked_at", "")
    duration = report.get("duration_ms")
    resolver = report.get("resolver")
    parts = [_("Checked")]
    if stamp:
        try:
            parts.append(i18n.moment(datetime.fromisoformat(str(stamp))))
        except ValueError:
            parts.append(clean(stamp))
    if duration is not None:
        parts.append(_("in {duration}").format(duration=i18n.milliseconds(float(duration))))
    if resolver:
        parts.append(_("via {resolver}").format(resolver=clean(resolver)))
    context = " ".join(parts)
    out.append(style.dim(context))
    return "\n".join(out)


def render_all(reports: Sequence[Mapping[str, Any]], *, colour: bool = False) -> str:
    """Several reports (a host name's addresses), a blank line apart."""
    return "\n\n".join(render(r, colour=colour) for r in reports)


def render_host_table(
    name: str, reports: Sequence[Mapping[str, Any]], *, colour: bool = False
) -> str:
    """A host name with many addresses: one line per address (verdict, what is wrong), worst first."""
    style = Style(colour)
    verdicts = [str(r.get("verdict", "ok")) for r in reports]
    worst_first = address_rows(reports)
    verdict = worst_first[0]["verdict"] if worst_first else "ok"
    counted = ngettext("{n} address", "{n} addresses", len(verdicts)).format(n=len(verdicts))
    out = [f"{style.bold(clean(name))}  {style.status(verdict)}  {counted}"]
    out.extend(f"  {clean(note)}" for note in shared_notes(reports))
    width = max(len(row["address"]) for row in worst_first)
    for row in worst_first:
        status = style.status(row["verdict"])
        pad = " " * (7 - len(row["verdict"]))
        out.append(f"  {row['address']:<{width}}  {status}{pad} {clean(row['problems'])}".rstrip())
    out.append(style.dim(_("For one address's full report: smtpcheck ADDRESS [DOMAIN]")))
    return "\n".join(out)
