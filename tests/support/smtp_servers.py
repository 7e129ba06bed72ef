"""SMTP peers on loopback for the probe's tests: real aiosmtpd servers and raw misbehavers.

`SmtpPeer` runs aiosmtpd in its own thread on a free port of 127.0.0.x: plain,
STARTTLS, implicit TLS, with a chosen greeting name, optionally echoing the client's
address in its EHLO reply the way large providers do. `RawPeer` is an asyncio server
in the test's own loop for what aiosmtpd will not do: say nothing, greet with a
refusal, or speak another protocol.

aiosmtpd looks up the machine's FQDN when no host name is given; every peer here
passes one, so no test asks the system resolver.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class _EchoHandler:
    """Puts the client's address in the first EHLO line, like "at your service, [x]"."""

    def __init__(self, echo: str | None, style: Literal["google", "hello", "paren"]) -> None:
        self.echo = echo
        self.style = style

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        seen = self.echo or str(session.peer[0])
        first = {
            "google": f"250-{server.hostname} at your service, [{seen}]",
            "hello": f"250-{server.hostname} Hello {hostname} [{seen}]",
            "paren": f"250-{server.hostname} greets {hostname} ({seen})",
        }[self.style]
        if len(responses) == 1:  # a lone "250 host" line: keep it a final line
            return [first.replace("250-", "250 ", 1)]
        return [first, *responses[1:]]


class _Controller(Controller):
    """aiosmtpd's threaded controller, bound to port 0 (the port is learned after binding)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpPeer:
    """A real SMTP server (aiosmtpd) on `host`, port chosen by the kernel."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        name: str = "mx.example-mail.net",
        starttls: ssl.SSLContext | None = None,
        implicit: ssl.SSLContext | None = None,
        echo: bool = False,
        echo_address: str | None = None,
        echo_style: Literal["google", "hello", "paren"] = "google",
        port: int = 0,
    ) -> None:
        handler: Any = _EchoHandler(echo_address, echo_style) if echo or echo_address else object()
        kwargs: dict[str, Any] = {"ident": "ESMTP test peer"}
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=False)
        self._controller = _Controller(
            handler,
            hostname=host,
            port=port,
            ssl_context=implicit,
            server_hostname=name,
            **kwargs,
        )
        self.host = host

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def __enter__(self) -> SmtpPeer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


RawMode = Literal["silent", "banner", "not_smtp", "close", "smtp"]

#: The replies of a minimal, well-behaved SMTP server (mode "smtp"), by command verb.
SMTP_REPLIES = {
    "EHLO": "250-mx.example-mail.net\r\n250-PIPELINING\r\n250 8BITMIME",
    "HELO": "250 mx.example-mail.net",
    "QUIT": "221 2.0.0 bye",
}


class RawPeer:
    """An asyncio server in the test's loop that misbehaves as told.

    silent: accept and never speak. banner: send `banner`, answer QUIT with 221.
    not_smtp: greet like an SSH server. close: accept and hang up at once.
    smtp: greet with `banner` (default a 220) and answer by `replies` (verb -> reply),
    502 to anything else; every line received is logged in `received`. With
    `after_starttls`, those raw bytes answer the client's TLS hello (e.g. a TLS alert).
    """

    def __init__(
        self,
        mode: RawMode,
        banner: str = "",
        host: str = "127.0.0.1",
        replies: dict[str, str] | None = None,
        after_starttls: bytes | None = None,
        port: int = 0,
    ) -> None:
        self.after_starttls = after_starttls
        self.mode = mode
        self.banner = banner or ("220 mx.example-mail.net ESMTP" if mode == "smtp" else "")
        self.replies = {**SMTP_REPLIES, **(replies or {})}
        self.host = host
        self.port = port
        self.connections = 0
        #: Connections the client closed (end of file read) before the peer hung up.
        self.hangups = 0
        self.received: list[str] = []
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        with contextlib.suppress(Exception):
            if self.mode == "close":
                writer.close()
                return
            if self.mode == "not_smtp":
                writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
            elif self.mode in ("banner", "smtp"):
                writer.write(self.banner.encode() + b"\r\n")
            await writer.drain()
            while True:
                line = await reader.readline()
                if not line:
                    self.hangups += 1
                    break
                text = line.decode().strip()
                self.received.append(text)
                verb = text.split(" ")[0].upper()
                if self.mode == "smtp" or (self.mode == "banner" and verb == "QUIT"):
                    reply = self.replies.get(verb, "502 5.5.2 not implemented here")
                    writer.write(reply.encode() + b"\r\n")
                    await writer.drain()
                if verb == "QUIT":
                    break
                if verb == "STARTTLS" and self.after_starttls is not None:
                    await reader.read(4096)  # the ClientHello
                    writer.write(self.after_starttls)
                    await writer.drain()
                    break
        writer.close()

    async def __aenter__(self) -> RawPeer:
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        for writer in self._writers:
            writer.close()
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1.0)


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on `host` where nothing listens (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
