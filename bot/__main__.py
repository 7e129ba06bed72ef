"""`python -m bot`: Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP mode on PORT.

A configuration mistake ends with one sentence naming the variable (exit 2), never a
traceback. Log records are scrubbed of the tokens and the signing secret, whatever the
log level, because Bolt and slack_sdk log request details at DEBUG.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from collections.abc import Iterable

from bot.app import build_app
from bot.config import ConfigError, SlackConfig, settings_from_env, slack_from_env
from bot.http import make_http_app
from handlers.settings import Settings

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


async def socket_mode(config: SlackConfig, settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    app = build_app(config, settings)
    handler = AsyncSocketModeHandler(app, config.app_token)
    await handler.start_async()  # type: ignore[no-untyped-call]


def main() -> int:
    try:
        config = slack_from_env()
        settings = settings_from_env()
    except ConfigError as exc:
        print(f"smtpcheck: {exc}", file=sys.stderr)
        return 2
    configure_logging(config)
    if config.app_token:
        asyncio.run(socket_mode(config, settings))
        return 0
    import uvicorn

    app = make_http_app(build_app(config, settings))
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
