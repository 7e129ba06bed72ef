"""HTTP mode: a Starlette app with Slack's endpoint and a health check.

A factory rather than a module-level app so tests and later endpoints (/metrics) can
build and extend it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.metrics import metrics_response

Hook = Callable[[], Awaitable[None]]


def make_http_app(
    app: AsyncApp, *, on_startup: Hook | None = None, on_shutdown: Hook | None = None
) -> Starlette:
    """`POST /slack/events` (commands, events, interactivity), `GET /healthz`, `GET /metrics`.

    `on_startup`/`on_shutdown` run in the server's event loop (the watch loop starts there).
    """
    handler = AsyncSlackRequestHandler(app)

    async def slack_events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def metrics(request: Request) -> Response:
        body, content_type = metrics_response()
        return Response(body, media_type=content_type)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        try:
            yield
        finally:
            if on_shutdown is not None:
                await on_shutdown()

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
    )
