"""The facts of the SMTP-path, bounce and domain-authentication checks as plain lines, for both renderers.

Pure functions of a check's JSON. They return unescaped text: the terminal renderer
strips control characters from it, the Block Kit renderer escapes it for mrkdwn. One
description of the facts keeps the two outputs saying the same thing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from handlers import i18n
from handlers.i18n import _

JSON = Mapping[str, Any]
MAX_STEPS = 8
MAX_HOSTS = 10


def _first_line(text: object) -> str:
    return str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""


def smtp_lines(check: JSON) -> list[str]:
    """Where we connected, how long it took, what the server said, how TLS went."""
    lines: list[str] = []
    where = f"{check.get('address') or check.get('host')}:{check.get('port')}"
    if check.get("connect_ms") is not None:
        took = i18n.milliseconds(float(check["connect_ms"]))
        said = (
            _("connected to {where} in {took} (probe ran from {source})")
            if check.get("probed_from")
            else _("connected to {where} in {took}")
        )
        lines.append(said.format(where=where, took=took, source=check.get("probed_from")))
    elif check.get("probed_from"):
        lines.append(
            _("{where}: no connection (probe ran from {source})").format(
                where=where, source=check["probed_from"]
            )
        )
    if check.get("banner"):
        lines.append(_("banner: {banner}").format(banner=_first_line(check["banner"])))
    banner_host, ptr = check.get("banner_host"), check.get("ptr")
    if banner_host and ptr:
        said = (
            _("banner name {banner} matches PTR {ptr}")
            if check.get("banner_matches_ptr")
            else _("banner name {banner} does not match PTR {ptr}")
        )
        lines.append(said.format(banner=banner_host, ptr=ptr))
    elif banner_host and check.get("banner"):
        lines.append(
            _("banner name {banner}; the address has no PTR to compare it with").format(
                banner=banner_host
            )
        )
    extensions = check.get("extensions") or []
    if extensions:
        lines.append(
            _("extensions: {items}").format(items=", ".join(str(e) for e in extensions[:20]))
        )
    tls = check.get("tls")
    if isinstance(tls, Mapping):
        if tls.get("certificate_ok") and tls.get("name_checked"):
            state = _("certificate ok for {name}").format(name=tls["name_checked"])
        elif tls.get("certificate_ok"):
            state = _("certificate chain ok, not checked against a name")
        else:
            state = _("certificate problem: {problem}").format(
                problem=tls.get("certificate_error") or _("unknown")
            )
        version = tls.get("version") or _("no TLS")
        if tls.get("not_after"):
            state += ", " + _("expires {date}").format(date=tls["not_after"])
        lines.append(_("TLS: {version}, {state}").format(version=version, state=state))
    elif check.get("starttls") is False and _greeted(check):
        lines.append(_("TLS: STARTTLS not offered"))
    for step in (check.get("steps") or [])[:MAX_STEPS]:
        if not isinstance(step, Mapping):
            continue
        name = str(step.get("name")).lower()
        if name == "connect" and check.get("connect_ms") is not None:
            continue  # said above, with the time
        if name == "banner" and check.get("banner"):
            continue  # the banner line above is this step's reply
        reply = _first_line(step.get("reply"))
        code = str(step.get("code") or "")
        prefix = f"{code} " if code and not reply.startswith(code) else ""
        lines.append(f"  {step.get('name')}: {prefix}{reply} [{step.get('status')}]".rstrip())
    return lines


def _greeted(check: JSON) -> bool:
    """The server answered EHLO or HELO: only then does "STARTTLS not offered" mean anything."""
    return any(
        isinstance(step, Mapping)
        and str(step.get("name")).lower() in ("ehlo", "helo")
        and str(step.get("code") or "").startswith("2")
        for step in check.get("steps") or []
    )


def mx_lines(check: JSON) -> list[str]:
    """A compact table: preference, host, addresses, result."""
    if check.get("null_mx"):
        return [
            _("{domain} publishes a null MX (RFC 7505): it accepts no mail.").format(
                domain=check.get("domain")
            )
        ]
    lines: list[str] = []
    if check.get("implicit"):
        lines.append(_("no MX records: mail goes to the domain's own A/AAAA address (implicit MX)"))
    for host in (check.get("hosts") or [])[:MAX_HOSTS]:
        if not isinstance(host, Mapping):
            continue
        addresses = ", ".join(str(a) for a in host.get("addresses") or []) or "no address"
        took = f" {float(host['connect_ms']):.0f} ms" if host.get("connect_ms") is not None else ""
        tls = f", {host['tls_version']}" if host.get("tls_version") else ""
        lines.append(
            f"{host.get('preference', '-'):>3} {host.get('host')} ({addresses}): "
            f"{str(host.get('status', '')).upper()}{took}{tls}, {host.get('summary', '')}".rstrip(
                ", "
            )
        )
    skipped = check.get("not_probed") or []
    if skipped:
        lines.append(_("not probed: {items}").format(items=", ".join(str(h) for h in skipped)))
    return lines


def egress_lines(check: JSON) -> list[str]:
    """What the far side saw, against what the egress rule should use."""
    lines: list[str] = []
    seen = check.get("seen_ip")
    reference = check.get("reference") or _("the reference MX")
    if seen:
        lines.append(
            _("{reference} saw this connection come from {seen}").format(
                reference=reference, seen=seen
            )
        )
    elif not check.get("reference"):
        return lines  # the check did not run; its summary says why
    if check.get("expected"):
        match = check.get("matches")
        said = (
            _("expected egress address {address}: matches")
            if match
            else _("expected egress address {address}: does NOT match")
            if match is False
            else _("expected egress address {address}: not compared")
        )
        lines.append(said.format(address=check["expected"]))
    if check.get("note"):
        lines.append(str(check["note"]))
    return lines


def bounce_lines(check: JSON) -> list[str]:
    """The reply, the receiver, what it names, and the plain explanation."""
    head = " ".join(str(x) for x in (check.get("reply_code"), check.get("enhanced_code")) if x)
    lines: list[str] = []
    if head or check.get("receiver"):
        by = (
            " " + _("from {receiver}").format(receiver=check["receiver"])
            if check.get("receiver")
            else ""
        )
        lines.append(
            _("{value}{by}; kind: {value2}").format(
                value=head or "rejection", by=by, value2=check.get("kind", "unknown")
            )
        )
    if check.get("ips"):
        lines.append(
            _("sending address: {addresses}").format(
                addresses=", ".join(str(i) for i in check["ips"])
            )
        )
    if check.get("domain"):
        lines.append(_("mail domain: {check}").format(check=check["domain"]))
    if check.get("blocklists"):
        lines.append(
            _("blocklist named: {lists}").format(
                lists=", ".join(str(b) for b in check["blocklists"])
            )
        )
    if check.get("explanation"):
        lines.append(str(check["explanation"]))
    return lines


MAX_RANGE_ROWS = 20


def _row_listings(row: JSON) -> str:
    """A range row's listings with their codes and kind (`Spamhaus ZEN 127.0.0.2 SBL`)."""
    listings = [x for x in row.get("listings") or [] if isinstance(x, Mapping)]
    if not listings:
        return ", ".join(str(x) for x in row.get("lists") or [])
    parts = [
        f"{x.get('list')} {', '.join(str(c) for c in x.get('labels') or x.get('codes') or [])}"
        for x in listings
    ]
    kind = f" ({row['kind']})" if row.get("kind") else ""
    return "; ".join(parts) + kind


