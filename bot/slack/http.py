"""HTTP mode: a Starlette app with Slack's endpoint, a health check and the metrics.

Everything Slack sends is checked here before Bolt parses a byte of it: the body is read
under a size cap (413), the signature and its age are verified on the raw bytes (401),
the payload must be the JSON object or form Slack sends (400). Only then does Bolt see
the request, so nothing an unsigned sender can shape reaches a parser, and no malformed
request ends in a 500. A factory rather than a module-level app so tests can build it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.metrics import metrics_response
from bot.slack.replays import Replays, delivery_key

Hook = Callable[[], Awaitable[None]]

log = logging.getLogger("smtpcheck.http")

#: Slack's own payloads are a few kilobytes; a modal's state at most some tens.
MAX_BODY = 1024 * 1024
#: Older signatures are refused (Slack's documented window; also the replay window).
MAX_AGE_SECONDS = 5 * 60


class Refused(Exception):
    """A request answered with `status` before it reaches Bolt."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def response(self) -> Response:
        return PlainTextResponse(self.reason, status_code=self.status)


async def read_capped(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, read chunk by chunk and refused (413) as soon as it passes `limit` bytes.

    A Content-Length over the limit is refused before a byte is read; a chunked body is
    counted as it streams, so an oversized one never sits in memory whole.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise Refused(400, "bad Content-Length")
        # Length first: int() refuses more than 4,300 digits (ValueError, a 500).
        if len(declared.lstrip("0")) > len(str(limit)) or int(declared) > limit:
            raise Refused(413, "body too large")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, "body too large")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refused(400, "client went away") from None
    return b"".join(chunks)


def verify(verifier: SignatureVerifier, body: bytes, request: Request) -> str:
    """The body as text, if its signature is present, well-formed, right and fresh; else 401.

    Slack signs UTF-8 text: bytes that are not UTF-8 cannot carry its signature.
    """
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise Refused(401, "bad signature")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(401, "bad signature") from None
    if not signature.isascii() or not verifier.is_valid(text, timestamp, signature):
        raise Refused(401, "bad signature")
    return text


def check_payload(text: str, content_type: str) -> tuple[str, str | None]:
    """The body and its event id, if it has the shape of something Slack sends; else 400.

    Slack sends JSON objects (events, with an `event_id` its retries repeat) or forms
    (commands; interactivity as a form whose `payload` field is a JSON object).
    """
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if media == "application/json":
            parsed = json.loads(text)
            if not isinstance(parsed, dict):
                raise Refused(400, "payload is not a JSON object")
            event_id = parsed.get("event_id")
            return text, event_id if isinstance(event_id, str) and event_id else None
        else:
            form = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
            if "payload" in form and not isinstance(json.loads(form["payload"][0]), dict):
                raise Refused(400, "payload is not a JSON object")
    except ValueError:  # json.JSONDecodeError and parse_qs's strict errors
        raise Refused(400, "unreadable payload") from None
    return text, None


def make_http_app(
    app: AsyncApp,
    *,
    signing_secret: str,
    replays: Replays | None = None,
    on_startup: Hook | None = None,
    on_shutdown: Hook | None = None,
) -> Starlette:
    """`POST /slack/events` (commands, events, interactivity), `GET /healthz`, `GET /metrics`.

    `replays` remembers what was delivered, so a repeated delivery is acknowledged and not
    run again. `on_startup`/`on_shutdown` run in the server's event loop (the watch loop
    starts there).
    """
    verifier = SignatureVerifier(signing_secret)
    seen = replays if replays is not None else Replays()

    async def slack_events(request: Request) -> Response:
        try:
            body = await read_capped(request)
            signed = verify(verifier, body, request)
            text, event_id = check_payload(signed, request.headers.get("content-type", ""))
            bolt_request = AsyncBoltRequest(
                body=text,
                query=dict(request.query_params),
                headers=dict(request.headers),
            )
        except Refused as refused:
            return refused.response()
        except Exception:  # a shape Bolt cannot read: the sender's fault, not ours
            log.warning("a signed request Bolt cannot parse: answered 400")
            log.debug("what Bolt said", exc_info=True)
            return Refused(400, "unreadable payload").response()
        key = delivery_key(request.headers.get("x-slack-signature", ""), event_id)
        if not await seen.first_time(key):
            log.info("repeated delivery %s acknowledged, not run", key.digest[:16])
            return Response(status_code=200, headers={"X-Slack-No-Retry": "1"})
        response = await app.async_dispatch(bolt_request)
        return to_starlette_response(response)

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
