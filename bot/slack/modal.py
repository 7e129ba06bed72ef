"""The Check modal: its Block Kit view, and what a submitted form asks for (pure, no I/O).

One form for the three ways in (the `smtpcheck_open` shortcut, `/smtpcheck` alone, the
Open Check button of App Home). A submission is read with the command grammar itself, so
the modal refuses exactly what `/smtpcheck` refuses, with the same sentence, shown on the
field it is about (`response_action: errors`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.grammar import Bounce, Command, Spf, UsageError, check_domain, parse
from handlers.i18n import N_, _
from handlers.settings import SMTP_PORTS

CALLBACK_ID = "smtpcheck_check"

TARGET_BLOCK, TARGET_INPUT = "target", "target_input"
DOMAIN_BLOCK, DOMAIN_INPUT = "domain", "domain_input"
KIND_BLOCK, KIND_INPUT = "kind", "kind_input"
BOUNCE_BLOCK, BOUNCE_INPUT = "bounce", "bounce_input"

#: What the "What to check" menu offers, in the order people reach for them.
KINDS: tuple[tuple[str, str], ...] = (
    # All it does: with a mail domain, the full check adds DMARC and DKIM to SPF.
    ("full", N_("Full check (blocklists, PTR; with a domain, SPF, DMARC, DKIM)")),
    ("bl", N_("Blocklists only")),
    ("ptr", N_("Reverse DNS (PTR) only")),
    ("spf", N_("SPF of the mail domain")),
    ("auth", N_("DMARC and DKIM of the mail domain")),
    ("smtp", N_("SMTP probe (sends no mail)")),
    ("bounce", N_("Explain a bounce")),
)

NEED_TARGET = N_(
    "Fill in the address or host name to check, e.g. 51.158.10.22 or mail.example.com."
)
NEED_SPF_DOMAIN = N_("Fill in the mail domain, e.g. example.com: SPF is published by the domain.")
NEED_DMARC_DOMAIN = N_(
    "Fill in the mail domain, e.g. example.com: DMARC and DKIM are published by the domain."
)
NEED_BOUNCE = N_("Paste the bounce or rejection text here.")
NO_DOMAIN_HERE = N_(
    "Blocklists and reverse DNS do not use a mail domain: leave it empty, or choose Full check."
)
MAX_BOUNCE = 3000


@dataclass(frozen=True)
class Origin:
    """Where the modal was opened, so its answer goes back there (no channel: to the person)."""

    channel: str | None = None
    thread_ts: str | None = None
    response_url: str | None = None

    def to_metadata(self) -> str:
        data = {"c": self.channel, "t": self.thread_ts, "r": self.response_url}
        text = json.dumps({k: v for k, v in data.items() if v}, separators=(",", ":"))
        if len(text) > 3000:  # a response_url is short; never let one break the view
            text = json.dumps({"c": self.channel} if self.channel else {})
        return text

    @classmethod
    def from_metadata(cls, text: str | None) -> Origin:
        """The origin `to_metadata` wrote; an unreadable one means "answer the person"."""
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()

        def field(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        return cls(field("c"), field("t"), field("r"))


@dataclass(frozen=True)
class Form:
    """What the person filled in."""

    target: str = ""
    domain: str = ""
    kind: str = "full"
    bounce: str = ""


class FormError(ValueError):
    """Fields that cannot be checked: block id -> the sentence shown under that field."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = dict(errors)


def _label(text: str) -> PlainTextObject:
    """Plain text in the asker's language (`text` marked with N_ where it is written)."""
    return PlainTextObject(text=_(text), emoji=False)


