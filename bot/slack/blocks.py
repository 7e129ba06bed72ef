"""Reports as Slack Block Kit: a pure function of the JSON reports, no I/O.

Why JSON and not `Report` objects: the same shape is what `--json` prints, what the
history store keeps and what a Re-check button carries, so one renderer serves all of
them, and a check this module has never heard of still renders (status + summary).

Everything that came from DNS, an SMTP server or a person goes through `esc` before it
reaches mrkdwn, so a TXT record saying `<!channel>` shows as text and pings nobody.
Blocks are built with slack_sdk's models, whose `to_dict()` validates Slack's limits;
`fit` keeps every text under them first, whatever the input.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.facts import (
    LINES,
    TABLE_OVER,
    address_rows,
    guideline_links,
    requirement_lines,
    shared_notes,
)
from bot.untrusted import visible
from handlers import i18n
from handlers.i18n import N_, _, ngettext
from handlers.results import problem_and_fix

# Slack's limits (as enforced by slack_sdk.models).
MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_LABEL = 75
MAX_VALUE = 2000
MAX_URL = 3000
MAX_ACTIONS = 25
MAX_FALLBACK = 3000

#: Listings shown one by one before the rest fold into "and N more".
SHOWN_LISTINGS = 10
#: Link buttons per report (the Re-check and Watch buttons come on top).
MAX_LINKS = 12

RECHECK_ACTION = "recheck"
WATCH_ACTION = "watch_start"
LINK_ACTION_PREFIX = "link_"

SPAMHAUS_CHECKER = "https://check.spamhaus.org/results/?query={ip}"
PTR_HOWTO = "https://en.wikipedia.org/wiki/Forward-confirmed_reverse_DNS"
SPF_HOWTO = "https://www.rfc-editor.org/rfc/rfc7208#section-4"

EMOJI = {
    "ok": ":large_green_circle:",
    "warn": ":large_yellow_circle:",
    "fail": ":red_circle:",
    "error": ":white_circle:",
    "skipped": ":heavy_minus_sign:",
}
#: Translated where shown (`_(VERDICT_WORDS[v])`): the tables hold the English source text.
VERDICT_WORDS = {
    "ok": N_("looks clean"),
    "warn": N_("warnings"),
    "fail": N_("problems found"),
    "error": N_("some checks could not run"),
    "skipped": N_("nothing checked"),
}
TITLES = {
    "dnsbl": N_("Blocklists"),
    "ptr": N_("Reverse DNS (PTR)"),
    "spf": N_("SPF"),
    "dmarc": N_("DMARC"),
    "dkim": N_("DKIM"),
    "resolver": N_("DNS resolver"),
    "smtp": N_("SMTP"),
    "mx": N_("MX hosts"),
    "egress": N_("Egress"),
    "bounce": N_("Bounce"),
    "range": N_("Blocklists for the range"),
}

JSON = Mapping[str, Any]


@dataclass(frozen=True)
class Rendered:
    """What chat.postMessage / chat.update take: blocks and the fallback text."""

    blocks: list[dict[str, Any]]
    text: str


# ---- text helpers --------------------------------------------------------------------


def esc(value: object) -> str:
    """Text safe for mrkdwn: `&`, `<`, `>` as entities, so nothing becomes a link or a ping,
    and no bidi control or zero-width character left to disguise it."""
    return visible(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut (never inside an entity)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def fit(lines: Sequence[str], limit: int = MAX_SECTION, more: str | None = None) -> str:
    """Join `lines` with newlines, folding the tail into `more` so the text stays under `limit`."""
    more = more if more is not None else _("…and {n} more")
    out: list[str] = []
    for n, line in enumerate(lines):
        remaining = len(lines) - n - 1
        tail = "\n" + more.format(n=remaining) if remaining else ""
        candidate = "\n".join([*out, line])
        if len(candidate) + len(tail) <= limit:
            out.append(line)
            continue
        rest = len(lines) - n
        folded = "\n".join([*out, more.format(n=rest)])
        if len(folded) <= limit:
            return folded
        return clip("\n".join(out), limit)
    return clip("\n".join(out), limit)


def _code(text: object) -> str:
    """Inline code that a backtick in the data cannot close early."""
    return "`" + esc(text).replace("`", "'") + "`"


#: Checks whose fact lines hold only what we measured (addresses, list names): no code spans.
OWN_LINES = frozenset({"range"})


def _fact(line: str) -> str:
    """A fact line ("banner: 220 mx.example ESMTP"): what follows the label came from the
    peer (a banner, a bounce, a record), so it is a code span that cannot link or format;
    a line without a label is a code span whole."""
    label, sep, value = line.partition(": ")
    if not sep or not value.strip():
        return _code(line.strip()) if line.strip() else ""
    return f"{esc(label)}: {_code(value)}"


def quoting(text: str, quoted: Sequence[object]) -> str:
    """Our own sentence `text` as plain mrkdwn, with the pieces of it in `quoted` (text taken
    from a bounce, a server, a user) as code spans: those cannot link or format."""
    pieces = sorted({str(q) for q in quoted if str(q).strip()}, key=len, reverse=True)
    if not pieces:
        return esc(text)
    out: list[str] = []
    at = 0
    for match in re.finditer("|".join(re.escape(p) for p in pieces), text):
        out += [esc(text[at : match.start()]), _code(match.group())]
        at = match.end()
    return "".join([*out, esc(text[at:])])


def _bounce_text(check: JSON) -> str:
    """A bounce's facts, then its explanation: our words plain, what the bounce said quoted
    (a report kept from before `quoted` existed shows its explanation quoted whole)."""
    quoted = check.get("quoted") or []
    explained = [quoting(str(check["explanation"]), quoted)] if check.get("explanation") else []
    facts = LINES["bounce"]({k: v for k, v in check.items() if k != "explanation"})
    summary = [esc(check["summary"])] if check.get("summary") else []
    return fit([*summary, *(_fact(line) for line in facts), *explained])


def plain(text: str) -> str:
    """Text for plain_text fields (headers, button labels): Slack does not parse them, but
    angle brackets still look like markup, and a bidi override or zero-width character
    would disguise a name there as anywhere else."""
    return visible(text).replace("<", "‹").replace(">", "›")


def _label(text: str) -> PlainTextObject:
    return PlainTextObject(text=clip(plain(text), MAX_LABEL) or _("link"), emoji=True)


def _section(text: str) -> SectionBlock:
    """A mrkdwn section; Slack refuses empty text, so an empty one says so."""
    return SectionBlock(
        # verbatim: a bare URL or #channel in data stays text (our <url|label> links still work)
        text=MarkdownTextObject(
            text=clip(text, MAX_SECTION) if text.strip() else "–", verbatim=True
        )
    )


def verdict_words(verdict: str) -> str:
    """The verdict in words, in the current language ("problems found")."""
    return _(VERDICT_WORDS[verdict]) if verdict in VERDICT_WORDS else verdict


def title_of(name: str) -> str:
    """A check's title, in the current language ("Blocklists")."""
    return _(TITLES[name]) if name in TITLES else name


