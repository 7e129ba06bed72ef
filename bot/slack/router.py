"""One dispatch for every parsed command, whichever way it came in.

Slash commands, mentions, thread parents, Re-check and Watch buttons all end here:
checks go to `bot.slack.delivery.deliver`, the commands that need the store (watch,
unwatch, history) to `bot.slack.incidents.Incidents`, `help` to the person. Every branch
runs behind `guarded`, so a crash becomes an apology with an error id, never silence, and
nothing is rendered before the asker's language is known (`guarded` settles it: the
acknowledgement went out before, without waiting for it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.grammar import Command, Help, History, Monitor, Unmonitor, Unwatch, Watch, usage
from bot.slack import blocks
from bot.slack.delivery import deliver, guarded, tell
from bot.slack.deps import Conversation, Deps
from bot.slack.incidents import Incidents
from handlers.i18n import N_, _
from handlers.numbers import ascii_int

NOT_ENABLED = N_("Watches and history are not enabled on this installation; only checks are.")
UNREADABLE = N_(
    "I cannot read that button (it may come from an older version). Run `/smtpcheck` again."
)


class Router:
    """Routes a `Command` to the code that serves it; built once, at start-up."""

    def __init__(self, deps: Deps, incidents: Incidents | None = None) -> None:
        self.deps = deps
        #: None when the bot runs without a store: checks only.
        self.incidents = incidents

    async def dispatch(
        self,
        client: AsyncWebClient,
        command: Command,
        conv: Conversation,
        *,
        previous: Mapping[str, Any] | None = None,
        recheck: bool = False,
        requested_by: str | None = None,
    ) -> None:
        """Serve `command` in `conv`; `previous`/`recheck` make it a Re-check of a report."""

        async def work() -> None:
            if isinstance(command, Help):
                await tell(client, conv, blocks.usage_text(usage()))
            elif isinstance(command, Watch | Unwatch | Monitor | Unmonitor | History):
                if self.incidents is None:
                    await tell(client, conv, _(NOT_ENABLED))
                else:
                    await self.incidents.dispatch(command, conv, client)
            else:
                await deliver(
                    client,
                    self.deps,
                    command,
                    conv,
                    previous=previous,
                    recheck=recheck,
                    requested_by=requested_by,
                )

        await guarded(client, conv, work)

    async def stop_watch(self, client: AsyncWebClient, raw_id: str, conv: Conversation) -> None:
        """The Stop button of a watch: its value is the watch's id."""

        async def work() -> None:
            watch_id = ascii_int(raw_id)
            if self.incidents is None or watch_id is None:
                await tell(client, conv, _(UNREADABLE))
                return
            await self.incidents.stop_by_id(watch_id, conv, client)

        await guarded(client, conv, work)

    async def unreadable(self, client: AsyncWebClient, conv: Conversation) -> None:
        """A button whose value cannot be read (an older version's, or forged)."""
        await guarded(client, conv, lambda: tell(client, conv, _(UNREADABLE)))


def router_of(context: Mapping[str, Any]) -> Router:
    """The Router the app's first middleware put in Bolt's context."""
    router = context.get("router")
    if not isinstance(router, Router):
        raise RuntimeError("bot.slack.app did not install its provide() middleware")
    return router