def range_lines(check: JSON) -> list[str]:
    """Listed addresses first with their lists; the clean ones as a count."""
    rows = [r for r in check.get("rows") or [] if isinstance(r, Mapping)]
    listed = [r for r in rows if r.get("lists")]
    lines = [f"{r.get('address')}: {_row_listings(r)}" for r in listed[:MAX_RANGE_ROWS]]
    if len(listed) > MAX_RANGE_ROWS:
        lines.append(
            _("…and {value} more listed addresses (full table below)").format(
                value=len(listed) - MAX_RANGE_ROWS
            )
        )
    unchecked = [r for r in rows if not r.get("lists") and r.get("unavailable")]
    if unchecked:
        lines.append(
            _("{unchecked} not fully checked (a list did not answer)").format(
                unchecked=len(unchecked)
            )
        )
    return lines


MAX_DMARC_WARNINGS = 4
MAX_SELECTORS_SHOWN = 6


def dmarc_lines(check: JSON) -> list[str]:
    """Where the record is, which policy applies and why, alignment, reports, problems."""
    lines: list[str] = []
    if check.get("record"):
        lines.append(
            _("record at _dmarc.{value}: {check}").format(
                value=check.get("found_at"), check=check["record"]
            )
        )
    tag = check.get("policy_tag")
    if check.get("policy") and tag:
        source = {
            "p": _("its own p="),
            "sp": _("sp= (or p=) of {found_at}").format(found_at=check.get("found_at")),
            "np": _("np= of {found_at}: the name does not exist").format(
                found_at=check.get("found_at")
            ),
        }.get(str(tag), str(tag))
        lines.append(
            _("policy for {value}: {check} ({source})").format(
                value=check.get("domain"), check=check["policy"], source=source
            )
        )
    if check.get("org_domain") and check.get("org_domain") != check.get("domain"):
        lines.append(
            _("organizational domain (RFC 9989 tree walk): {check}").format(
                check=check["org_domain"]
            )
        )
    aligned = check.get("spf_aligned")
    if aligned is not None:
        mode = _("strict, aspf=s") if check.get("aspf") == "s" else _("relaxed")
        said = (
            _("SPF for {spf_domain}: {result}, aligned with {domain} ({mode})")
            if aligned
            else _("SPF for {spf_domain}: {result}, NOT aligned with {domain} ({mode})")
        )
        lines.append(
            said.format(
                spf_domain=check.get("spf_domain"),
                result=check.get("spf_result"),
                domain=check.get("domain"),
                mode=mode,
            )
        )
    if check.get("rua"):
        lines.append(
            _("aggregate reports to: {addresses}").format(
                addresses=", ".join(str(u) for u in check["rua"])
            )
        )
    warnings = [w for w in check.get("warnings") or [] if isinstance(w, Mapping)]
    problems = [w for w in warnings if w.get("severity") != "ok"]
    remarks = [w for w in warnings if w.get("severity") == "ok"]
    for warning in [*problems, *remarks][:MAX_DMARC_WARNINGS]:
        said = (
            _("note: {text}. {why} {fix}")
            if warning.get("severity") == "ok"
            else _("problem: {text}. {why} {fix}")
        )
        lines.append(
            said.format(text=warning.get("text"), why=warning.get("why"), fix=warning.get("fix"))
        )
    if len(warnings) > MAX_DMARC_WARNINGS:
        lines.append(
            _("…and {value} more remarks (smtpcheck dmarc)").format(
                value=len(warnings) - MAX_DMARC_WARNINGS
            )
        )
    return lines


