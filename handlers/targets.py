"""Which addresses a check may look at, and why not.

Blocklists and probes only make sense for addresses on the public internet; a
private, loopback or reserved address gets a refusal that names its kind.
"""

from __future__ import annotations

import ipaddress

from handlers.i18n import N_, _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Cloud instance-metadata endpoints: never a probe target, whatever the switch says.
METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)

_SHARED = ipaddress.ip_network("100.64.0.0/10")


def non_global_reason(ip: IPAddress) -> str | None:
    """Why `ip` is not a public internet address ("private", "loopback", ...), or None."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return non_global_reason(ip.ipv4_mapped)
    if ip in METADATA:
        return "cloud metadata"
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared (carrier-grade NAT)"
    if ip.is_private:
        # Python counts documentation and benchmarking ranges as private; say reserved for them.
        private_nets = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
        if any(ip in ipaddress.ip_network(n) for n in private_nets):
            return "private"
        return "reserved"
    if ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


#: Each reason as the phrase a sentence uses ("{ip} is {phrase}"), translated where shown.
_PHRASES = {
    "cloud metadata": N_("a cloud metadata address"),
    "loopback": N_("a loopback address"),
    "unspecified": N_("an unspecified address"),
    "link-local": N_("a link-local address"),
    "multicast": N_("a multicast address"),
    "shared (carrier-grade NAT)": N_("a shared (carrier-grade NAT) address"),
    "private": N_("a private address"),
    "reserved": N_("a reserved address"),
}


def reason_phrase(reason: str) -> str:
    """`reason` (from `non_global_reason`) as "a private address", in the current language."""
    phrase = _PHRASES.get(reason)
    return _(phrase) if phrase else _("a {reason} address").format(reason=reason)
