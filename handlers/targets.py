"""Which addresses a check may look at, and why not.

Blocklists and probes only make sense for addresses on the public internet. Public
means what the IANA special-purpose registries' "globally reachable" column says
(`special_addresses.toml` beside this module), not Python's `is_global`, which calls
192.0.0.8, fec0::1 and 3fff::1 global. An IPv6 form that carries an IPv4 address
(mapped, compatible, translated, NAT64, 6to4, Teredo) is judged by that IPv4 address
too, so a private or metadata address cannot pass dressed as IPv6.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from handlers.i18n import N_, _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_REASON = "cloud metadata"

_LOW32 = 0xFFFFFFFF
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_SIXTOFOUR = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")


@dataclass(frozen=True)
class Block:
    """One registry row: a prefix, its name, and whether it is globally reachable (None: N/A)."""

    network: Network
    name: str
    rfc: str
    globally_reachable: bool | None
    kind: str


@dataclass(frozen=True)
class Registry:
    """Both registries' rows, most specific first, and where IPv6 global unicast lies."""

    blocks: tuple[Block, ...]
    global_unicast: ipaddress.IPv6Network
    updated: tuple[str, str]
    #: Cloud instance-metadata endpoints: never a probe target, whatever the switch says.
    metadata: frozenset[IPAddress]


def _blocks(section: dict[str, Any]) -> list[Block]:
    rows = [*section.get("block", []), *section.get("extra", [])]
    return [
        Block(
            ipaddress.ip_network(row["prefix"]),
            row["name"],
            row["rfc"],
            row.get("global"),
            row["kind"],
        )
        for row in rows
    ]


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The registry rows from `special_addresses.toml`."""
    text = resources.files("handlers").joinpath("special_addresses.toml").read_text("utf-8")
    data = tomllib.loads(text)
    blocks = _blocks(data["ipv4"]) + _blocks(data["ipv6"])
    blocks.sort(key=lambda b: -b.network.prefixlen)
    unicast = ipaddress.IPv6Network(data["ipv6"]["global_unicast"])
    metadata = frozenset(ipaddress.ip_address(a) for a in data["metadata"]["addresses"])
    updated = (data["ipv4"]["updated"], data["ipv6"]["updated"])
    return Registry(tuple(blocks), unicast, updated, metadata)


def block_of(ip: IPAddress) -> Block | None:
    """The most specific registry row holding `ip`, or None (an ordinary address)."""
    for block in registry().blocks:
        if block.network.version == ip.version and ip in block.network:
            return block
    return None


def embedded_ipv4(ip: IPAddress) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 form carries: mapped, translated, compatible, NAT64, 6to4, Teredo."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return ()
    low = ipaddress.IPv4Address(int(ip) & _LOW32)
    if ip in _MAPPED or ip in _TRANSLATED or ip in _NAT64:
        return (low,)
    if ip in _COMPATIBLE:
        return (low,) if int(ip) > 1 else ()  # :: and ::1 carry no address
    if ip in _NAT64_LOCAL:
        # RFC 6052: with a /48 prefix the address sits in bits 48-63 and 72-87; operators
        # also use the /96 layout inside it. Both readings are judged, except the zeros
        # the layout not used leaves: 64:ff9b:1::3380:a16 carries 51.128.10.22, not also
        # 0.0.0.0 (which would call the address "unspecified" instead of its own row's word).
        value = int(ip)
        split = ((value >> 64) & 0xFFFF) << 16 | (value >> 40) & 0xFFFF
        readings = (low, ipaddress.IPv4Address(split))
        return tuple(dict.fromkeys(v4 for v4 in readings if int(v4)))
    if ip in _SIXTOFOUR:
        return (ipaddress.IPv4Address((int(ip) >> 80) & _LOW32),)
    if ip in _TEREDO:
        server, client = ip.teredo or (low, low)
        return (client, server)
    return ()


def is_metadata(ip: IPAddress) -> bool:
    """True for a metadata endpoint, directly or inside any IPv6 form."""
    metadata = registry().metadata
    return ip in metadata or any(v4 in metadata for v4 in embedded_ipv4(ip))


def _own_reason(ip: IPAddress) -> str | None:
    """Why `ip` itself (not what it embeds) is not a public address, or None."""
    block = block_of(ip)
    if block is not None:
        if block.globally_reachable:
            return None
        if block.globally_reachable is False:
            return block.kind
        # N/A (6to4, Teredo): public when what it carries is; judged by the caller.
        return None if embedded_ipv4(ip) else "reserved"
    if isinstance(ip, ipaddress.IPv6Address) and ip not in registry().global_unicast:
        return "reserved"
    return None


def non_global_reason(ip: IPAddress) -> str | None:
    """Why `ip` is not a public internet address ("private", "loopback", ...), or None."""
    if is_metadata(ip):
        return METADATA_REASON
    embedded = embedded_ipv4(ip)
    if ip in _MAPPED:  # ::ffff:a.b.c.d is a.b.c.d, and says so by its own kind
        return _own_reason(embedded[0])
    for v4 in embedded:
        reason = _own_reason(v4)
        if reason is not None:
            return reason
    return _own_reason(ip)


#: Each reason as the phrase a sentence uses ("{ip} is {phrase}"), translated where shown.
_PHRASES = {
    "cloud metadata": N_("a cloud metadata address"),
    "loopback": N_("a loopback address"),
    "unspecified": N_("an unspecified address"),
    "link-local": N_("a link-local address"),
    "multicast": N_("a multicast address"),
    "shared (carrier-grade NAT)": N_("a shared (carrier-grade NAT) address"),
    "private": N_("a private address"),
    "site-local": N_("a site-local address"),
    "reserved": N_("a reserved address"),
}


def reason_phrase(reason: str) -> str:
    """`reason` (from `non_global_reason`) as "a private address", in the current language."""
    phrase = _PHRASES.get(reason)
    return _(phrase) if phrase else _("a {reason} address").format(reason=reason)


#: The same reasons for a whole range ("{network} is {phrase}").
_RANGE_PHRASES = {
    "cloud metadata": N_("a cloud metadata range"),
    "loopback": N_("a loopback range"),
    "unspecified": N_("an unspecified range"),
    "link-local": N_("a link-local range"),
    "multicast": N_("a multicast range"),
    "shared (carrier-grade NAT)": N_("a shared (carrier-grade NAT) range"),
    "private": N_("a private range"),
    "reserved": N_("a reserved range"),
}


def range_phrase(reason: str) -> str:
    """`reason` for a whole range ("a private range"), in the current language."""
    phrase = _RANGE_PHRASES.get(reason)
    return _(phrase) if phrase else _("a {reason} range").format(reason=reason)
