"""A fake Slack on 127.0.0.1: the Web API, response_url endpoints and a Socket Mode websocket.

The bot under test talks to it over real HTTP (SLACK_API_URL points here), as
bolt-python's own scenario tests do with their mock Web API server. Every call is
recorded with its method, merged query/form/JSON body and whether it was accepted; faults
can be queued per method (HTTP 429 with Retry-After, HTTP 500, `{"ok": false, "error": ...}`,
or a stall before the answer), and `delay` adds latency to every Web API answer. A `hold`
gate keeps a method's calls unanswered until the test releases them, so a test can look at
what the bot did meanwhile without timing anything.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    #: True once answered with ok, False when a fault answered it (None: not answered yet).
    ok: bool | None = None
    #: The bearer token the call was made with (a workflow step's own token differs).
    token: str | None = None
    #: What the fake answered (None: not answered yet, or a fault answered).
    answer: dict[str, Any] | None = None

    @property
    def channel(self) -> str | None:
        return self.body.get("channel")

    def blocks(self) -> list[dict[str, Any]]:
        raw = self.body.get("blocks") or []
        return json.loads(raw) if isinstance(raw, str) else list(raw)

    def view(self) -> dict[str, Any]:
        """The view of a views.open / views.publish / views.update call."""
        raw = self.body.get("view") or {}
        return dict(json.loads(raw) if isinstance(raw, str) else raw)

    def json_field(self, name: str) -> Any:
        """A field sent as JSON (functions.completeSuccess `outputs`), decoded."""
        raw = self.body.get(name)
        return json.loads(raw) if isinstance(raw, str) else raw

    def all_text(self) -> str:
        """The fallback text and every block, as one string to search."""
        return str(self.body.get("text", "")) + "\n" + json.dumps(self.blocks(), ensure_ascii=False)


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    #: Seconds to wait before answering (a stalled Slack); then the status/error above,
    #: or, with neither, the normal answer.
    stall: float = 0.0

    @property
    def answers(self) -> bool:
        """Whether, after its stall, the call gets the normal answer."""
        return self.status == 200 and self.error is None


@dataclass
class Gate:
    """Calls of `method` whose body has `match`'s fields wait, unanswered, for `release()`."""

    method: str
    match: dict[str, str]
    _open: threading.Event = field(default_factory=threading.Event)

    def holds(self, method: str, body: dict[str, Any]) -> bool:
        return (
            not self._open.is_set()
            and method == self.method
            and all(str(body.get(k)) == v for k, v in self.match.items())
        )

    def release(self) -> None:
        """Let the held calls (and later ones) get their answer."""
        self._open.set()

    @property
    def released(self) -> bool:
        return self._open.is_set()


