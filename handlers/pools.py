"""The operator's egress pools: which address ranges are theirs and what is known about them.

Support engineers keep answering the same questions about the operator's own egress
addresses ("it's on the PBL by design", "PTR records can't be had in that region").
An optional TOML file (`SMTPCHECK_POOLS`) writes that knowledge down once, and every
report about an address in a pool repeats it and bases its advice on it.

File format (see `examples/pools.toml`)::

    [[pool]]
    name = "Frankfurt egress"                        # required
    ranges = ["51.158.10.0/24", "2a01:4f8:10a::/48"]  # required, at least one
    pbl = "Listed on the Spamhaus PBL by design; ..." # optional
    ptr = "available"                                # "available" (default) or "unavailable"
    ptr_howto = "Ask support to set it ..."          # optional text
    ptr_url = "https://..."                          # optional link
    contact = "noc@example-operator.net"             # optional
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handlers.i18n import _
from handlers.results import Advice

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_KEYS = frozenset({"name", "ranges", "pbl", "ptr", "ptr_howto", "ptr_url", "contact"})


class PoolsError(ValueError):
    """The pools file is missing, not TOML, or a pool in it is malformed; the text says where."""


@dataclass(frozen=True)
class Pool:
    """One named pool of the operator's egress addresses and what is known about it."""

    name: str
    ranges: tuple[Network, ...]
    #: The provider's PBL policy in words ("listed by design; use the smarthost").
    pbl: str | None = None
    #: False where the region cannot have PTR records at all.
    ptr_available: bool = True
    #: How to get a PTR set (or why it cannot be had).
    ptr_howto: str | None = None
    ptr_url: str | None = None
    contact: str | None = None

    def contains(self, ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        return any(address in net for net in self.ranges if net.version == address.version)

    def note(self) -> str:
        """One line a report can show next to the address."""
        parts = [_("In the operator's egress pool “{pool}”.").format(pool=self.name)]
        if self.pbl:
            parts.append(_("PBL: {policy}").format(policy=self.pbl))
        if not self.ptr_available:
            parts.append(_("PTR records are not available for this pool."))
        if self.contact:
            parts.append(_("Contact: {contact}.").format(contact=self.contact))
        return " ".join(parts)

    def ptr_advice(self) -> Advice:
        """What to do about a missing or wrong PTR for an address in this pool."""
        if not self.ptr_available:
            said = (
                _(
                    "PTR records cannot be set for addresses in “{pool}” ({howto}): send "
                    "through an authenticated smarthost instead of delivering directly."
                )
                if self.ptr_howto
                else _(
                    "PTR records cannot be set for addresses in “{pool}”: send through an "
                    "authenticated smarthost instead of delivering directly."
                )
            )
            text = said.format(pool=self.name, howto=self.ptr_howto)
        else:
            text = self.ptr_howto or _(
                "Ask the operator to set a PTR record (pool “{pool}”)."
            ).format(pool=self.name)
            if self.contact:
                text += " " + _("Contact: {contact}.").format(contact=self.contact)
        return Advice(text, self.ptr_url)

    def pbl_advice(self) -> Advice | None:
        """The pool's PBL policy as advice, when the file gives one."""
        return Advice(f"“{self.name}”: {self.pbl}") if self.pbl else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ranges": [str(n) for n in self.ranges],
            "pbl": self.pbl,
            "ptr_available": self.ptr_available,
            "ptr_howto": self.ptr_howto,
            "ptr_url": self.ptr_url,
            "contact": self.contact,
        }


def load_pools(path: str | Path) -> tuple[Pool, ...]:
    """Read and validate a pools file; raise `PoolsError` naming the file and the bad entry."""
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PoolsError(
            _("{source}: no such file (SMTPCHECK_POOLS)").format(source=source)
        ) from exc
    except OSError as exc:
        raise PoolsError(
            _("{source}: cannot read: {value}").format(source=source, value=exc.strerror or exc)
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise PoolsError(
            _("{source}: not valid TOML: {exc}").format(source=source, exc=exc)
        ) from exc
    entries = data.get("pool", [])
    unknown_top = set(data) - {"pool"}
    if unknown_top:
        raise PoolsError(
            _("{source}: unknown table(s) {unknown_top}; expected [[pool]]").format(
                source=source, unknown_top=sorted(unknown_top)
            )
        )
    if not isinstance(entries, list):
        raise PoolsError(
            _("{source}: 'pool' must be an array of tables ([[pool]])").format(source=source)
        )
    pools = tuple(_pool(source, i, entry) for i, entry in enumerate(entries, start=1))
    names = [p.name for p in pools]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PoolsError(
            _("{source}: pool name(s) used twice: {duplicates}").format(
                source=source, duplicates=", ".join(duplicates)
            )
        )
    return pools


def _pool(source: Path, index: int, entry: Any) -> Pool:
    where = f"{source}: pool #{index}"
    if not isinstance(entry, dict):
        raise PoolsError(_("{where}: must be a table").format(where=where))
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PoolsError(_("{where}: 'name' (text) is required").format(where=where))
    where = f"{source}: pool “{name}”"
    unknown = set(entry) - _KEYS
    if unknown:
        raise PoolsError(
            _("{where}: unknown key(s) {unknown}; known: {_KEYS}").format(
                where=where, unknown=sorted(unknown), _KEYS=sorted(_KEYS)
            )
        )
    ranges = entry.get("ranges")
    if not isinstance(ranges, list) or not ranges:
        raise PoolsError(
            _("{where}: 'ranges' must be a non-empty list of CIDR ranges").format(where=where)
        )
    networks: list[Network] = []
    for item in ranges:
        if not isinstance(item, str):
            raise PoolsError(
                _("{where}: range {item!r} is not text").format(where=where, item=item)
            )
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=True))
        except ValueError as exc:
            raise PoolsError(
                _("{where}: range {item!r} is not a valid network: {exc}").format(
                    where=where, item=item, exc=exc
                )
            ) from exc
    ptr = entry.get("ptr", "available")
    if ptr not in ("available", "unavailable"):
        raise PoolsError(
            _('{where}: \'ptr\' must be "available" or "unavailable", not {ptr!r}').format(
                where=where, ptr=ptr
            )
        )
    texts: dict[str, str | None] = {}
    for key in ("pbl", "ptr_howto", "ptr_url", "contact"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            raise PoolsError(_("{where}: '{key}' must be text").format(where=where, key=key))
        texts[key] = value.strip() if value else None
    url = texts["ptr_url"]
    if url and not url.startswith(("https://", "http://")):
        raise PoolsError(
            _("{where}: 'ptr_url' must be an http(s) link, not {url!r}").format(
                where=where, url=url
            )
        )
    return Pool(
        name=name.strip(),
        ranges=tuple(networks),
        pbl=texts["pbl"],
        ptr_available=ptr == "available",
        ptr_howto=texts["ptr_howto"],
        ptr_url=url,
        contact=texts["contact"],
    )


def pool_for(
    ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address, pools: tuple[Pool, ...]
) -> Pool | None:
    """The pool holding `ip` (the most specific range wins), or None; None for non-addresses."""
    try:
        address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    best: tuple[int, Pool] | None = None
    for pool in pools:
        for net in pool.ranges:
            inside = net.version == address.version and address in net
            if inside and (best is None or net.prefixlen > best[0]):
                best = (net.prefixlen, pool)
    return best[1] if best else None