def _names_itself(name: str, summary: str) -> bool:
    """Whether `summary` already opens with its check's name ("DKIM: key at…",
    "PTR mail.example.net resolves back…"): its title, or the short name ("PTR")."""
    head = summary.lstrip().casefold()
    for said in (title_of(name), TITLES.get(name, name), name):
        word = said.casefold()
        if word and head.startswith(word) and not head[len(word) : len(word) + 1].isalnum():
            return True
    return False


def labelled(name: str, summary: str) -> str:
    """`summary` introduced by its check's title ("Blocklists: Listed on 2 of 31…"), unless
    it names the check already: a line never reads "DKIM: DKIM: key at…"."""
    if _names_itself(name, summary):
        return summary
    return _("{check}: {summary}").format(check=title_of(name), summary=summary)


# ---- the Re-check button's value -----------------------------------------------------


def digest(report: JSON) -> dict[str, Any]:
    """The parts of a JSON report `bot.changes.changes` compares, under the same key paths."""
    checks: dict[str, Any] = {}
    for name, check in (report.get("checks") or {}).items():
        if not isinstance(check, Mapping):
            continue
        small: dict[str, Any] = {"status": check.get("status")}
        if name == "dnsbl":
            small["listed"] = [
                {"zone": e.get("zone"), "list": e.get("list"), "codes": list(e.get("codes") or [])}
                for e in check.get("listed") or []
                if isinstance(e, Mapping)
            ]
            small["unavailable"] = [
                {"zone": e.get("zone"), "reason": e.get("reason")}
                for e in check.get("unavailable") or []
                if isinstance(e, Mapping)
            ]
        elif name == "ptr":
            for key in ("names", "forward_confirmed", "generic"):
                small[key] = check.get(key)
        elif name == "spf":
            for key in ("domain", "result", "record"):
                small[key] = check.get(key)
        checks[str(name)] = small
    return {"verdict": report.get("verdict"), "checks": checks}


