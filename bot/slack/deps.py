"""What the listeners share: settings, the one resolver per event loop, and the lead's hooks.

Listeners get a `Deps` from Bolt's context (`deps_of(context)`), put there by a
middleware `bot.slack.app` installs, so `register(app)` stays the whole wiring.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.config import SlackConfig, make_resolver
from bot.grammar import Command
from bot.slack.language import Locales
from handlers.dns.resolver import Resolver
from handlers.settings import Settings
from handlers.smtp import ProbeLimiter

if TYPE_CHECKING:
    from bot.slack.incidents import Incidents


@dataclass(frozen=True)
class Conversation:
    """Where a request came from and where its answer goes."""

    channel: str
    user: str
    #: The thread to answer in (None: a new top-level message).
    thread_ts: str | None = None
    #: The slash command's or button's response_url (None for mentions).
    response_url: str | None = None
    team: str | None = None


#: Commands this module does not run itself (watch, unwatch, history, bounce from a thread).
OtherHandler = Callable[[Command, Conversation, Any], Awaitable[None]]


@dataclass
class Deps:
    config: SlackConfig
    settings: Settings
    #: Set by the lead for Watch/Unwatch/History (and Bounce found in a thread).
    #: Called as `await dispatch_other(command, conversation, client)`.
    dispatch_other: OtherHandler | None = None
    #: History and watches (None when the bot runs without a store).
    incidents: Incidents | None = None
    _resolvers: dict[int, Resolver] = field(default_factory=dict, repr=False)
    _probes: ProbeLimiter | None = field(default=None, repr=False)
    _locales: Locales | None = field(default=None, repr=False)

    @property
    def resolver(self) -> Resolver:
        """The resolver of the running event loop, shared by every check in it."""
        loop = asyncio.get_running_loop()
        found = self._resolvers.get(id(loop))
        if found is None:
            found = self._resolvers[id(loop)] = make_resolver(self.settings)
        return found

    @property
    def probes(self) -> ProbeLimiter:
        """The per-person cap on SMTP probes running at once (smtp, mx, egress)."""
        if self._probes is None:
            self._probes = ProbeLimiter(self.settings.max_probes_per_user)
        return self._probes

    @property
    def locales(self) -> Locales:
        """Each person's language (their Slack locale, else SMTPCHECK_LANGUAGE), cached."""
        if self._locales is None:
            self._locales = Locales(self.config.language)
        return self._locales

    def fresh_resolver(self) -> Resolver:
        """A resolver with an empty cache: a re-check must see today's answers, not cached ones."""
        return make_resolver(self.settings)

    @property
    def watch_enabled(self) -> bool:
        return self.dispatch_other is not None


def deps_of(context: Mapping[str, Any]) -> Deps:
    """The Deps the app's first middleware put in Bolt's context."""
    deps = context.get("deps")
    if not isinstance(deps, Deps):
        raise RuntimeError("bot.slack.app did not install its Deps middleware")
    return deps
