"""Run `python -m bot` as a subprocess and talk to it as Slack does: signed HTTP requests.

Also the test blocklist catalogue (60 zones, RFC 5782 self-test off so each test's DNS
data decides) and helpers to put an address on lists in the test DNS server.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from tests.support.dns_server import DnsServer, reverse_name

TOKEN = "xoxb-1111-2222-SECRETbottoken"
SECRET = "SECRETsigningsecret0123456789"
APP_TOKEN = "xapp-1-A1-3333-SECRETapptoken"

ROOT = Path(__file__).resolve().parents[2]

#: Slack gives every command and click its own trigger_id: two requests never sign alike.
_TRIGGERS = itertools.count(1)


def trigger_id() -> str:
    return f"{next(_TRIGGERS)}.{time.time_ns()}"


TEST_ZONES = 60
SPAMHAUS = "zen.spamhaus.org"
SPAMCOP = "bl.spamcop.net"


def zone_names() -> list[str]:
    return [SPAMHAUS, SPAMCOP] + [f"bl{n:02d}.lists-example.net" for n in range(TEST_ZONES - 2)]


def catalogue_toml() -> str:
    """A catalogue of 60 zones replacing the built-in one."""
    out = ["replace_builtin = true", ""]
    out += [
        "[[list]]",
        f'zone = "{SPAMHAUS}"',
        'name = "Spamhaus ZEN"',
        'tier = "major"',
        "selftest = false",
        'lookup_url = "https://check.spamhaus.org/results/?query={ip}"',
        "[list.codes]",
        '"127.0.0.2" = "SBL: Spamhaus Blocklist"',
        '"127.0.0.4" = "XBL: Exploits Blocklist"',
        '"127.0.0.10" = { meaning = "PBL: Policy Block List, listed by the provider", kind = "policy" }',
        "",
        "[[list]]",
        f'zone = "{SPAMCOP}"',
        'name = "SpamCop"',
        "selftest = false",
        'lookup_url = "https://www.spamcop.net/bl.shtml?{ip}"',
        "",
    ]
    for zone in zone_names()[2:]:
        out += [
            "[[list]]",
            f'zone = "{zone}"',
            f'name = "List {zone.split(".")[0].upper()}"',
            "selftest = false",
            f'lookup_url = "https://{zone}/lookup?ip={{ip}}"',
            "",
        ]
    return "\n".join(out)


def list_address(
    dns: DnsServer,
    ip: str,
    zone: str,
    code: str = "127.0.0.2",
    txt: str | None = None,
    ttl: int = 300,
) -> None:
    name = reverse_name(ip, zone)
    dns.add(name, "A", code, ttl=ttl)
    if txt is not None:
        dns.add(name, "TXT", txt, ttl=ttl)


def good_ptr(dns: DnsServer, ip: str, name: str) -> None:
    dns.add(reverse_name(ip, "in-addr.arpa"), "PTR", name + ".")
    dns.add(name, "A", ip)


def bot_env(
    slack_api_url: str, dns: DnsServer, tmp: Path, zones_toml: str | None = None, **extra: str
) -> dict[str, str]:
    """The environment of a test bot: fake Slack, test DNS, its own zones file and SQLite store.

    `extra` adds or overrides variables (e.g. SMTPCHECK_TIMEOUT="3").
    """
    zones = tmp / "zones.toml"
    zones.write_text(zones_toml if zones_toml is not None else catalogue_toml())
    env = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_api_url,
        "SMTPCHECK_NAMESERVERS": dns.address,
        "SMTPCHECK_TIMEOUT": "0.5",
        "SMTPCHECK_ZONES": str(zones),
        "SMTPCHECK_DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}",
        "SMTPCHECK_USER_RATE": "1000",
    }
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """Headers Slack sends with a request: timestamp and v0 HMAC signature."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": str(signature)}


class BotProcess:
    """`python -m bot` in HTTP (or Socket) mode, its output kept in a log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, "PORT": str(self.port), "HOST": "127.0.0.1", **env}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def start(self, wait_healthy: bool = True) -> BotProcess:
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if wait_healthy:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"bot exited early:\n{self.log()}")
                try:
                    if self.http.get("/healthz").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            raise RuntimeError(f"bot did not become healthy:\n{self.log()}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.http.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    # ---- requests as Slack sends them --------------------------------------------------

    def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.http.post(
            "/slack/events",
            content=body.encode(),
            headers={
                "Content-Type": content_type,
                **(headers if headers is not None else sign(body)),
            },
        )

    def command(
        self, text: str, *, channel: str, user: str = "U1", response_url: str = "", **headers: str
    ) -> httpx.Response:
        body = urlencode(
            {
                "token": "legacy",
                "team_id": "T1",
                "channel_id": channel,
                "channel_name": "incidents",
                "user_id": user,
                "user_name": "ana",
                "command": "/smtpcheck",
                "text": text,
                "response_url": response_url,
                "trigger_id": trigger_id(),
                "api_app_id": "A1",
            }
        )
        return self.post(body, "application/x-www-form-urlencoded", headers or None)

    def click(
        self,
        action: dict[str, Any],
        *,
        channel: str,
        message: dict[str, Any],
        user: str = "U1",
        response_url: str = "",
    ) -> httpx.Response:
        payload = {
            "type": "block_actions",
            "team": {"id": "T1"},
            "user": {"id": user},
            "api_app_id": "A1",
            "container": {
                "type": "message",
                "message_ts": message.get("ts"),
                "channel_id": channel,
            },
            "channel": {"id": channel},
            "message": message,
            "response_url": response_url,
            "trigger_id": trigger_id(),
            "actions": [action],
        }
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded")

    def mention(
        self, text: str, *, channel: str, ts: str, thread_ts: str | None = None, user: str = "U1"
    ) -> httpx.Response:
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": user,
            "text": text,
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": "T1",
                "api_app_id": "A1",
                "type": "event_callback",
                "event_id": f"Ev{ts.replace('.', '')}",
                "event_time": int(time.time()),
                "event": event,
                "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
            }
        )
        return self.post(body, "application/json")
