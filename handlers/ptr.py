"""Reverse DNS: the PTR names of an address, whether they resolve back, and whether they look generic.

Why: big receivers refuse or score down mail from an address without a PTR, from one
whose PTR name does not resolve back to it (no forward confirmation, FCrDNS), and from
one whose name looks like an end-user or default cloud connection
(`51-158-10-22.dyn.example.net`). The fix is always the same: ask whoever owns the
address (the provider, or the network operator's support) for a PTR naming the mail
server, with an A/AAAA record for that name pointing back.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from dataclasses import dataclass, field

import dns.reversename

from handlers.dns.resolver import Answer, Resolver
from handlers.i18n import N_, _
from handlers.results import Advice, CheckResult, Status
from handlers.settings import Settings

FCRDNS_URL = "https://en.wikipedia.org/wiki/Forward-confirmed_reverse_DNS"

#: Words in the host part of a name that providers use for end-user, dynamic or pool addresses.
GENERIC_WORDS: frozenset[str] = frozenset(
    {
        "dynamic", "dyn", "dynip", "dhcp", "pool", "pools", "dialpool", "dsl", "adsl", "vdsl",
        "xdsl", "sdsl", "cable", "dial", "dialup", "dialin", "ppp", "pppoe", "broadband",
        "customer", "customers", "cust", "client", "clients", "static", "residential",
        "subscriber", "subscribers", "cpe", "ftth", "fttx", "fttb", "nat", "unassigned",
        "unknown", "noptr", "nodns", "dip", "user", "users", "wireless", "mobile", "lte",
    }
)  # fmt: skip

#: Labels starting like `host-`, `ip-`, `ip51` are numbered pool names.
_NUMBERED_PREFIX = re.compile(r"^(?:host|ip|ipv4|ipv6|ip4|ip6|addr)[-_]?\d")

#: Default names cloud providers give every instance (suffix -> provider).
CLOUD_SUFFIXES: dict[str, str] = {
    "compute.amazonaws.com": "Amazon EC2",
    "compute-1.amazonaws.com": "Amazon EC2",
    "googleusercontent.com": "Google Cloud",
    "cloudapp.azure.com": "Microsoft Azure",
    "cloudapp.net": "Microsoft Azure",
    "linodeusercontent.com": "Linode/Akamai",
    "members.linode.com": "Linode/Akamai",
    "vultrusercontent.com": "Vultr",
    "instances.scw.cloud": "Scaleway",
    "your-server.de": "Hetzner",
    "contaboserver.net": "Contabo",
    "vps.ovh.net": "OVHcloud",
    "vps.ovh.ca": "OVHcloud",
}


@dataclass
class PtrResult(CheckResult):
    """Reverse DNS of one address. `forward` maps each PTR name to the addresses it resolves to."""

    ip: str = ""
    names: list[str] = field(default_factory=list)
    forward_confirmed: bool = False
    generic: bool = False
    forward: dict[str, list[str]] = field(default_factory=dict)
    #: Why a name looks generic, one sentence each (empty when it does not).
    generic_reasons: list[str] = field(default_factory=list)


def reverse_name(ip: str) -> str:
    """The in-addr.arpa / ip6.arpa name holding the PTR of `ip`."""
    return str(dns.reversename.from_address(ip).to_text(omit_final_dot=True))


async def check_ptr(ip: str, resolver: Resolver, settings: Settings) -> PtrResult:
    """PTR names of `ip`, their forward confirmation and a generic-name verdict.

    Never raises for DNS trouble: a PTR lookup that times out or fails is status `error`.
    Raises ValueError for an `ip` that is not an address (callers validate input first).
    """
    del settings  # the resolver carries the timeout; kept for a uniform handler signature
    address = ipaddress.ip_address(ip)
    ip = str(address)
    answer = await resolver.lookup(reverse_name(ip), "PTR")
    if answer.outcome in ("nxdomain", "nodata") or (
        answer.outcome == "answer" and not answer.records
    ):
        return PtrResult(
            "fail",
            _("{ip} has no PTR (reverse DNS) record").format(ip=ip),
            ip=ip,
            advice=_advice_missing(ip),
        )
    if answer.outcome != "answer":
        return PtrResult(
            "error",
            _("Could not look up the PTR of {ip}: {error}").format(
                ip=ip, error=answer.detail or answer.outcome
            ),
            ip=ip,
        )

    names = sorted({n.lower().rstrip(".") for n in answer.records})
    lookups = await asyncio.gather(
        *(resolver.lookup(name, rdtype) for name in names for rdtype in ("A", "AAAA"))
    )
    own_family = "A" if address.version == 4 else "AAAA"
    forward: dict[str, list[str]] = {}
    unconfirmed: list[str] = []
    undecided: list[Answer] = []
    for i, name in enumerate(names):
        by_type = {"A": lookups[2 * i], "AAAA": lookups[2 * i + 1]}
        found = [ipaddress.ip_address(r) for a in by_type.values() for r in a.records]
        forward[name] = [str(a) for a in found]
        if address in found:
            continue
        if by_type[own_family].definite:
            unconfirmed.append(name)
        else:
            undecided.append(by_type[own_family])
    confirmed = not unconfirmed and not undecided

    reasons = [r for name in names for r in generic_reasons(name, ip)]
    result = PtrResult(
        "ok",
        "",
        ip=ip,
        names=names,
        forward_confirmed=confirmed,
        generic=bool(reasons),
        forward=forward,
        generic_reasons=reasons,
    )
    shown = ", ".join(names)
    status: Status
    if unconfirmed:
        status = "fail"
        result.summary = _(
            "PTR {names} does not resolve back to {ip} (no forward confirmation)"
        ).format(names=shown, ip=ip)
        result.advice = _advice_unconfirmed(ip, unconfirmed)
    elif undecided:
        status = "error"
        failed = undecided[0]
        result.summary = _(
            "PTR {names}; could not confirm it resolves back to {ip}: {name} {rdtype} gave {error}"
        ).format(
            names=shown,
            ip=ip,
            name=failed.name,
            rdtype=failed.rdtype,
            error=failed.detail or failed.outcome,
        )
    elif reasons:
        status = "warn"
        result.summary = _("PTR {names} resolves back to {ip} but looks generic: {reason}").format(
            names=shown, ip=ip, reason=reasons[0]
        )
        result.advice = _advice_generic(ip)
    else:
        status = "ok"
        result.summary = _("PTR {names} resolves back to {ip}").format(names=shown, ip=ip)
    result.status = status
    return result


# ---- generic names ----------------------------------------------------------------------


def generic_reasons(name: str, ip: str) -> list[str]:
    """Why `name` looks like a provider's generic/dynamic or default cloud name (empty: it does not)."""
    name = name.lower().rstrip(".")
    reasons: list[str] = []
    digits = _address_in_name(name, ipaddress.ip_address(ip))
    if digits:
        reasons.append(_("{name} contains the address ({digits})").format(name=name, digits=digits))
    for suffix, provider in CLOUD_SUFFIXES.items():
        if name == suffix or name.endswith("." + suffix):
            reasons.append(
                _("{name} is a default {provider} name").format(name=name, provider=provider)
            )
            break
    labels = name.split(".")
    host_labels = labels[:-2] if len(labels) > 2 else labels[:1]
    words = sorted(
        {w for label in host_labels for w in re.split(r"[^a-z]+", label) if w in GENERIC_WORDS}
    )
    if words:
        reasons.append(
            _("{name} contains {words}, typical of pool addresses").format(
                name=name, words=", ".join(repr(w) for w in words)
            )
        )
    elif any(_NUMBERED_PREFIX.match(label) for label in host_labels):
        reasons.append(
            _("{name} is a numbered host name, typical of pool addresses").format(name=name)
        )
    return reasons


