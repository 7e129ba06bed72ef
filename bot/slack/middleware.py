"""Cross-cutting checks as Bolt middleware: who may ask, and how often.

Kept out of the listeners (as Netflix Dispatch does) so every way in (slash command,
mention, Re-check button, message shortcut, Check modal, App Home Re-check, direct
message) gets the same rules, and a refusal is a friendly sentence to that person only.
An answer with no channel of its own (the modal opened from Home, a Home Re-check) goes
to the person's direct message, so the channel allow-list sees "" there.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import SlackConfig
from bot.slack import blocks, home, modal
from bot.slack.delivery import respond
from bot.slack.language import settle
from bot.slack.router import Router
from bot.slack.surfaces import MESSAGE_SHORTCUT, is_persons_direct_message
from handlers.i18n import _, ngettext
from handlers.settings import SMTP_PORTS

log = logging.getLogger("smtpcheck.slack")

Next = Callable[[], Awaitable[None]]
_tasks: set[asyncio.Task[Any]] = set()


def _later(coro: Coroutine[Any, Any, None]) -> None:
    """Run a refusal notice after the ack without losing the task."""
    task = asyncio.ensure_future(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


@dataclass(frozen=True)
class Request:
    """Who asked for a check, where, and how to answer them."""

    kind: str  # command | mention | action | shortcut | view | home | dm
    user: str
    channel: str
    response_url: str | None = None
    thread_ts: str | None = None


def classify(body: Mapping[str, Any], ports: Sequence[int] = SMTP_PORTS) -> Request | None:
    """The check-starting request in `body`, or None (link clicks, other events) to let pass.

    `ports`: the SMTP ports the probe connects to, so a form the listener accepts counts.
    """
    if "command" in body:
        return Request("command", str(body.get("user_id", "")), str(body.get("channel_id", "")))
    user = str((body.get("user") or {}).get("id", ""))
    if body.get("type") == "block_actions":
        actions = body.get("actions") or [{}]
        action = actions[0].get("action_id")
        if action in (blocks.RECHECK_ACTION, blocks.WATCH_ACTION):
            return Request(
                "action",
                user,
                str((body.get("channel") or {}).get("id", "")),
                response_url=body.get("response_url"),
            )
        if action == home.RECHECK_ACTION:
            return Request("home", user, "")
        return None
    if body.get("type") == "message_action" and body.get("callback_id") == MESSAGE_SHORTCUT:
        message = body.get("message") or {}
        return Request(
            "shortcut",
            user,
            str((body.get("channel") or {}).get("id", "")),
            response_url=body.get("response_url"),
            thread_ts=message.get("thread_ts") or message.get("ts"),
        )
    view = body.get("view") or {}
    if body.get("type") == "view_submission" and view.get("callback_id") == modal.CALLBACK_ID:
        try:
            modal.commands_of(modal.read_form(view), ports)
        except modal.FormError:
            return None  # a form to fix starts no check: the listener shows what to fix
        origin = modal.Origin.from_metadata(view.get("private_metadata"))
        return Request("view", user, origin.channel or "")
    event = body.get("event") or {}
    if body.get("type") != "event_callback":
        return None
    if event.get("type") == "app_mention":
        return Request(
            "mention",
            str(event.get("user", "")),
            str(event.get("channel", "")),
            thread_ts=event.get("thread_ts") or event.get("ts"),
        )
    if event.get("type") == "message" and is_persons_direct_message(event, None):
        return Request(
            "dm",
            str(event.get("user", "")),
            str(event.get("channel", "")),
            thread_ts=event.get("thread_ts"),
        )
    return None


class RateLimiter:
    """At most `per_minute` check-starting requests per person in any 60 seconds."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}

    def wait(self, user: str) -> float:
        """0 when `user` may go ahead (and counts it); else the seconds until they may."""
        if self.per_minute <= 0:
            return 0.0
        now = self.clock()
        seen = self._seen.setdefault(user, deque())
        while seen and now - seen[0] >= 60:
            seen.popleft()
        if len(seen) >= self.per_minute:
            return 60 - (now - seen[0])
        seen.append(now)
        return 0.0


