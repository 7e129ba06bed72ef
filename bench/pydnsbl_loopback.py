"""pydnsbl, the comparison checker, bound to the test DNS server on loopback and nothing else.

pydnsbl builds its aiodns resolver from /etc/resolv.conf, whose server must never be
asked from here. This is the one place that takes that resolver away before it can send
anything and puts in one that knows only 127.0.0.1 and the test port (with a resolv.conf
of its own that names only loopback, should c-ares ever reload its configuration).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class NotLoopback(RuntimeError):
    """The server pydnsbl was to be pointed at is not on loopback."""


def loopback_resolv_conf(folder: Path) -> Path:
    """A resolv.conf naming only 127.0.0.1, for c-ares to read instead of the system's."""
    path = folder / "resolv.conf"
    path.write_text("nameserver 127.0.0.1\n")
    return path


async def loopback_checker(
    zones: Sequence[str],
    host: str,
    port: int,
    timeout: float,
    resolv_conf: Path | str,
    concurrency: int = 200,
) -> tuple[Any, Any]:
    """(pydnsbl.DNSBLIpChecker, its aiodns resolver), both asking only `host`:`port`.

    `concurrency` is pydnsbl's cap on questions in flight (its default is 200).
    """
    import aiodns
    import pydnsbl
    from pydnsbl.providers import Provider

    if not ipaddress.ip_address(host).is_loopback:
        raise NotLoopback(f"the test DNS server must be on loopback, not {host}")
    loop = asyncio.get_running_loop()
    checker = pydnsbl.DNSBLIpChecker(
        providers=[Provider(z) for z in zones], loop=loop, concurrency=concurrency
    )
    await checker._resolver.close()  # configured from /etc/resolv.conf: never used
    resolver = aiodns.DNSResolver(
        nameservers=[host],
        loop=loop,
        udp_port=port,
        tcp_port=port,
        timeout=timeout,
        tries=1,
        resolvconf_path=str(resolv_conf),
    )
    checker._resolver = resolver
    return checker, resolver
