"""App Home as Block Kit: what runs in the workspace and the person's last checks (pure).

The view is a function of plain rows (`Running`, `Recent`) so the store and Slack stay
out of it: watches today, and anything else that runs on a schedule (monitors) becomes
a `Running` row with its own Stop action. Within Slack's limits for a home tab (100
blocks, 3,000 characters a section, 75 a button label), checked by slack_sdk's models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.slack.blocks import EMOJI, MAX_SECTION, clip, esc
from handlers.i18n import N_, _, moment, ngettext

OPEN_CHECK_ACTION = "home_open_check"
STOP_WATCH_ACTION = "home_stop_watch"
STOP_MONITOR_ACTION = "home_stop_monitor"
RECHECK_ACTION = "home_recheck"

#: Slack's limit for a home tab, and how many running items fit beside the rest.
MAX_HOME_BLOCKS = 100
SHOWN_RUNNING = 60
SHOWN_RECENT = 10

WATCH = N_("Watch")
MONITOR = N_("Monitor")
_SLACK_ID = re.compile(r"^[CDG][A-Z0-9_]{2,30}$")


@dataclass(frozen=True)
class Running:
    """Something that re-checks on a schedule: a watch, or a monitor."""

    #: What it is, as the person reads it (`WATCH`, `MONITOR`: marked with N_, shown translated).
    what: str
    target: str
    domain: str | None
    channel_id: str
    since: datetime
    #: The verdict of its last run (None: it has not run yet).
    verdict: str | None
    stop_action: str
    stop_value: str
    #: How its last run went when a verdict does not say it (a monitor's listed addresses).
    last_run: str | None = None


@dataclass(frozen=True)
class Recent:
    """One of the person's stored checks and how to run it again."""

    target: str
    domain: str | None
    verdict: str
    created_at: datetime
    #: The Re-check button's value (None: nothing to re-check, e.g. a bounce with no address).
    recheck_value: str | None


def _when(at: datetime) -> str:
    return moment(at.astimezone(UTC))


def _channel(channel_id: str) -> str:
    """A channel link; ids come from Slack, anything else is shown as text."""
    return f"<#{channel_id}>" if _SLACK_ID.match(channel_id) else esc(channel_id)


def _verdict(verdict: str | None) -> str:
    if verdict is None:
        return _("not run yet")
    return f"{EMOJI.get(verdict, '')} {esc(verdict)}".strip()


def _target(target: str, domain: str | None) -> str:
    shown = f"`{esc(clip(target, 255))}`"
    return f"{shown} ({esc(clip(domain, 255))})" if domain else shown


def _button(text: str, action: str, value: str, style: str | None = None) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=text, emoji=True), action_id=action, value=value, style=style
    )


def _running_block(item: Running) -> SectionBlock:
    if item.last_run is not None:
        template = _("*{what}* {target} in {channel}\nsince {since} · last run: {last_run}")
    else:
        template = _("*{what}* {target} in {channel}\nsince {since} · last verdict: {verdict}")
    text = template.format(
        what=esc(_(item.what)),
        target=_target(item.target, item.domain),
        channel=_channel(item.channel_id),
        since=_when(item.since),
        verdict=_verdict(item.verdict),
        last_run=esc(item.last_run or ""),
    )
    stop = _button(_(":no_bell: Stop"), item.stop_action, item.stop_value, style="danger")
    stop.confirm = ConfirmObject(
        title=PlainTextObject(text=_("Stop it?")),
        text=PlainTextObject(text=_("No more re-checks; its thread is told who stopped it.")),
        confirm=PlainTextObject(text=_("Stop")),
        deny=PlainTextObject(text=_("Keep it")),
    )
    return SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SECTION)), accessory=stop)


def _recent_block(item: Recent) -> SectionBlock:
    text = _("{verdict} {target}\nchecked {when}").format(
        verdict=_verdict(item.verdict),
        target=_target(item.target, item.domain),
        when=_when(item.created_at),
    )
    accessory = (
        _button(_(":arrows_counterclockwise: Re-check"), RECHECK_ACTION, item.recheck_value)
        if item.recheck_value
        else None
    )
    return SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SECTION)), accessory=accessory)