def _pack(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(text) <= MAX_VALUE:
        return text
    packed = "z:" + base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode()
    return packed if len(packed) <= MAX_VALUE else ""


def _lighter(previous: dict[str, Any]) -> list[dict[str, Any]]:
    """Ever smaller versions of a digest, each still comparable on what it keeps."""
    import copy

    steps: list[dict[str, Any]] = []
    current = copy.deepcopy(previous)
    dnsbl = current.get("checks", {}).get("dnsbl")
    if isinstance(dnsbl, dict):
        for entry in dnsbl.get("listed", []):
            entry.pop("list", None)
        steps.append(copy.deepcopy(current))
        for entry in dnsbl.get("listed", []):
            entry.pop("codes", None)
        steps.append(copy.deepcopy(current))
        dnsbl.pop("unavailable", None)
        steps.append(copy.deepcopy(current))
    for name in ("spf", "ptr", "dnsbl"):
        current.get("checks", {}).pop(name, None)
        steps.append(copy.deepcopy(current))
    return steps


def button_value(
    target: str, domain: str | None, scope: str, report: JSON | None, hostname: str | None = None
) -> str:
    """What a Re-check (or Watch) click needs, within Slack's 2,000 characters.

    Carries the target, domain and scope, and a digest of the previous result so any
    replica can say what changed. When the digest cannot fit even compressed, it is
    dropped step by step (list names, codes, unavailable zones, whole checks).
    """
    base: dict[str, Any] = {"v": 1, "t": target, "d": domain, "s": scope}
    if hostname:
        base["h"] = hostname
    if report is not None:
        previous = digest(report)
        for candidate in [previous, *_lighter(previous)]:
            value = _pack({**base, "p": candidate})
            if value:
                return value
    return _pack(base) or json.dumps({"v": 1, "t": target[:200], "s": scope})


def read_button_value(value: str) -> dict[str, Any]:
    """The dict `button_value` packed (ValueError when it is not one of ours)."""
    text = value
    if value.startswith("z:"):
        text = zlib.decompress(base64.urlsafe_b64decode(value[2:].encode())).decode()
    data = json.loads(text)
    if not isinstance(data, dict) or "t" not in data:
        raise ValueError("not a smtpcheck button value")
    return data


# ---- checks --------------------------------------------------------------------------


def _title(name: str, check: JSON) -> str:
    title = (
        title_of(name)
        if name in TITLES
        else (name.upper() if len(name) <= 5 else name.replace("_", " ").capitalize())
    )
    status = str(check.get("status", "error"))
    return f"{EMOJI.get(status, EMOJI['error'])} *{esc(title)}*: {esc(status)}"


def _dnsbl_lines(check: JSON) -> list[str]:
    lines = [esc(check.get("summary", ""))] if check.get("summary") else []
    for entry in check.get("listed") or []:
        if not isinstance(entry, Mapping):
            continue
        codes = entry.get("codes") or []
        meanings = entry.get("meanings") or []
        facts = []
        for n, code in enumerate(codes):
            meaning = meanings[n] if n < len(meanings) else ""
            facts.append(f"{_code(code)} {esc(meaning)}".strip())
        line = f"• *{esc(entry.get('list') or entry.get('zone'))}* ({esc(entry.get('zone', ''))})"
        if facts:
            line += ": " + "; ".join(facts)
        if entry.get("txt"):
            # The list operator's words: a code span, so they neither link nor format.
            line += "\n    " + _("reason: {txt}").format(txt=_code(clip(str(entry["txt"]), 300)))
        lines.append(line)
    return lines


def _dnsbl_text(check: JSON) -> str:
    lines = _dnsbl_lines(check)
    head, listings = lines[:1], lines[1:]
    if len(listings) > SHOWN_LISTINGS:
        hidden = len(listings) - SHOWN_LISTINGS
        listings = [
            *listings[:SHOWN_LISTINGS],
            ngettext("…and {n} more listing", "…and {n} more listings", hidden).format(n=hidden),
        ]
    tail = []
    clean = check.get("clean") or []
    if clean:
        tail.append(
            ngettext("…and {n} list clean", "…and {n} lists clean", len(clean)).format(n=len(clean))
        )
    unavailable = [e for e in check.get("unavailable") or [] if isinstance(e, Mapping)]
    if unavailable:
        shown = ", ".join(f"{esc(e.get('zone'))} ({esc(e.get('reason'))})" for e in unavailable[:8])
        if len(unavailable) > 8:
            shown = _("{shown} and {n} more").format(shown=shown, n=len(unavailable) - 8)
        tail.append(
            ngettext(
                "Could not check {n} list: {lists}",
                "Could not check {n} lists: {lists}",
                len(unavailable),
            ).format(n=len(unavailable), lists=shown)
        )
    body = fit([*head, *listings], MAX_SECTION - 600, _("…and {n} more listings"))
    return clip("\n".join([body, *tail]), MAX_SECTION)


def _ptr_text(check: JSON, target: str) -> str:
    lines = [esc(check.get("summary", ""))] if check.get("summary") else []
    names = [str(n) for n in check.get("names") or []]
    if names:
        shown = ", ".join(_code(n) for n in names[:5])
        if check.get("forward_confirmed"):
            said = (
                _("{names} resolves back to {target}; looks generic")
                if check.get("generic")
                else _("{names} resolves back to {target}")
            )
        else:
            said = (
                _("{names} does *not* resolve back to {target}; looks generic")
                if check.get("generic")
                else _("{names} does *not* resolve back to {target}")
            )
        lines.append(said.format(names=shown, target=esc(target)))
    return fit(lines)  # no names: the summary already says there is no PTR


MAX_SPF_WARNINGS = 3


def _spf_text(check: JSON, advised: frozenset[str] = frozenset()) -> str:
    """The SPF section; a warning whose fix is already under "What to do" says only what is
    wrong, so each piece of advice appears once."""
    lines = [esc(check.get("summary", ""))] if check.get("summary") else []
    facts = []
    if check.get("domain"):
        facts.append(_("domain {domain}").format(domain=esc(check["domain"])))
    if check.get("result"):
        facts.append(_("result *{result}*").format(result=esc(check["result"])))
    if check.get("lookups") is not None:
        facts.append(_("{n}/10 DNS lookups").format(n=esc(check["lookups"])))
    if facts:
        lines.append(", ".join(facts))
    records = [str(r) for r in check.get("records") or []]
    if len(records) > 1:
        lines.extend(_code(clip(r, 600)) for r in records[:4])
    elif check.get("record"):
        lines.append(_code(clip(str(check["record"]), 1200)))
    if check.get("explanation"):
        lines.append(_code(clip(str(check["explanation"]), 500)))  # the domain owner's words
    warnings = [w for w in check.get("warnings") or [] if isinstance(w, Mapping)]
    for warning in warnings[:MAX_SPF_WARNINGS]:
        said = str(warning.get("text", ""))
        if warning.get("fix"):
            with_fix = problem_and_fix(said, str(warning["fix"]))
            said = said if with_fix in advised else with_fix
        lines.append(f":warning: {esc(clip(said, 400))}")
    if len(warnings) > MAX_SPF_WARNINGS:
        hidden = len(warnings) - MAX_SPF_WARNINGS
        lines.append(
            ngettext(
                "…and {n} more SPF warning (`smtpcheck spf`)",
                "…and {n} more SPF warnings (`smtpcheck spf`)",
                hidden,
            ).format(n=hidden)
        )
    return fit(lines)


def _generic_text(check: JSON) -> str:
    return esc(check.get("summary", "")) or esc(check.get("status", ""))


def check_text(name: str, check: JSON, target: str, advised: frozenset[str] = frozenset()) -> str:
    """One check's section: title with status, then its facts (`advised`: the report's
    advice texts, which a section does not repeat)."""
    if name == "dnsbl":
        body = _dnsbl_text(check)
    elif name == "ptr":
        body = _ptr_text(check, target)
    elif name == "spf":
        body = _spf_text(check, advised)
    elif name == "bounce" and isinstance(check.get("quoted"), list):
        body = _bounce_text(check)
    elif name in LINES:
        summary = [esc(check.get("summary", ""))] if check.get("summary") else []
        shown = esc if name in OWN_LINES else _fact
        body = fit([*summary, *(shown(line) for line in LINES[name](check))])
    else:
        body = _generic_text(check)
    return clip(f"{_title(name, check)}\n{body}".rstrip(), MAX_SECTION)


# ---- buttons -------------------------------------------------------------------------


_RFC = re.compile(r"/rfc/rfc(\d+)(?:\.\w+)?(?:#section-([\d.]+))?$")


#: Pages that advice links to, named for what they are: a site's name alone would label
#: two different pages of it alike (DMARC's and DKIM's set-up guides on support.google.com).
PAGE_TITLES = {
    "https://support.google.com/a/answer/2466563": N_("Google: set up DMARC"),
    "https://support.google.com/a/answer/174124": N_("Google: set up DKIM"),
    "https://learn.microsoft.com/en-us/defender-office-365/email-authentication-dkim-configure": N_(
        "Microsoft: set up DKIM"
    ),
    "https://www.spamhaus.com/product/data-query-service/": N_("Spamhaus Data Query Service"),
}


def page_label(url: str) -> str:
    """A button label that names the page a link opens ("RFC 7208 section 4.5",
    "Google: set up DMARC", "Guide on spamhaus.com"), never a piece of advice cut to fit."""
    if url in PAGE_TITLES:
        return _(PAGE_TITLES[url])
    parsed = urlparse(url)
    rfc = _RFC.search(parsed.path + (f"#{parsed.fragment}" if parsed.fragment else ""))
    if rfc:
        section = f" section {rfc.group(2)}" if rfc.group(2) else ""
        return f"RFC {rfc.group(1)}{section}"
    host = parsed.netloc.removeprefix("www.")
    return _("Guide on {host}").format(host=host) if host else _("Guide")


def _links(report: JSON) -> list[tuple[str, str]]:
    """(label, url) remediation links: each listing's page, the Spamhaus checker, how-tos."""
    checks = report.get("checks") or {}
    target = str(report.get("target", ""))
    links: list[tuple[str, str]] = []
    dnsbl = checks.get("dnsbl")
    if isinstance(dnsbl, Mapping) and dnsbl.get("status") not in (None, "skipped"):
        for entry in dnsbl.get("listed") or []:
            if not isinstance(entry, Mapping):
                continue
            url = entry.get("removal_url") or entry.get("lookup_url")
            if url:
                name = entry.get("list") or entry.get("zone")
                links.append((_("{list}: look up / remove").format(list=name), str(url)))
        links.append((_("Spamhaus checker"), SPAMHAUS_CHECKER.format(ip=target)))
    ptr = checks.get("ptr")
    if isinstance(ptr, Mapping) and ptr.get("status") in ("warn", "fail"):
        links.append((_("How to fix PTR"), PTR_HOWTO))
    spf = checks.get("spf")
    if isinstance(spf, Mapping) and spf.get("status") in ("warn", "fail"):
        links.append((_("How to fix SPF"), SPF_HOWTO))
    links.extend(guideline_links(report))
    for advice in report.get("advice") or []:
        if isinstance(advice, Mapping) and advice.get("url"):
            links.append((page_label(str(advice["url"])), str(advice["url"])))
    seen: set[str] = set()
    labels: dict[str, int] = {}
    unique = []
    for label, url in links:
        if url not in seen and url.startswith(("https://", "http://")) and len(url) <= MAX_URL:
            seen.add(url)
            labels[label] = labels.get(label, 0) + 1
            # Two pages never share a label: the second of a site's guides is "(2)".
            shown = label if labels[label] == 1 else f"{label} ({labels[label]})"
            unique.append((shown, url))
    return unique


def _actions(report: JSON, n: int, recheck_value: str | None, watch: bool) -> ActionsBlock | None:
    elements: list[ButtonElement] = []
    if recheck_value is not None:
        elements.append(
            ButtonElement(
                text=_label(_(":arrows_counterclockwise: Re-check")),
                action_id=RECHECK_ACTION,
                value=recheck_value,
                style="primary",
            )
        )
        if watch and report.get("verdict") != "ok":
            elements.append(
                ButtonElement(
                    text=_label(_(":eyes: Watch until clean")),
                    action_id=WATCH_ACTION,
                    value=recheck_value,
                )
            )
    for i, (label, url) in enumerate(_links(report)[:MAX_LINKS]):
        elements.append(
            ButtonElement(text=_label(label), action_id=f"{LINK_ACTION_PREFIX}{n}_{i}", url=url)
        )
    if not elements:
        return None
    return ActionsBlock(elements=elements[:MAX_ACTIONS])


# ---- reports -------------------------------------------------------------------------


def _heading(report: JSON) -> str:
    verdict = str(report.get("verdict", "error"))
    target = str(report.get("target", "?"))
    who = f"{report['hostname']} ({target})" if report.get("hostname") else target
    return clip(f"{EMOJI.get(verdict, '')} {who}: {verdict_words(verdict)}", MAX_HEADER)


def _context(report: JSON) -> ContextBlock:
    parts = []
    when = report.get("checked_at")
    if when:
        try:
            stamp = i18n.moment(datetime.fromisoformat(str(when)))
        except ValueError:
            stamp = str(when)
        parts.append(_("Checked {when}").format(when=esc(stamp)))
    if report.get("duration_ms") is not None:
        parts.append(i18n.milliseconds(float(report["duration_ms"])))
    if report.get("resolver"):
        parts.append(_("resolver {resolver}").format(resolver=esc(report["resolver"])))
    return ContextBlock(
        elements=[
            MarkdownTextObject(text=clip(" · ".join(parts) or "smtpcheck", 2000), verbatim=True)
        ]
    )


def _full(report: JSON, n: int, value: str | None, watch: bool) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=_label_header(_heading(report)))]
    notes = [esc(note) for note in report.get("notes") or [] if str(note).strip()]
    if notes:
        blocks.append(_section(fit(notes)))
    target = str(report.get("target", ""))
    advised = frozenset(
        str(a["text"])
        for a in report.get("advice") or []
        if isinstance(a, Mapping) and a.get("text")
    )
    for name, check in (report.get("checks") or {}).items():
        if isinstance(check, Mapping) and check.get("status") != "skipped":
            blocks.append(_section(check_text(str(name), check, target, advised)))
    rules = requirements_text(report)
    if rules:
        blocks.append(_section(rules))
    advice = [a for a in report.get("advice") or [] if isinstance(a, Mapping) and a.get("text")]
    if advice:
        blocks.append(_section(fit([_("*What to do*"), *(f"• {esc(a['text'])}" for a in advice)])))
    actions = _actions(report, n, value, watch)
    if actions:
        blocks.append(actions)
    blocks.append(_context(report))
    return blocks