_SEP = r"[-._]"


def _address_in_name(name: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The piece of `name` that spells the address (any common form), or ''."""
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_in_name(name, address)
    return _ipv6_in_name(name, address)


def _octet(value: int) -> str:
    """An octet, optionally zero-padded to three digits (`10`, `010`)."""
    text = str(value)
    return f"0{{0,{3 - len(text)}}}{text}" if len(text) < 3 else text


def _ipv4_in_name(name: str, address: ipaddress.IPv4Address) -> str:
    octets = list(address.packed)
    patterns: list[str] = []
    for order in (octets, octets[::-1]):
        parts = [_octet(o) for o in order]
        patterns.append(_SEP.join(parts))  # 51-158-10-22, 22.10.158.51, 051-158-010-022
        patterns.append("".join(f"{o:03d}" for o in order))  # 051158010022
    for tail in (octets[1:], octets[1:][::-1]):  # ip-158-10-22 (first octet left out)
        patterns.append(_SEP.join(_octet(o) for o in tail))
    patterns.append("".join(str(o) for o in octets))  # 5115810022
    patterns.append(str(int(address)))  # the address as one integer
    for pattern in patterns:
        found = re.search(rf"(?<![0-9]){pattern}(?![0-9])", name)
        if found:
            return found.group(0)
    hexa = f"{int(address):08x}"
    found = re.search(rf"(?<![0-9a-f]){hexa}(?![0-9a-f])", name)
    return found.group(0) if found else ""


def _ipv6_in_name(name: str, address: ipaddress.IPv6Address) -> str:
    exploded = address.exploded.replace(":", "")
    if exploded in name.replace("-", "").replace(".", "").replace("_", ""):
        return address.exploded
    nibbles = ".".join(reversed(exploded[16:]))  # the interface half, ip6.arpa style
    if nibbles in name:
        return nibbles
    compressed = re.escape(address.compressed).replace(":", _SEP)
    found = re.search(compressed, name)
    if found:
        return found.group(0)
    groups = {g.lstrip("0") for g in address.exploded.split(":") if g.strip("0")}
    tokens = {t.lstrip("0") for t in re.split(r"[-._]", name) if t.strip("0")}
    shared = groups & tokens
    if len(groups) >= 3 and len(shared) >= 3:
        return ", ".join(sorted(shared))
    return ""


# ---- advice -------------------------------------------------------------------------------

#: Said when a PTR is missing, unless the operator's pool file knows better.
REGIONS = N_(
    "In some regions (for example some operators' points of presence in China) PTR records "
    "cannot be had for assigned addresses at all; send through a relay whose address has one."
)


def _advice_missing(ip: str) -> list[Advice]:
    return [
        Advice(
            _(
                "Ask the provider of {ip} (or the network operator's support, if it is their "
                "address) to set a PTR record such as mail.yourdomain.com, and publish an A/AAAA "
                "record for that name pointing back to {ip}."
            ).format(ip=ip),
            FCRDNS_URL,
        ),
        Advice(_(REGIONS)),
    ]


def _advice_unconfirmed(ip: str, names: list[str]) -> list[Advice]:
    listed = ", ".join(names)
    return [
        Advice(
            _(
                "Publish an A/AAAA record for {names} pointing to {ip}, or ask the provider of "
                "{ip} to change the PTR to a name that does (e.g. mail.yourdomain.com): receivers "
                "require the PTR name to resolve back to the sending address."
            ).format(names=listed, ip=ip),
            FCRDNS_URL,
        )
    ]


def _advice_generic(ip: str) -> list[Advice]:
    return [
        Advice(
            _(
                "Ask the provider of {ip} (or the network operator's support) for a PTR naming "
                "your mail server, such as mail.yourdomain.com, that resolves back to the "
                "address: receivers treat generic provider names as end-user connections."
            ).format(ip=ip),
            FCRDNS_URL,
        )
    ]