def _note(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, MAX_SECTION))])


def home_view(
    running: Sequence[Running],
    recent: Sequence[Recent],
    *,
    store_enabled: bool = True,
    notice: str | None = None,
) -> dict[str, Any]:
    """The home tab (views.publish): the Open Check button, what runs, the last checks.

    `notice` (our own sentence) replaces both lists, e.g. when the store cannot be read.
    """
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text="smtpcheck", emoji=False)),
        SectionBlock(
            text=MarkdownTextObject(
                text=_(
                    "Why is mail from this server bouncing? Check an address, a host name "
                    "or a pasted bounce."
                )
            ),
            accessory=_button(_(":mag: Open Check"), OPEN_CHECK_ACTION, "open", style="primary"),
        ),
        DividerBlock(),
        HeaderBlock(text=PlainTextObject(text=_("Running in this workspace"), emoji=False)),
    ]
    if notice is not None:
        blocks.append(_note(notice))
        return View(type="home", blocks=blocks).to_dict()
    if not store_enabled:
        blocks.append(_note(_("Watches and history are not enabled on this installation.")))
    elif not running:
        blocks.append(_note(_("Nothing is being watched. Start with `/smtpcheck watch IP`.")))
    blocks.extend(_running_block(item) for item in running[:SHOWN_RUNNING])
    if len(running) > SHOWN_RUNNING:
        hidden = len(running) - SHOWN_RUNNING
        blocks.append(
            _note(
                ngettext(
                    "…and {n} more: `/smtpcheck watch` in a channel lists its own.",
                    "…and {n} more: `/smtpcheck watch` in a channel lists its own.",
                    hidden,
                ).format(n=hidden)
            )
        )
    blocks += [
        DividerBlock(),
        HeaderBlock(text=PlainTextObject(text=_("Your last checks"), emoji=False)),
    ]
    if store_enabled and not recent:
        blocks.append(_note(_("You have not checked anything yet.")))
    blocks.extend(_recent_block(item) for item in recent[:SHOWN_RECENT])
    view = View(type="home", blocks=blocks[:MAX_HOME_BLOCKS])
    return view.to_dict()


# ---- what a stored report's Re-check runs -------------------------------------------


def recheck_text(report: Mapping[str, Any], domain: str | None) -> str | None:
    """The command (in the grammar's words) that checks a stored report's target again."""
    target = report.get("target")
    checks = report.get("checks")
    if not isinstance(target, str) or not isinstance(checks, Mapping):
        return None
    ran = {
        name
        for name, check in checks.items()
        if isinstance(check, Mapping) and check.get("status") != "skipped"
    }
    smtp = checks.get("smtp")
    if isinstance(smtp, Mapping):
        return f"smtp {smtp.get('host') or target} {smtp.get('port') or 25}"
    if "mx" in checks:
        return f"mx {target}"
    if "range" in checks:
        return f"bl {target}"
    if "dnsbl" in checks or "ptr" in checks:
        if ran == {"dnsbl"}:
            return f"bl {target}"
        if ran == {"ptr"}:
            return f"ptr {target}"
        return f"{target} {domain}" if domain else target
    if "dmarc" in checks:
        spf = checks.get("spf")
        ip = spf.get("ip") if isinstance(spf, Mapping) else None
        return f"dmarc {target} {ip}" if ip else f"dmarc {target}"
    if "dkim" in checks:
        return f"dkim {target}"
    if "spf" in checks:
        return f"spf {target}"
    return None


def recheck_value(text: str, report_id: int) -> str:
    """The Re-check button value: the command, and the stored report to compare against."""
    return json.dumps({"c": text, "r": report_id}, separators=(",", ":"))


def read_recheck_value(value: str) -> tuple[str, int | None]:
    """(command text, report id) from `recheck_value`; ValueError when it is not one."""
    data = json.loads(value)
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        raise ValueError("not a home Re-check value")
    report_id = data.get("r")
    return data["c"], report_id if isinstance(report_id, int) else None
