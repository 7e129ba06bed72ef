"""Public means "globally reachable" in the IANA special-purpose registries, in every form.

192.0.0.8, 192.0.0.100, fec0::1 and 3fff::1 were probed because Python's tables call them
global. IPv6 forms that carry an IPv4 address are judged by it, and the metadata address
is refused in each of them even in a lab (SMTPCHECK_ALLOW_PRIVATE_TARGETS).
"""

from __future__ import annotations

import ipaddress
import re

import pytest

from bot.grammar import UsageError, check_ip
from handlers.dns.resolver import Resolver
from handlers.settings import Settings
from handlers.smtp import address_refusal, probe_smtp
from handlers.targets import (
    block_of,
    embedded_ipv4,
    is_metadata,
    non_global_reason,
    reason_phrase,
    registry,
)
from tests.support.dns_server import DnsServer
from tests.support.smtp_servers import RawPeer

LAB = Settings(allow_private_targets=True, smtp_ports=(25,))

# address, reason (None: public), what Python's is_global says (the faults it had)
TABLE = [
    ("192.0.0.8", "reserved", True),  # IPv4 dummy address (RFC 7600)
    ("192.0.0.100", "reserved", True),  # IETF protocol assignments
    ("192.0.0.170", "reserved", False),  # NAT64/DNS64 discovery
    ("fec0::1", "site-local", True),  # deprecated site-local
    ("3fff::1", "reserved", True),  # documentation (RFC 9637)
    ("5f00::1", "reserved", True),  # SRv6 SIDs
    ("100:0:0:1::1", "reserved", True),  # dummy IPv6 prefix
    ("4000::1", "reserved", True),  # outside 2000::/3: not global unicast
    ("192.0.0.9", None, True),  # PCP anycast: globally reachable
    ("192.0.0.10", None, True),  # TURN anycast
    ("192.31.196.1", None, True),  # AS112-v4
    ("2001:1::1", None, False),  # PCP anycast, inside the non-global 2001::/23
    ("2001:4:112::1", None, False),  # AS112-v6
    ("2001:20::1", None, False),  # ORCHIDv2
    ("51.158.10.22", None, True),
    ("2a01:4f8:10a::25", None, True),
    ("10.1.2.3", "private", False),
    ("172.16.0.1", "private", False),
    ("192.168.1.10", "private", False),
    ("fd12:3456::1", "private", False),
    ("127.0.0.1", "loopback", False),
    ("::1", "loopback", False),
    ("0.0.0.0", "unspecified", False),
    ("::", "unspecified", False),
    ("169.254.10.1", "link-local", False),
    ("fe80::1", "link-local", False),
    ("100.64.7.1", "shared (carrier-grade NAT)", False),
    ("224.0.0.5", "multicast", True),
    ("ff02::1", "multicast", True),
    ("192.0.2.10", "reserved", False),
    ("198.18.0.1", "reserved", False),
    ("2001:db8::1", "reserved", False),
    ("240.0.0.1", "reserved", False),
    ("255.255.255.255", "reserved", False),
    ("169.254.169.254", "cloud metadata", False),
    ("fd00:ec2::254", "cloud metadata", False),
    # Every registry category an egress address may fall in, checked row by row against the
    # registries' CSV exports (2025-10-09): the edges of wide blocks, 192.0.0.0/24's own
    # rows, the deprecated blocks (no Globally Reachable value), the IPv6 anycast rows.
    ("100.127.255.254", "shared (carrier-grade NAT)", False),  # last of 100.64.0.0/10
    ("0.1.2.3", "reserved", False),  # "This network", 0.0.0.0/8
    ("192.0.0.1", "reserved", False),  # IPv4 Service Continuity Prefix (RFC 7335)
    ("192.0.0.171", "reserved", False),  # NAT64/DNS64 discovery, the second address
    ("192.0.0.255", "reserved", True),  # IETF protocol assignments, no own row
    ("192.52.193.1", None, True),  # AMT: globally reachable
    ("192.175.48.1", None, True),  # Direct Delegation AS112 Service
    ("192.88.99.1", "reserved", True),  # deprecated 6to4 relay anycast (RFC 7526)
    ("192.88.99.2", "reserved", True),  # 6a44 relay anycast: not globally reachable
    ("198.19.255.1", "reserved", False),  # benchmarking, upper half of 198.18.0.0/15
    ("198.51.100.7", "reserved", False),  # TEST-NET-2
    ("203.0.113.9", "reserved", False),  # TEST-NET-3
    ("100::1", "reserved", False),  # discard-only (RFC 6666)
    ("2001:2::1", "reserved", False),  # IPv6 benchmarking
    ("2001:10::1", "reserved", False),  # deprecated ORCHID
    ("2001:1::3", None, False),  # DNS-SD SRP anycast (RFC 9665)
    ("2001:30::1", None, False),  # DETs (RFC 9374)
    ("2620:4f:8000::1", None, True),  # Direct Delegation AS112 Service
    ("2001:db8:ffff::1", "reserved", False),  # documentation, far end of 2001:db8::/32
    # Local-use NAT64 is not globally reachable, whatever public address it carries;
    # it is not "unspecified" (the /48 layout's empty bits once read as 0.0.0.0).
    ("64:ff9b:1::3380:a16", "reserved", True),
    ("64:ff9b:1::", "reserved", True),
    ("2002:339e:a16::1", None, True),  # 6to4 of 51.158.10.22: judged by that address
]