@dataclass(frozen=True)
class Refusal:
    """Why a request may not go ahead; `sentence()` says it (in the asker's language)."""

    why: Literal["channel", "user", "rate"]
    per_minute: int = 0
    wait: float = 0.0

    def sentence(self) -> str:
        if self.why == "channel":
            return _(
                "smtpcheck is not enabled in this conversation. Ask whoever runs it to add this "
                "channel to SMTPCHECK_ALLOWED_CHANNELS."
            )
        if self.why == "user":
            return _(
                "You are not on smtpcheck's list of users. Ask whoever runs it to add you to "
                "SMTPCHECK_ALLOWED_USERS."
            )
        seconds = math.ceil(self.wait)
        return " ".join(
            (
                ngettext(
                    ":hourglass: Easy there: that is {n} check in the last minute.",
                    ":hourglass: Easy there: that is {n} checks in the last minute.",
                    self.per_minute,
                ).format(n=self.per_minute),
                ngettext("Try again in {n} second.", "Try again in {n} seconds.", seconds).format(
                    n=seconds
                ),
            )
        )


def refusal(config: SlackConfig, limiter: RateLimiter, request: Request) -> Refusal | None:
    """Why `request` may not go ahead, or None (a request let through counts for the rate)."""
    if config.allowed_channels and request.channel not in config.allowed_channels:
        return Refusal("channel")
    if config.allowed_users and request.user not in config.allowed_users:
        return Refusal("user")
    wait = limiter.wait(request.user)
    if wait:
        return Refusal("rate", limiter.per_minute, wait)
    return None


def provide(router: Router) -> Callable[..., Awaitable[None]]:
    """Put the router and its Deps in every request's context (`router_of`, `deps_of`)."""

    async def provide_router(context: dict[str, Any], next_: Next) -> None:
        context["router"] = router
        context["deps"] = router.deps
        await next_()

    return provide_router


def access(
    config: SlackConfig, limiter: RateLimiter, ports: Sequence[int] = SMTP_PORTS
) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Allow-lists of channels and users, and the per-person rate limit."""

    async def check_access(
        body: dict[str, Any], client: AsyncWebClient, next_: Next
    ) -> BoltResponse | None:
        request = classify(body, ports)
        refused = refusal(config, limiter, request) if request else None
        if request is None or refused is None:
            await next_()
            return None
        log.info(
            "refused a %s from %s in %s: %s", request.kind, request.user, request.channel, refused
        )
        if request.kind in ("command", "view"):
            # The sentence is the ack itself: only then does the ack wait for the language.
            await settle()
            text = refused.sentence()  # our own sentences: nothing to escape
            if request.kind == "command":
                return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
            errors = {modal.TARGET_BLOCK: text}  # shown under the first field; the modal stays open
            return BoltResponse(status=200, body={"response_action": "errors", "errors": errors})
        _later(_tell(client, request, refused))
        return BoltResponse(status=200, body="")

    return check_access


async def _tell(client: AsyncWebClient, request: Request, refused: Refusal) -> None:
    """A refusal the ack could not carry, after the ack, in the asker's language."""
    await settle()
    text = refused.sentence()
    if request.kind in ("action", "shortcut") and request.response_url:
        await respond(request.response_url, blocks.notice(text), ephemeral=True)
    elif request.kind in ("mention", "dm", "shortcut"):
        await _ephemeral(client, request, text)
    elif request.kind == "home":
        await _direct(client, request, text)


async def _ephemeral(client: AsyncWebClient, request: Request, text: str) -> None:
    try:
        await client.chat_postEphemeral(
            channel=request.channel, user=request.user, thread_ts=request.thread_ts, text=text
        )
    except Exception:
        log.exception("could not tell %s why their mention was refused", request.user)


async def _direct(client: AsyncWebClient, request: Request, text: str) -> None:
    """A refusal for a button on App Home: there is no channel, so the person's DM."""
    try:
        await client.chat_postMessage(channel=request.user, text=text)
    except Exception:
        log.exception("could not tell %s why their re-check was refused", request.user)