def requirements_text(report: JSON) -> str:
    """The receivers' rules as ONE compact section: a line per receiver, what is missing."""
    lines = requirement_lines(report)
    if not lines:
        return ""
    return fit([_("*Receivers' sender rules*"), *(f"• {esc(line)}" for line in lines)])


def _compact(report: JSON, n: int, value: str | None, watch: bool) -> list[Block]:
    """A report in three blocks, for when several would not fit in 50."""
    lines = []
    for name, check in (report.get("checks") or {}).items():
        if isinstance(check, Mapping) and check.get("status") != "skipped":
            lines.append(f"{_title(str(name), check)}: {esc(check.get('summary', ''))}")
    blocks: list[Block] = [_section(f"*{esc(_heading(report))}*\n" + fit(lines, MAX_SECTION - 200))]
    actions = _actions(report, n, value, watch)
    if actions:
        blocks.append(actions)
    blocks.append(_context(report))
    return blocks


def _label_header(text: str) -> PlainTextObject:
    return PlainTextObject(text=clip(plain(text), MAX_HEADER) or "smtpcheck", emoji=True)


def fallback_text(reports: Sequence[JSON], changes: Sequence[str] | None = None) -> str:
    """The notification / screen-reader text: one line per report."""
    lines = []
    for report in reports:
        summaries = [
            labelled(str(name), str(check.get("summary") or check.get("status")))
            for name, check in (report.get("checks") or {}).items()
            if isinstance(check, Mapping) and check.get("status") != "skipped"
        ]
        lines.append(f"{_heading(report)}. " + "; ".join(summaries))
    if changes:
        lines.append(_("Changed: {changes}").format(changes="; ".join(changes)))
    elif changes is not None:
        lines.append(_("Nothing changed since the previous check."))
    return clip(esc("\n".join(lines)) or _("smtpcheck report"), MAX_FALLBACK)


