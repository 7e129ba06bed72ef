"""HTTP mode: a Starlette app with Slack's endpoint and a health check.

A factory rather than a module-level app so tests and later endpoints (/metrics) can
build and extend it.
"""

from __future__ import annotations

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def make_http_app(app: AsyncApp) -> Starlette:
    """`POST /slack/events` (commands, events, interactivity) and `GET /healthz`."""
    handler = AsyncSlackRequestHandler(app)

    async def slack_events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