def check_modal(origin: Origin, form: Form | None = None) -> dict[str, Any]:
    """The modal view (views.open); `form` pre-fills it (e.g. what App Home re-checks)."""
    form = form or Form()
    kinds = [Option(value=value, label=_(label)) for value, label in KINDS]
    initial = next((o for o in kinds if o.value == form.kind), kinds[0])
    view = View(
        type="modal",
        callback_id=CALLBACK_ID,
        private_metadata=origin.to_metadata(),
        title=_label(N_("Check with smtpcheck")),
        submit=_label(N_("Check")),
        close=_label(N_("Cancel")),
        blocks=[
            InputBlock(
                block_id=TARGET_BLOCK,
                label=_label(N_("Address or host name")),
                hint=_label(
                    N_("The server that sends the mail: an IP address or a name with a dot.")
                ),
                optional=True,
                element=PlainTextInputElement(
                    action_id=TARGET_INPUT,
                    placeholder=_label(N_("51.158.10.22 or mail.example.com")),
                    initial_value=form.target or None,
                    max_length=255,
                ),
            ),
            InputBlock(
                block_id=DOMAIN_BLOCK,
                label=_label(N_("Mail domain")),
                hint=_label(
                    N_("Optional: the domain in the sender's address, for SPF, DMARC and DKIM.")
                ),
                optional=True,
                element=PlainTextInputElement(
                    action_id=DOMAIN_INPUT,
                    placeholder=_label("example.com"),
                    initial_value=form.domain or None,
                    max_length=253,
                ),
            ),
            InputBlock(
                block_id=KIND_BLOCK,
                label=_label(N_("What to check")),
                element=StaticSelectElement(
                    action_id=KIND_INPUT, options=kinds, initial_option=initial
                ),
            ),
            InputBlock(
                block_id=BOUNCE_BLOCK,
                label=_label(N_("Bounce or rejection text")),
                hint=_label(
                    N_("Only for Explain a bounce: paste the bounce message or the log line.")
                ),
                optional=True,
                element=PlainTextInputElement(
                    action_id=BOUNCE_INPUT,
                    multiline=True,
                    initial_value=form.bounce or None,
                    max_length=MAX_BOUNCE,
                ),
            ),
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=_(
                            "The answer is posted where you opened this, or sent to you "
                            "in a direct message."
                        )
                    )
                ]
            ),
        ],
    )
    return view.to_dict()


def read_form(view: Mapping[str, Any]) -> Form:
    """The fields of a submitted view (`view.state.values`); missing fields are empty."""
    values = (view.get("state") or {}).get("values") or {}

    def text(block: str, action: str) -> str:
        raw = (values.get(block) or {}).get(action) or {}
        return str(raw.get("value") or "").strip()

    selected = ((values.get(KIND_BLOCK) or {}).get(KIND_INPUT) or {}).get("selected_option")
    kind = str((selected or {}).get("value") or "full")
    return Form(
        target=text(TARGET_BLOCK, TARGET_INPUT),
        domain=text(DOMAIN_BLOCK, DOMAIN_INPUT),
        kind=kind if kind in dict(KINDS) else "full",
        bounce=text(BOUNCE_BLOCK, BOUNCE_INPUT),
    )


def _is_address(word: str) -> bool:
    return any(ch == ":" for ch in word) or word.replace(".", "").isdigit()


def commands_of(form: Form, ports: Sequence[int] = SMTP_PORTS) -> list[Command]:
    """The commands the form asks for, read with the grammar; FormError says what to fix.

    `ports`: the SMTP ports the probe connects to (SMTPCHECK_SMTP_PORTS).
    """
    errors: dict[str, str] = {}
    domain: str | None = None
    target = form.target
    if form.domain:
        try:
            domain = check_domain(form.domain)
        except UsageError as exc:
            errors[DOMAIN_BLOCK] = str(exc)
    if form.kind in ("spf", "auth") and not form.domain and target and not _is_address(target):
        # "SPF of mail.example.com" typed into the first field: that name is the domain.
        try:
            domain, target = check_domain(target), ""
        except UsageError as exc:
            errors[TARGET_BLOCK] = str(exc)
    commands: list[Command] = []
    try:
        commands = _commands(form.kind, target, domain, form.bounce, errors, ports)
    except UsageError as exc:
        errors.setdefault(TARGET_BLOCK, str(exc))
    if errors:
        raise FormError(errors)
    return commands


def _commands(
    kind: str,
    target: str,
    domain: str | None,
    bounce: str,
    errors: dict[str, str],
    ports: Sequence[int] = SMTP_PORTS,
) -> list[Command]:
    if kind == "bounce":
        if not bounce:
            errors[BOUNCE_BLOCK] = _(NEED_BOUNCE)
            return []
        return [Bounce(bounce)]
    if kind == "spf":
        if domain is None:
            errors.setdefault(DOMAIN_BLOCK, _(NEED_SPF_DOMAIN))
            return []
        spf = parse(f"spf {domain} {target}".strip())
        return [spf] if isinstance(spf, Spf) else []
    if kind == "auth":
        if domain is None:
            errors.setdefault(DOMAIN_BLOCK, _(NEED_DMARC_DOMAIN))
            return []
        # With the sending address, DMARC also says whether SPF aligns for it.
        return [parse(f"dmarc {domain} {target}".strip()), parse(f"dkim {domain}")]
    if not target:
        errors[TARGET_BLOCK] = _(NEED_TARGET)
        return []
    if kind == "smtp":
        return [parse(f"smtp {target}", ports=ports)]
    if kind in ("bl", "ptr"):
        if domain is not None:
            errors[DOMAIN_BLOCK] = _(NO_DOMAIN_HERE)
            return []
        return [parse(f"{kind} {target}")]
    return [parse(f"check {target} {domain or ''}".strip())]