def _nothing_changed(reports: Sequence[JSON], requested_by: str | None) -> Rendered:
    """A re-check that found nothing new: one short line, not the report again."""
    who = (
        " " + _("(re-check asked by <@{user}>)").format(user=esc(requested_by))
        if requested_by
        else ""
    )
    verdicts = ", ".join(
        f"{esc(r.get('target', ''))} {esc(r.get('verdict', ''))}" for r in reports[:3]
    )
    when = str(reports[0].get("checked_at", "")) if reports else ""
    try:
        shown_when = i18n.moment(datetime.fromisoformat(when)) if when else ""
    except ValueError:
        shown_when = when
    said = (
        _("Nothing changed since the previous check{who}: {verdicts}, checked again at {when}.")
        if shown_when
        else _("Nothing changed since the previous check{who}: {verdicts}, checked again.")
    )
    line = said.format(who=who, verdicts=verdicts, when=esc(shown_when))
    return Rendered([_section(line).to_dict()], clip(line, MAX_FALLBACK))


def _changes_section(changes: Sequence[str], requested_by: str | None) -> SectionBlock:
    who = (
        " " + _("(re-check asked by <@{user}>)").format(user=esc(requested_by))
        if requested_by
        else ""
    )
    if not changes:
        return _section(_("*Nothing changed since the previous check.*") + who)
    lines = [_("*Since the previous check:*") + who, *(f"• {esc(c)}" for c in changes)]
    return _section(fit(lines, more=_("…and {n} more changes")))


