"""Each person is answered in their Slack language.

Slack tells a person's locale (`fr-FR`, `en-GB`) through `users.info` with
`include_locale=true` (the `users:read` scope). It is asked once per person and kept for an
hour, so only someone's first request in an hour costs a Web API call; that call is bounded
(a slow Slack must not cost the 3-second acknowledgement). When Slack does not say (no
scope, an error, no answer in time) SMTPCHECK_LANGUAGE decides. A report posted in a
channel is in the language of the person who asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from handlers import i18n
from handlers.i18n import Language

log = logging.getLogger("smtpcheck.slack")

Next = Callable[[], Awaitable[None]]


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
    """Middleware: answer this request, and the tasks it starts, in the asker's language."""

    async def set_language(body: dict[str, Any], client: AsyncWebClient, next_: Next) -> None:
        i18n.set_language(await locales.language(client, asker(body)))
        await next_()

    return set_language
