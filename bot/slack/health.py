"""Socket Mode's health listener: `GET /healthz` and `GET /metrics` on HOST:PORT.

In Socket Mode nothing else listens, yet container health checks and Kubernetes probes
ask over HTTP. /healthz answers 200 while the Slack connection is up and 503 while it is
not, so a bot that has lost Slack is restarted rather than kept as healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.metrics import metrics_response

log = logging.getLogger(__name__)

Connected = Callable[[], Awaitable[bool]]


def make_health_app(connected: Connected) -> Starlette:
    """/healthz (200 when `connected()` says so, else 503) and /metrics."""

    async def healthz(request: Request) -> Response:
        if await connected():
            return JSONResponse({"ok": True, "mode": "socket"})
        return JSONResponse(
            {"ok": False, "mode": "socket", "error": "not connected to Slack"}, status_code=503
        )

    async def metrics(request: Request) -> Response:
        body, content_type = metrics_response()
        return Response(body, media_type=content_type)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )


class HealthListener:
    """The health app served in the background of the Socket Mode loop.

    A port already taken is a warning, not a failure: the bot itself works without it.
    """

    def __init__(self, connected: Connected, host: str, port: int) -> None:
        self.app = make_health_app(connected)
        self.host, self.port = host, port
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.create_server((self.host, self.port), family=family)
        except OSError as exc:
            log.warning(
                "no health listener on %s:%s (%s): /healthz is unavailable in Socket Mode",
                self.host,
                self.port,
                exc.strerror,
            )
            return
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off")
        server = _QuietServer(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]))

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves SIGTERM and SIGINT to the Socket Mode loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn before 0.29
        pass