def _one_host(reports: Sequence[JSON]) -> str | None:
    """The host name when `reports` are its many addresses (one table answers), else None."""
    names = {r.get("hostname") for r in reports}
    if len(reports) <= TABLE_OVER or len(names) != 1:
        return None
    name = names.pop()
    return str(name) if name else None


def host_table(name: str, reports: Sequence[JSON]) -> Rendered:
    """A host name with many addresses: one line per address (verdict, what is wrong), worst first."""
    rows = address_rows(reports)
    verdict = rows[0]["verdict"] if rows else "ok"
    counted = ngettext("{n} address", "{n} addresses", len(rows)).format(n=len(rows))
    heading = f"{EMOJI.get(verdict, '')} {name}: {verdict_words(verdict)} ({counted})"
    blocks: list[Block] = [HeaderBlock(text=_label_header(heading))]
    notes = [esc(note) for note in shared_notes(reports) if note.strip()]
    if notes:
        blocks.append(_section(fit(notes)))
    lines = [
        f"{EMOJI.get(row['verdict'], '')} `{esc(row['address'])}` "
        f"{esc(row['problems']) or verdict_words('ok')}"
        for row in rows
    ]
    blocks.append(_section(fit(lines, more=_("…and {n} more addresses"))))
    blocks.append(_section(_("For one address's full report: `/smtpcheck ADDRESS [DOMAIN]`.")))
    blocks.append(_context(reports[0]))
    text = clip(
        esc(f"{heading}. " + "; ".join(f"{row['address']} {row['verdict']}" for row in rows)),
        MAX_FALLBACK,
    )
    return Rendered([b.to_dict() for b in blocks], text)


