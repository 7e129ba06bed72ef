"""/healthz in Socket Mode: 200 while the Slack connection is up, 503 while it is not; SIGTERM
ends it cleanly.

Container health checks and Kubernetes probes ask over HTTP whatever the mode, so a
Socket Mode bot answers them on PORT too, and its answer follows the Slack connection.
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import httpx

from bot.slack.health import make_health_app
from tests.support.dns_server import DnsServer
from tests.support.fake_slack import FakeSlack
from tests.support.slack_app import APP_TOKEN, BotProcess, bot_env


async def test_healthz_follows_the_connection() -> None:
    up = False

    async def connected() -> bool:
        return up

    transport = httpx.ASGITransport(app=make_health_app(connected))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
        down = await client.get("/healthz")
        assert down.status_code == 503 and down.json()["error"] == "not connected to Slack"
        up = True
        assert (await client.get("/healthz")).json() == {"ok": True, "mode": "socket"}
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200 and "text/plain" in metrics.headers["content-type"]


def test_socket_mode_bot_is_healthy_once_connected(
    slack: FakeSlack, dns_server: DnsServer, tmp_path: Path
) -> None:
    env = bot_env(slack.api_url, dns_server, tmp_path, SLACK_APP_TOKEN=APP_TOKEN)
    process = BotProcess(env, tmp_path / "socket.log").start(wait_healthy=True)
    try:
        assert slack.socket_connected()  # healthy means the websocket is open
        answer = process.http.get("/healthz")
        assert answer.status_code == 200 and answer.json()["mode"] == "socket"
        assert process.http.get("/slack/events").status_code == 404  # Slack comes by websocket
        assert process.proc is not None
        process.proc.send_signal(signal.SIGTERM)  # docker stop, a rolling update
        assert process.proc.wait(10) == 0
        slack.wait_for(lambda: not slack.socket_connected(), timeout=5)
    finally:
        process.stop()


def test_socket_mode_works_when_the_port_is_taken(
    slack: FakeSlack, dns_server: DnsServer, tmp_path: Path
) -> None:
    env = bot_env(slack.api_url, dns_server, tmp_path, SLACK_APP_TOKEN=APP_TOKEN)
    process = BotProcess(env, tmp_path / "socket.log")
    with socket.create_server(("127.0.0.1", process.port)):
        process.start(wait_healthy=False)
        try:
            slack.wait_for(slack.socket_connected, timeout=15)
            slack.wait_for(lambda: "no health listener" in process.log(), timeout=5)
            assert process.proc is not None and process.proc.poll() is None
        finally:
            process.stop()
