"""Each person is answered in their Slack language.

Slack tells a person's locale (`fr-FR`, `en-GB`) through `users.info` with
`include_locale=true` (the `users:read` scope). It is asked once per person and kept for an
hour, so only someone's first request in an hour costs a Web API call; that call is bounded
(1.5 s). When Slack does not say (no scope, an error, no answer in time) SMTPCHECK_LANGUAGE
decides. A report posted in a channel is in the language of the person who asked.

The acknowledgement does not wait for that call. `choose_language` starts it beside the
request, and the code that puts words in front of the person waits for it first
(`await settle()`): a listener before an ack that carries text (a usage error, a modal's
field errors, a refusal), else right after its ack; `Router.dispatch` and `guarded` settle
too, before the first post. Until then the request's language is the cached one, or
SMTPCHECK_LANGUAGE, so nothing is ever answered in a language no rule chose.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from handlers import i18n
from handlers.i18n import Language

log = logging.getLogger("smtpcheck.slack")

Next = Callable[[], Awaitable[None]]

#: The asker's language being looked up for this request (None: known, nothing to wait for).
_pending: ContextVar[asyncio.Future[Language] | None] = ContextVar(
    "smtpcheck_pending_language", default=None
)


class Locales:
    """A person's language, from their Slack locale, cached per person."""

    def __init__(
        self,
        default: Language = i18n.DEFAULT,
        *,
        ttl: float = 3600.0,
        failure_ttl: float = 300.0,
        timeout: float = 1.5,
        max_people: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default = default
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self.timeout = timeout
        self.max_people = max_people
        self.clock = clock
        self._known: OrderedDict[str, tuple[Language, float]] = OrderedDict()
        #: users.info calls made (what the cache saves shows in tests and metrics).
        self.lookups = 0
        #: Lookups under way, one per person: two requests at once share one call.
        self._asking: dict[str, asyncio.Task[Language]] = {}

    def remember(self, user: str, language: Language, ttl: float) -> None:
        self._known[user] = (language, self.clock() + ttl)
        self._known.move_to_end(user)
        while len(self._known) > self.max_people:
            self._known.popitem(last=False)

    def cached(self, user: str) -> Language | None:
        found = self._known.get(user)
        if found is None or found[1] <= self.clock():
            return None
        return found[0]

    async def language(self, client: AsyncWebClient, user: str) -> Language:
        """`user`'s language: their Slack locale when we support it, else the default."""
        if not user:
            return self.default
        known = self.cached(user)
        if known is not None:
            return known
        self.lookups += 1
        try:
            response = await asyncio.wait_for(
                client.users_info(user=user, include_locale=True), self.timeout
            )
            locale = str((response.get("user") or {}).get("locale") or "")
        except Exception as exc:  # a person's language is never worth a failed answer
            log.info("no locale for %s (%s): answering in %s", user, exc, self.default)
            self.remember(user, self.default, self.failure_ttl)
            return self.default
        language = i18n.language_of(locale) or self.default
        self.remember(user, language, self.ttl)
        return language

    def ask(self, client: AsyncWebClient, user: str) -> asyncio.Future[Language] | None:
        """Start looking `user`'s language up, without waiting; None when it is already known.

        The lookup runs as a task (bounded like `language`, and never failing), shared by
        every request of that person while it runs.
        """
        if not user or self.cached(user) is not None:
            return None
        task = self._asking.get(user)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(self.language(client, user))
            self._asking[user] = task
            task.add_done_callback(lambda done: self._forget(user, done))
        return task

    def _forget(self, user: str, task: asyncio.Task[Language]) -> None:
        if self._asking.get(user) is task:
            del self._asking[user]

    def now(self, user: str) -> Language:
        """`user`'s language as far as it is known without asking: cached, else the default."""
        return (self.cached(user) if user else None) or self.default


def asker(body: Mapping[str, Any]) -> str:
    """The Slack user a request comes from (slash command, event, button, modal, shortcut)."""
    if "user_id" in body:
        return str(body.get("user_id") or "")
    user = body.get("user")
    if isinstance(user, Mapping):
        return str(user.get("id") or "")
    if isinstance(user, str):
        return user
    event = body.get("event")
    if isinstance(event, Mapping):
        who = event.get("user")
        if isinstance(who, Mapping):
            return str(who.get("id") or "")
        return str(who or "")
    return ""


def choose_language(locales: Locales) -> Callable[..., Awaitable[None]]:
    """Middleware: start finding the asker's language; `settle()` waits for it.

    It never waits itself, so a new person's users.info call does not delay the ack.
    """

    async def start_language(body: dict[str, Any], client: AsyncWebClient, next_: Next) -> None:
        user = asker(body)
        i18n.set_language(locales.now(user))
        _pending.set(locales.ask(client, user))
        await next_()

    return start_language


async def settle() -> Language:
    """Wait for the asker's language (`choose_language`), and answer in it from here on.

    Call it before rendering anything the person reads. At most the lookup's bound (1.5 s)
    the first time, nothing afterwards; outside a Slack request it changes nothing.
    """
    pending = _pending.get()
    if pending is not None:
        try:
            # shield: a request given up on must not cancel the lookup others share.
            i18n.set_language(await asyncio.shield(pending))
        except asyncio.CancelledError:
            if not pending.cancelled():
                raise  # this request is being cancelled, not the lookup
            # the lookup was cancelled (the loop is closing): keep the fallback set at the start
        _pending.set(None)
    return i18n.current()