# (form, the IPv4 address it carries)
EMBEDDINGS = [
    ("::ffff:{v4}", "mapped"),
    ("::{v4}", "compatible"),
    ("::ffff:0:{v4}", "translated"),
    ("64:ff9b::{v4}", "NAT64"),
    ("64:ff9b:1::{v4}", "local NAT64, /96 layout"),
    ("6to4", "6to4"),
    ("teredo", "Teredo client"),
]


def embed(form: str, v4: str) -> str:
    """`v4` written inside an IPv6 `form`."""
    value = int(ipaddress.IPv4Address(v4))
    if form == "6to4":
        return str(ipaddress.IPv6Address((0x2002 << 112) | (value << 80) | 1))
    if form == "teredo":  # server 65.54.227.120, client address obfuscated (RFC 4380)
        server = int(ipaddress.IPv4Address("65.54.227.120"))
        prefix = (0x20010000 << 96) | (server << 64) | (0x8000 << 48) | (0x63BF << 32)
        return str(ipaddress.IPv6Address(prefix | (value ^ 0xFFFFFFFF)))
    return str(ipaddress.IPv6Address(form.format(v4=v4)))


@pytest.mark.parametrize(("address", "reason", "python_global"), TABLE)
def test_the_registry_decides(address: str, reason: str | None, python_global: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert ip.is_global == python_global  # where this differs from `reason`, Python was wrong
    assert non_global_reason(ip) == reason
    refusal = address_refusal(address, Settings())
    assert (refusal is None) == (reason is None)
    if reason is not None:
        assert refusal == f"{address} is {reason_phrase(reason)}"


@pytest.mark.parametrize(("address", "reason", "python_global"), TABLE)
def test_the_grammar_says_which_kind(address: str, reason: str | None, python_global: bool) -> None:
    if reason is None:
        assert check_ip(address) == str(ipaddress.ip_address(address))
        return
    with pytest.raises(UsageError, match=re.escape(f"is {reason_phrase(reason)}")):
        check_ip(address)


@pytest.mark.parametrize(("form", "name"), EMBEDDINGS)
@pytest.mark.parametrize(
    ("v4", "reason"),
    [("10.0.0.1", "private"), ("127.0.0.1", "loopback"), ("192.0.0.8", "reserved")],
)
def test_embedded_ipv4_is_judged_by_itself(form: str, name: str, v4: str, reason: str) -> None:
    address = embed(form, v4)
    ip = ipaddress.ip_address(address)
    assert ipaddress.IPv4Address(v4) in embedded_ipv4(ip), name
    assert non_global_reason(ip) == reason, (name, address)
    assert address_refusal(address, Settings()) is not None


@pytest.mark.parametrize(("form", "name"), EMBEDDINGS)
@pytest.mark.parametrize("v4", ["169.254.169.254", "169.254.170.2", "100.100.100.200"])
def test_metadata_is_refused_in_every_form_even_in_a_lab(form: str, name: str, v4: str) -> None:
    address = embed(form, v4)
    assert is_metadata(ipaddress.ip_address(address)), (name, address)
    assert address_refusal(address, LAB) == f"{address} is a cloud metadata address"
    assert non_global_reason(ipaddress.ip_address(address)) == "cloud metadata"


def test_local_nat64_with_the_rfc6052_48_layout() -> None:
    """64:ff9b:1::/48 may carry the address in bits 48-63 and 72-87 (RFC 6052)."""
    address = "64:ff9b:1:a9fe:a9:fe00::"
    assert ipaddress.IPv4Address("169.254.169.254") in embedded_ipv4(ipaddress.ip_address(address))
    assert address_refusal(address, LAB) is not None


@pytest.mark.parametrize(("form", "name"), [("::ffff:{v4}", "mapped"), *EMBEDDINGS[3:4]])
def test_public_ipv4_inside_a_global_form_is_public(form: str, name: str) -> None:
    assert non_global_reason(ipaddress.ip_address(embed(form, "51.158.10.22"))) is None, name


def test_a_lab_reaches_private_but_not_metadata() -> None:
    assert address_refusal("10.1.2.3", LAB) is None
    assert address_refusal("fec0::1", LAB) is None
    assert address_refusal("169.254.169.254", LAB) is not None


def test_the_registry_file_is_whole() -> None:
    data = registry()
    assert all(re.match(r"^\d{4}-\d{2}", updated) for updated in data.updated)
    prefixes = [str(b.network) for b in data.blocks]
    assert len(prefixes) == len(set(prefixes))
    for prefix in ("192.0.0.0/24", "192.0.0.8/32", "3fff::/20", "2001::/23", "64:ff9b:1::/48"):
        assert prefix in prefixes
    assert all(b.kind for b in data.blocks)
    block = block_of(ipaddress.ip_address("192.0.0.9"))
    assert block is not None and block.globally_reachable is True and block.rfc == "RFC 7723"


@pytest.mark.parametrize(
    ("address", "rfc"),
    [
        # The registry's RFC column names every RFC: rows RFC 8880 and RFC 8190 updated.
        ("192.0.0.170", "RFC 8880, RFC 7050"),
        ("192.0.0.171", "RFC 8880, RFC 7050"),
        ("255.255.255.255", "RFC 8190, RFC 919"),
        ("2001::1", "RFC 4380, RFC 8190"),
        ("fd00::1", "RFC 4193, RFC 8190"),
        ("2001:2::1", "RFC 5180, RFC Errata 1752"),
        ("0.0.0.1", "RFC 791"),
        ("192.0.0.9", "RFC 7723"),
        ("2001:1::3", "RFC 9665"),
        ("100:0:0:1::1", "RFC 9780"),
    ],
)
def test_rows_cite_the_registrys_rfcs(address: str, rfc: str) -> None:
    block = block_of(ipaddress.ip_address(address))
    assert block is not None and block.rfc == rfc


def test_the_registries_have_all_their_rows() -> None:
    """25 rows in each registry (192.0.0.170/32 and .171/32 share one), plus our extras."""
    data = registry()
    v4 = [b for b in data.blocks if b.network.version == 4 and b.kind != "multicast"]
    v6 = [b for b in data.blocks if b.network.version == 6]
    assert len(v4) == 26  # 25 rows, one of them two prefixes
    assert len(v6) == 25 + 2  # 25 rows, plus fec0::/10 and ff00::/8 from the address space
    assert data.updated[0].startswith("2025-10-09") and data.updated[1].startswith("2025-10-09")


@pytest.mark.parametrize("record", ["192.0.0.8", "64:ff9b::a9fe:a9fe", "fec0::1", "3fff::1"])
async def test_the_probe_never_connects_to_a_name_resolving_there(
    dns_server: DnsServer, resolver: Resolver, record: str
) -> None:
    """A name the probe resolves to such an address is refused before any connection."""
    async with RawPeer("smtp") as listener:
        rdtype = "AAAA" if ":" in record else "A"
        dns_server.add("inside.example-mail.net", rdtype, record)
        settings = Settings(smtp_ports=(listener.port,), smtp_timeout=0.5)
        result = await probe_smtp("inside.example-mail.net", listener.port, resolver, settings)
        assert result.failure == "forbidden", result.summary
        assert listener.connections == 0


@pytest.mark.parametrize(
    ("lang", "says", "never"),
    [("en", "a reserved address", "unspecified"), ("fr", "une adresse réservée", "non spécifiée")],
)
def test_local_nat64_is_called_reserved_in_both_languages(lang: str, says: str, never: str) -> None:
    """64:ff9b:1::/48 with the /96 layout: its own row's word, not "unspecified"."""
    from handlers import i18n

    with i18n.use(lang), pytest.raises(UsageError) as info:  # type: ignore[arg-type]
        check_ip("64:ff9b:1::3380:a16")
    assert says in str(info.value) and never not in str(info.value)