def render(
    reports: Sequence[JSON],
    *,
    values: Sequence[str | None] | None = None,
    changes: Sequence[str] | None = None,
    requested_by: str | None = None,
    watch: bool = False,
) -> Rendered:
    """Blocks and fallback text for `reports` (JSON reports, one per address).

    `values[i]` is the Re-check button value of report i (None: no button); `changes`
    (a re-check) adds what changed since the previous report, [] meaning nothing did.
    `requested_by` is a Slack user id, shown as a mention (ids are Slack's, not typed text).
    """
    if changes is not None and not changes:
        return _nothing_changed(reports, requested_by)
    host = _one_host(reports)
    if host is not None and changes is None:
        return host_table(host, reports)
    values = list(values) if values is not None else [None] * len(reports)
    head: list[Block] = []
    if changes is not None:
        head.append(_changes_section(changes, requested_by))
    budget = MAX_BLOCKS - len(head)
    bodies = [_full(r, n, values[n], watch) for n, r in enumerate(reports)]
    dividers = max(len(reports) - 1, 0)
    # Fold reports into the compact form, the last first, until everything fits.
    for n in range(len(reports) - 1, -1, -1):
        if sum(len(b) for b in bodies) + dividers <= budget:
            break
        bodies[n] = _compact(reports[n], n, values[n], watch)
    blocks: list[Block] = list(head)
    for n, body in enumerate(bodies):
        if n:
            blocks.append(DividerBlock())
        blocks.extend(body)
    if len(blocks) > MAX_BLOCKS:
        blocks = [
            *blocks[: MAX_BLOCKS - 1],
            _section(_("…more than fits in one message: run `smtpcheck --json`.")),
        ]
    return Rendered([b.to_dict() for b in blocks], fallback_text(reports, changes))