class FakeSlack:
    """Start with `with FakeSlack() as slack:`; `slack.api_url` is SLACK_API_URL."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {}
        #: Seconds added to every Web API answer (a Slack far away).
        self.delay = 0.0
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        #: Each person's Slack locale, as users.info tells it (absent: en-US).
        self.locales: dict[str, str] = {}
        self.socket_received: list[dict[str, Any]] = []
        self.gates: list[Gate] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # ---- control ---------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.base}/response/{name}"

    def fail(self, method: str, *faults: Fault) -> None:
        """The next calls of `method` (or `response`) get these faults, in order."""
        with self._lock:
            self.faults.setdefault(method, []).extend(faults)

    def hold(self, method: str, **match: str) -> Gate:
        """Keep calls of `method` (those whose body has these fields) unanswered until released.

        `slack.hold("users.info", user="U_FR")`; a held call is recorded at once, with
        `ok` None until it is answered. Faults queued for the method apply after the release.
        """
        gate = Gate(method, dict(match))
        with self._lock:
            self.gates.append(gate)
        return gate

    def add_thread(self, channel: str, ts: str, *messages: dict[str, Any]) -> None:
        """Messages conversations.replies returns for a thread (the parent first)."""
        with self._lock:
            self.threads[(channel, ts)] = list(messages)

    def set_locale(self, user: str, locale: str) -> None:
        """What users.info says `user`'s locale is (with include_locale=true)."""
        with self._lock:
            self.locales[user] = locale

    def accepted(self, method: str, channel: str | None = None) -> list[Call]:
        """The calls of `method` Slack answered with ok (failed attempts left out)."""
        return [c for c in self.find(method, channel) if c.ok]

    def reset(self) -> None:
        self.delay = 0.0
        with self._lock:
            for gate in self.gates:
                gate.release()
            self.gates.clear()
            self.locales.clear()
            self.calls.clear()
            self.faults.clear()
            self.threads.clear()
            self.socket_received.clear()

    def find(self, method: str, channel: str | None = None) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == method
                and (channel is None or c.channel == channel or c.body.get("_to") == channel)
            ]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Poll `predicate` until it returns something truthy; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate()
            if found:
                return found
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting; calls so far: {[c.method for c in self.calls]}")

    def wait_call(
        self, method: str, channel: str | None = None, count: int = 1, timeout: float = 5.0
    ) -> list[Call]:
        return list(
            self.wait_for(
                lambda: (found := self.find(method, channel)) and len(found) >= count and found,
                timeout,
            )
        )

    # ---- Socket Mode ------------------------------------------------------------------

    def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Send `envelope` to every connected Socket Mode client."""
        assert self._loop is not None

        async def send() -> None:
            for ws in list(self._sockets):
                await ws.send_str(json.dumps(envelope))

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(5)

    def socket_connected(self) -> bool:
        return bool(self._sockets)

    # ---- serving ---------------------------------------------------------------------

    def _gates(self) -> list[Gate]:
        with self._lock:
            return list(self.gates)

    def _next_fault(self, key: str) -> Fault | None:
        with self._lock:
            queue = self.faults.get(key)
            return queue.pop(0) if queue else None

    async def _body(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = dict(request.query)
        raw = await request.text()
        if raw:
            if request.content_type == "application/json":
                body.update(json.loads(raw))
            else:
                body.update(dict(parse_qsl(raw, keep_blank_values=True)))
        return body

    def _fault_response(self, fault: Fault) -> web.Response:
        if fault.status != 200:
            headers = (
                {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            )
            return web.json_response(
                {"ok": False, "error": "fake_fault"}, status=fault.status, headers=headers
            )
        return web.json_response({"ok": False, "error": fault.error})

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await self._body(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else body.get("token")
        call = Call(method, body, token=token)
        with self._lock:
            self.calls.append(call)
        while any(g.holds(method, body) for g in self._gates()):
            await asyncio.sleep(0.01)
        fault = self._next_fault(method)
        if self.delay:
            await asyncio.sleep(self.delay)
        if fault and fault.stall:
            await asyncio.sleep(fault.stall)
        if fault and not fault.answers:
            call.ok = False
            return self._fault_response(fault)
        answer = self._answer(method, body)
        call.ok = bool(answer.get("ok"))
        call.answer = answer
        return web.json_response(answer)

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        ts = f"{1_700_000_000 + next(self._ts)}.000100"
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": "T1",
                "user": "smtpcheck",
                "team": "Test",
                "url": "https://test.slack.com/",
            }
        if method in ("chat.postMessage", "chat.update"):
            return {
                "ok": True,
                "channel": body.get("channel"),
                "ts": body.get("ts") or ts,
                "message": {"text": body.get("text"), "ts": body.get("ts") or ts},
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "chat.delete":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
        if method == "conversations.replies":
            with self._lock:
                messages = self.threads.get((str(body.get("channel")), str(body.get("ts"))))
            if messages is None:
                return {"ok": False, "error": "thread_not_found"}
            return {"ok": True, "messages": messages, "has_more": False}
        if method in ("views.open", "views.publish", "views.update"):
            view = body.get("view") or {}
            view = json.loads(view) if isinstance(view, str) else view
            return {"ok": True, "view": {**view, "id": body.get("view_id") or f"V{ts[:10]}"}}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(body.get("users", "")).split(",")[0]}}
        if method == "users.info":
            user = str(body.get("user", ""))
            with self._lock:
                locale = self.locales.get(user, "en-US")
            info: dict[str, Any] = {"id": user, "name": user.lower(), "tz": "Europe/Paris"}
            if str(body.get("include_locale", "")).lower() in ("1", "true"):
                info["locale"] = locale
            return {"ok": True, "user": info}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://{self.host}:{self.port}/socket-mode"}
        return {"ok": True}

    async def _response(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        body["_to"] = request.match_info["name"]
        call = Call("response_url", body)
        with self._lock:
            self.calls.append(call)
        fault = self._next_fault("response_url")
        if fault and fault.stall:
            await asyncio.sleep(fault.stall)
        if fault and not fault.answers:
            call.ok = False
            headers = (
                {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            )
            return web.Response(status=fault.status, text="fault", headers=headers)
        call.ok = True
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        )
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    with self._lock:
                        self.socket_received.append(json.loads(message.data))
        finally:
            self._sockets.remove(ws)
        return ws

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response)
        app.router.add_get("/socket-mode", self._socket)
        # A stalled answer must not hold the shutdown up.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self) -> FakeSlack:
        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start())
            self._ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-slack", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        for gate in self._gates():
            gate.release()

        async def shutdown() -> None:
            for ws in list(self._sockets):
                await ws.close()
            if self._runner:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