def dkim_lines(check: JSON) -> list[str]:
    """Each key found (or missing) with its size and problems; which selectors were asked."""
    lines: list[str] = []
    domain = check.get("domain")
    for key in [k for k in check.get("selectors") or [] if isinstance(k, Mapping)]:
        name = f"{key.get('selector')}._domainkey.{domain}"
        via = f" -> CNAME {key['cname']}" if key.get("cname") else ""
        if key.get("found"):
            kind = (
                "Ed25519"
                if key.get("key_type") == "ed25519"
                else str(key.get("key_type", "")).upper()
            )
            size = (
                " " + _("{bits} bits").format(bits=key["key_bits"]) if key.get("key_bits") else ""
            )
            state = _("revoked") if key.get("revoked") else f"{kind}{size}"
            testing = " " + _("(testing, t=y)") if key.get("testing") else ""
            lines.append(f"{name}{via}: {state}{testing}")
        else:
            lines.append(_("{name}{via}: no key").format(name=name, via=via))
        platform = f" ({key['platform']})" if key.get("platform") else ""
        if platform and key.get("found"):
            lines[-1] += platform
        for problem in (key.get("problems") or [])[:3]:
            if key.get("found"):
                lines.append(_("    {problem}").format(problem=problem))
    tried = [str(t) for t in check.get("tried") or []]
    if check.get("guessed") and tried:
        shown = ", ".join(tried[:MAX_SELECTORS_SHOWN])
        if len(tried) > MAX_SELECTORS_SHOWN:
            shown = _("{shown} and {n} more").format(
                shown=shown, n=len(tried) - MAX_SELECTORS_SHOWN
            )
        found = any(isinstance(k, Mapping) and k.get("found") for k in check.get("selectors") or [])
        lines.append(
            _(
                "asked the common selectors {shown}: DNS cannot list a domain's selectors, "
                "so ask the mail platform which one it signs with (the s= of a DKIM-Signature)"
            ).format(shown=shown)
            if found
            else _(
                "asked the common selectors {shown}. DNS answers only for a name it is asked "
                "and has no way to list the selectors under _domainkey.{domain}, so give the "
                "selector from the s= tag of a message's DKIM-Signature header: "
                "`dkim {domain} SELECTOR`"
            ).format(shown=shown, domain=domain)
        )
    return lines


