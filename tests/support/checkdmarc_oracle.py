"""checkdmarc as an independent oracle for DMARC policy discovery, on the loopback DNS server only.

checkdmarc is synchronous and brings its own resolver: it is given a dnspython resolver
that knows only the test server, its answer cache is emptied for every question, and
every socket it could open is checked to go to loopback, so a test can never reach the
network through it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import checkdmarc.dmarc
import checkdmarc.utils
import dns.resolver

from tests.support.dns_server import DnsServer


@dataclass(frozen=True)
class OracleAnswer:
    """Where checkdmarc found the record, the record, its p/sp/np, or the error it raised."""

    location: str | None
    record: str | None
    tags: dict[str, str]
    error: str | None
    warnings: tuple[str, ...] = ()


def _loopback_only(address: Any) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if not ipaddress.ip_address(host).is_loopback:
        raise AssertionError(f"checkdmarc tried to reach {host}: only loopback is allowed")


@contextlib.contextmanager
def loopback_sockets() -> Iterator[None]:
    """Refuse any connect/sendto to an address that is not loopback while the oracle runs."""
    original_connect, original_sendto = socket.socket.connect, socket.socket.sendto

    def connect(self: socket.socket, address: Any) -> None:
        _loopback_only(address)
        original_connect(self, address)

    def sendto(self: socket.socket, data: bytes, *args: Any) -> int:
        _loopback_only(args[-1])
        return original_sendto(self, data, *args)  # type: ignore[call-overload, no-any-return]

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.sendto = original_sendto  # type: ignore[method-assign]


def ask_checkdmarc(server: DnsServer, domain: str) -> OracleAnswer:
    """checkdmarc's policy discovery for `domain` against `server`."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.timeout = resolver.lifetime = 2.0
    checkdmarc.utils.DNS_CACHE.clear()
    with loopback_sockets():
        try:
            found = checkdmarc.dmarc.query_dmarc_record(domain, resolver=resolver, retries=0)
        except checkdmarc.dmarc.DMARCError as exc:
            return OracleAnswer(None, None, {}, type(exc).__name__)
        try:
            parsed = checkdmarc.dmarc.parse_dmarc_record(
                found["record"], found["location"], resolver=resolver, retries=0
            )
        except checkdmarc.dmarc.DMARCError as exc:
            return OracleAnswer(found["location"], found["record"], {}, type(exc).__name__)
    tags = {
        k: str(v["value"])
        for k, v in parsed["tags"].items()
        if k in ("p", "sp", "np") and v.get("explicit", True)
    }
    warnings = tuple(found["warnings"]) + tuple(parsed["warnings"])
    return OracleAnswer(found["location"], found["record"], tags, None, warnings)


def oracle_policy(answer: OracleAnswer, domain: str, *, exists: bool = True) -> str | None:
    """RFC 9989's choice of p, sp or np, applied to the tags checkdmarc parsed."""
    if answer.location is None:
        return None
    if answer.location == domain:
        return answer.tags.get("p")
    if not exists:
        return answer.tags.get("np") or answer.tags.get("sp") or answer.tags.get("p")
    return answer.tags.get("sp") or answer.tags.get("p")
