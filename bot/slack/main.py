"""`python -m bot`: Socket Mode when SLACK_APP_TOKEN is set (with /healthz and /metrics on
PORT), otherwise HTTP mode on PORT.

A configuration mistake ends with one sentence naming the variable (exit 2), never a
traceback. Log records are scrubbed of the tokens and the signing secret, whatever the
log level, because Bolt and slack_sdk log request details at DEBUG.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import re
import signal
import sys
from collections.abc import Iterable

from slack_bolt.async_app import AsyncApp

from bot import metrics
from bot.config import ConfigError, SlackConfig, settings_from_env, slack_from_env
from bot.slack.app import build_app, make_client
from bot.slack.deps import Deps
from bot.slack.health import HealthListener
from bot.slack.http import make_http_app
from bot.slack.incidents import Incidents
from bot.slack.replays import Replays
from bot.slack.router import Router
from bot.store import Store, StoreError
from handlers.settings import Settings

#: Seconds between looks for due watches (SMTPCHECK_WATCH_POLL overrides: tests, busy installs).
WATCH_POLL_SECONDS = 30.0

_TOKEN = re.compile(r"xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")


class Redact(logging.Filter):
    """Replace secrets (and anything shaped like a Slack token) in every log record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return _TOKEN.sub("[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.scrub(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


def configure_logging(config: SlackConfig) -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redact([config.bot_token, config.signing_secret, config.app_token or ""]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")


#: Modules the checks import on first use (the terminal pays only for what it runs). A
#: long-lived bot imports them before it serves, or the first check would hold the event
#: loop for the better part of a second, the acknowledgement of its command included.
CHECK_MODULES = (
    "handlers.ptr",
    "handlers.spf",
    "handlers.smtp",
    "handlers.mx",
    "handlers.egress",
    "handlers.bounce",
)


def warm_up() -> None:
    for name in CHECK_MODULES:
        importlib.import_module(name)


def assemble(config: SlackConfig, settings: Settings, store: Store) -> tuple[AsyncApp, Incidents]:
    """The Bolt app with history and watches wired in, every piece built once, in order."""
    deps = Deps(config=config, settings=settings, store=store)
    client = make_client(config)
    incidents = Incidents(store, deps, client)
    metrics.show_monitors(store.monitor_listings)
    app = build_app(config, Router(deps, incidents), client)
    return app, incidents


async def socket_mode(config: SlackConfig, settings: Settings, store: Store) -> None:
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    app, incidents = assemble(config, settings, store)
    incidents.start(WATCH_POLL_SECONDS)
    handler = AsyncSocketModeHandler(app, config.app_token)

    async def connected() -> bool:
        return bool(await handler.client.is_connected())

    health = HealthListener(connected, os.environ.get("HOST", "0.0.0.0"), config.port)
    await health.start()
    # SIGTERM (docker stop, a rolling update) ends the loop cleanly; as a container's
    # pid 1 the process would otherwise ignore it until it is killed.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    connecting = asyncio.create_task(handler.connect_async())  # type: ignore[no-untyped-call]
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if connecting in done:
            connecting.result()  # a connection that cannot be made ends the bot, as before
            await stopping
    finally:
        connecting.cancel()
        stopping.cancel()
        await handler.close_async()  # type: ignore[no-untyped-call]
        await health.stop()
        await incidents.stop()


def main() -> int:
    try:
        config = slack_from_env()
        settings = settings_from_env()
    except ConfigError as exc:
        print(f"smtpcheck: {exc}", file=sys.stderr)
        return 2
    configure_logging(config)
    warm_up()
    global WATCH_POLL_SECONDS
    poll = os.environ.get("SMTPCHECK_WATCH_POLL", "").strip()
    if poll:
        try:
            WATCH_POLL_SECONDS = float(poll)
        except ValueError:
            print(
                f"smtpcheck: SMTPCHECK_WATCH_POLL must be a number of seconds, not {poll!r}.",
                file=sys.stderr,
            )
            return 2
    try:
        store = Store.open(config.database_url)
    except StoreError as exc:
        print(f"smtpcheck: SMTPCHECK_DATABASE_URL: {exc}", file=sys.stderr)
        return 2
    if config.app_token:
        asyncio.run(socket_mode(config, settings, store))
        return 0
    import uvicorn

    bolt, incidents = assemble(config, settings, store)

    async def started() -> None:
        incidents.start(WATCH_POLL_SECONDS)

    app = make_http_app(
        bolt,
        signing_secret=config.signing_secret,
        replays=Replays(store if store.shared else None),
        on_startup=started,
        on_shutdown=incidents.stop,
    )
    uvicorn.run(
        app,
        host=os.environ.get("HOST", "0.0.0.0"),
        port=config.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