def table_messages(title: str, table: str, limit: int = 2800) -> list[Rendered]:
    """A long plain-text table as code-block sections, split at line ends, within Slack's limits."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in esc(table).replace("```", "'''").splitlines():
        if current and size + len(line) + 1 > limit:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line[:limit])
        size += len(line) + 1
    if current:
        chunks.append("\n".join(current))
    messages: list[Rendered] = []
    per_message = MAX_BLOCKS - 1
    for start in range(0, len(chunks), per_message):
        sections = [_section(f"```{c}```").to_dict() for c in chunks[start : start + per_message]]
        head = [_section(esc(title)).to_dict()] if start == 0 else []
        messages.append(Rendered([*head, *sections], clip(esc(title), MAX_FALLBACK)))
    return messages


def progress(what: str) -> Rendered:
    """The "checking…" message the report later replaces."""
    said = _("Checking {what}…").format(what=esc(what))
    return Rendered(
        [_section(f":hourglass_flowing_sand: {said}").to_dict()], clip(said, MAX_FALLBACK)
    )


def notice(text: str) -> Rendered:
    """A short message (usage, apology, hint); `text` is already mrkdwn-safe."""
    return Rendered([_section(fit(text.split("\n"))).to_dict()], clip(text, MAX_FALLBACK))


def usage_text(message: str) -> str:
    """A usage reply: the grammar's text escaped, in a code block so columns line up."""
    word = _("Usage:") if _("Usage:") in message else "Usage:"
    first, _sep, rest = message.partition(word)
    head = esc(first.strip())
    body = esc((word + rest).strip()).replace("```", "'''")
    return f"{head}\n```{body}```" if head else f"```{body}```"
