"""Build the Bolt app: a Web API client with retries, the middleware, the listeners.

Thin on purpose (bolt-python-starter-template's shape): what the app does lives in
`bot.slack.listeners`, where each command goes in `bot.slack.router`, how it answers in
`bot.slack.delivery`, who may ask in `bot.slack.middleware`.
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import SlackConfig
from bot.slack.delivery import SLACK_TIMEOUT, retry_handlers
from bot.slack.language import choose_language
from bot.slack.listeners import register_listeners
from bot.slack.middleware import RateLimiter, access, provide
from bot.slack.router import Router

SLACK_API_URL = "https://slack.com/api/"


def make_client(config: SlackConfig) -> AsyncWebClient:
    """The Web API client: SLACK_API_URL when set, retries on 429/5xx/connection errors.

    A call with no answer in SLACK_TIMEOUT seconds fails (and is not retried), so a stalled
    Slack delays a report by seconds, not minutes, before it goes another way.
    """
    base_url = config.api_url or SLACK_API_URL
    if not base_url.endswith("/"):
        base_url += "/"
    return AsyncWebClient(
        token=config.bot_token,
        base_url=base_url,
        timeout=SLACK_TIMEOUT,
        retry_handlers=retry_handlers(),
        logger=logging.getLogger("smtpcheck.slack_sdk"),
    )


def build_app(config: SlackConfig, router: Router, client: AsyncWebClient) -> AsyncApp:
    """The AsyncApp for `config` (HTTP or Socket Mode: the same app serves both).

    `client` is the one the router's watch loop posts with (`make_client(config)`).
    """
    app = AsyncApp(
        client=client,
        signing_secret=config.signing_secret or None,
        # Socket Mode requests are not signed; HTTP ones always are.
        request_verification_enabled=not config.app_token,
        logger=logging.getLogger("smtpcheck.bolt"),
    )
    app.use(provide(router))
    app.use(choose_language(router.deps.locales))
    app.use(
        access(
            config,
            RateLimiter(config.user_rate_per_minute),
            router.deps.settings.smtp_ports,
        )
    )
    register_listeners(app)
    return app