def requirement_lines(report: JSON) -> list[str]:
    """One line per receiver: 'Gmail bulk sender rules: 4 of 5 met; not met: DMARC'."""
    from handlers.requirements import line_for, receivers

    items = [r for r in report.get("requirements") or [] if isinstance(r, Mapping)]
    checks = report.get("checks") or {}
    # Shown where most rules can be judged (a full check, a bounce with its domain, dmarc
    # with an address); a single DKIM or DMARC lookup keeps them in the JSON only.
    if not items or not ("spf" in checks and "dmarc" in checks):
        return []
    return [line_for(receiver, items) for receiver in receivers()]


def guideline_links(report: JSON) -> list[tuple[str, str]]:
    """(label, url) of the published guidelines of each receiver whose rules are not all met."""
    from handlers.requirements import receivers

    items = [r for r in report.get("requirements") or [] if isinstance(r, Mapping)]
    if not requirement_lines(report):
        return []
    out = []
    for receiver in receivers():
        mine = [r for r in items if receiver.id in (r.get("who") or [])]
        if any(r.get("met") is not True for r in mine):
            out.append((_("{name} sender guidelines").format(name=receiver.name), receiver.url))
    return out


LINES: dict[str, Callable[[JSON], list[str]]] = {
    "dmarc": dmarc_lines,
    "dkim": dkim_lines,
    "range": range_lines,
    "smtp": smtp_lines,
    "mx": mx_lines,
    "egress": egress_lines,
    "bounce": bounce_lines,
}


# ---- a host name with many addresses ------------------------------------------------------

#: More addresses than this and a host name's answer is one table, not a report per address.
TABLE_OVER = 3

_RANK = {"skipped": -1, "ok": 0, "warn": 1, "error": 2, "fail": 3}


def _label(meaning: object) -> str:
    text = str(meaning)
    return text.split(":", 1)[0].strip() if ":" in text and len(text.split(":", 1)[0]) <= 24 else ""


def _listing(entry: JSON) -> str:
    labels = [x for x in dict.fromkeys(_label(m) for m in entry.get("meanings") or []) if x]
    name = str(entry.get("list") or entry.get("zone") or "")
    labels = [x for x in labels if x.lower() not in name.lower()]
    return f"{name} ({', '.join(labels)})" if labels else name


def problems(report: JSON) -> str:
    """What is wrong with one address, in a few words: lists, PTR, SPF, other checks."""
    checks = report.get("checks") or {}
    found: list[str] = []
    for name, check in checks.items():
        if not isinstance(check, Mapping):
            continue
        status = str(check.get("status"))
        if name == "dnsbl":
            listed = [e for e in check.get("listed") or [] if isinstance(e, Mapping)]
            if listed:
                found.append(", ".join(_listing(e) for e in listed))
            elif status == "error":
                found.append(_("blocklists could not be checked"))
        elif status in ("ok", "skipped"):
            continue
        elif name == "ptr":
            names = check.get("names") or []
            if status == "error":
                found.append(_("PTR could not be checked"))
            elif not names:
                found.append(_("no PTR"))
            elif not check.get("forward_confirmed"):
                found.append(_("PTR {name} does not resolve back").format(name=names[0]))
            elif check.get("generic"):
                found.append(_("PTR {name} looks generic").format(name=names[0]))
        elif name == "spf":
            found.append(_("SPF {value}").format(value=check.get("result") or status))
        else:
            found.append(_("{name} {status}").format(name=name, status=status))
    return "; ".join(found)


def address_rows(reports: Sequence[JSON]) -> list[dict[str, str]]:
    """One row per address (address, verdict, what is wrong), worst first, then in address order."""
    ordered = sorted(reports, key=_badness)
    return [
        {
            "address": str(r.get("target", "")),
            "verdict": str(r.get("verdict", "error")),
            "problems": problems(r),
        }
        for r in ordered
    ]


def _badness(report: JSON) -> tuple[int, int, int, tuple[int, int, str]]:
    """Sort key, worst first: the verdict, then the blocklists' status and listing count."""
    checks = report.get("checks") or {}
    found = checks.get("dnsbl")
    dnsbl: JSON = found if isinstance(found, Mapping) else {}
    listed = len(dnsbl.get("listed") or [])
    return (
        -_RANK.get(str(report.get("verdict")), 2),
        -_RANK.get(str(dnsbl.get("status")), -1),
        -listed,
        _address_key(str(report.get("target", ""))),
    )


def _address_key(text: str) -> tuple[int, int, str]:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return (9, 0, text)
    return (ip.version, int(ip), text)


def shared_notes(reports: Sequence[JSON]) -> list[str]:
    """The reports' notes, each once (a host name's notes repeat on every address)."""
    return list(dict.fromkeys(str(n) for r in reports for n in r.get("notes") or []))
