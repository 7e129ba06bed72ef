"""DKIM keys over the loopback DNS server: sizes, revoked and testing keys, CNAMEs, guessed selectors."""

from __future__ import annotations

import base64
from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from handlers.dkim import check_dkim, common_selectors, parse_selectors, read_key
from handlers.dns.resolver import Resolver
from tests.support.dns_server import DnsServer

DOMAIN = "northwind-traders.com"


@pytest.fixture
def resolver(dns_server: DnsServer) -> Resolver:
    """A resolver on the test server, patient enough for a loaded machine (20+ questions at once)."""
    return Resolver([(dns_server.host, dns_server.port)], timeout=2.0)


@cache
def rsa_key(bits: int) -> str:
    """The base64 p= of an RSA public key of `bits` (512-bit keys are built from numbers:
    cryptography no longer generates them, but receivers still meet them)."""
    if bits < 1024:
        public = rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 0xF1).public_key()
    else:
        public = rsa.generate_private_key(65537, bits).public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def key_record(bits: int = 2048, extra: str = "") -> str:
    return f"v=DKIM1; k=rsa; {extra}p={rsa_key(bits)}"


async def test_common_selector_2048_is_ok(dns_server: DnsServer, resolver: Resolver) -> None:
    dns_server.add(f"s1._domainkey.{DOMAIN}", "TXT", key_record(2048))
    result = await check_dkim(DOMAIN, None, resolver)
    assert (result.status, result.guessed) == ("ok", True)
    [key] = result.selectors
    assert (key.selector, key.found, key.key_type, key.key_bits) == ("s1", True, "rsa", 2048)
    assert key.problems == [] and not key.testing and not key.revoked
    assert result.tried == [s.name for s in common_selectors()]
    asked = {q.name for q in dns_server.questions() if q.rdtype == "TXT"}
    assert asked == {f"{s.name}._domainkey.{DOMAIN}" for s in common_selectors()}
    assert "RSA 2048 bits" in result.summary


def test_the_common_list_is_about_twenty() -> None:
    names = [s.name for s in common_selectors()]
    assert 18 <= len(names) <= 25 and len(set(names)) == len(names)
    assert {
        "selector1",
        "selector2",
        "google",
        "default",
        "dkim",
        "mail",
        "s1",
        "s2",
        "k1",
        "k2",
    } <= set(names)


async def test_1024_bits_warns(dns_server: DnsServer, resolver: Resolver) -> None:
    dns_server.add(f"mail._domainkey.{DOMAIN}", "TXT", key_record(1024))
    result = await check_dkim(DOMAIN, ["mail"], resolver)
    assert result.status == "warn" and result.selectors[0].key_bits == 1024
    assert any("2048" in a.text and "new selector" in a.text for a in result.advice)


async def test_512_bits_fails(dns_server: DnsServer, resolver: Resolver) -> None:
    dns_server.add(f"old._domainkey.{DOMAIN}", "TXT", key_record(512))
    result = await check_dkim(DOMAIN, ["old"], resolver)
    assert result.status == "fail" and result.selectors[0].key_bits == 512
    assert "RFC 8301" in result.selectors[0].problems[0]


async def test_revoked_key_fails(dns_server: DnsServer, resolver: Resolver) -> None:
    dns_server.add(f"s2._domainkey.{DOMAIN}", "TXT", "v=DKIM1; k=rsa; p=")
    result = await check_dkim(DOMAIN, ["s2"], resolver)
    key = result.selectors[0]
    assert (result.status, key.found, key.revoked, key.key_bits) == ("fail", True, True, None)
    assert any("revoked" in a.text for a in result.advice)


async def test_testing_key_warns(dns_server: DnsServer, resolver: Resolver) -> None:
    dns_server.add(f"google._domainkey.{DOMAIN}", "TXT", key_record(2048, "t=y; "))
    result = await check_dkim(DOMAIN, None, resolver)
    assert result.status == "warn" and result.selectors[0].testing
    assert result.selectors[0].platform == "Google Workspace"


async def test_microsoft_cname_is_followed(dns_server: DnsServer, resolver: Resolver) -> None:
    target = "selector1-northwind-traders-com._domainkey.northwindtraders.onmicrosoft.com"
    dns_server.add(f"selector1._domainkey.{DOMAIN}", "CNAME", f"{target}.")
    dns_server.add(target, "TXT", key_record(2048))
    result = await check_dkim(DOMAIN, None, resolver)
    [key] = result.selectors
    assert (result.status, key.selector, key.cname, key.key_bits) == (
        "ok",
        "selector1",
        target,
        2048,
    )
    assert key.platform == "Microsoft 365"


async def test_dangling_microsoft_cname(dns_server: DnsServer, resolver: Resolver) -> None:
    """The CNAME is published but Microsoft 365 never got DKIM switched on: no key behind it."""
    target = "selector2-northwind-traders-com._domainkey.northwindtraders.onmicrosoft.com"
    dns_server.add(f"selector2._domainkey.{DOMAIN}", "CNAME", f"{target}.")
    guessed = await check_dkim(DOMAIN, None, resolver)
    assert guessed.status == "warn" and guessed.selectors[0].cname == target
    named = await check_dkim(DOMAIN, ["selector2"], resolver)
    assert named.status == "fail" and not named.selectors[0].found
    assert any("switch DKIM signing on" in a.text for a in named.advice)


async def test_named_selector_missing_fails(dns_server: DnsServer, resolver: Resolver) -> None:
    result = await check_dkim(DOMAIN, ["mta2024"], resolver)
    assert result.status == "fail" and result.guessed is False
    assert result.selectors[0].found is False and result.tried == ["mta2024"]
    assert f"no key at mta2024._domainkey.{DOMAIN}" in result.summary


async def test_none_found_at_common_selectors_warns(
    dns_server: DnsServer, resolver: Resolver
) -> None:
    dns_server.add(f"{DOMAIN}", "TXT", "v=spf1 -all")
    result = await check_dkim(DOMAIN, None, resolver)
    assert result.status == "warn" and result.selectors == []
    # The summary states the finding; why selectors cannot be listed is the detail's.
    assert result.summary == f"No DKIM key at the {len(result.tried)} common selectors of {DOMAIN}"
    assert result.advice and "DKIM-Signature" in result.advice[0].text


async def test_a_wildcard_txt_is_not_a_key(dns_server: DnsServer, resolver: Resolver) -> None:
    dns_server.add(f"default._domainkey.{DOMAIN}", "TXT", "google-site-verification=abc")
    result = await check_dkim(DOMAIN, None, resolver)
    assert result.status == "warn" and result.selectors == []


async def test_dns_failure_is_an_error(dns_server: DnsServer, resolver: Resolver) -> None:
    dns_server.misbehave(f"_domainkey.{DOMAIN}", "servfail")
    result = await check_dkim(DOMAIN, ["s1"], resolver)
    assert result.status == "error" and "SERVFAIL" in result.summary


def test_key_syntax_problems() -> None:
    assert read_key("x", "v=DKIM1; k=rsa; p=not*base64").status == "fail"
    assert read_key("x", "v=DKIM2; p=" + rsa_key(2048)).status == "fail"
    assert read_key("x", "k=rsa; k=rsa; p=" + rsa_key(2048)).status == "fail"
    assert read_key("x", "k=dsa; p=" + rsa_key(2048)).status == "fail"
    assert read_key("x", "v=DKIM1; p=" + base64.b64encode(b"garbage").decode()).status == "fail"
    sha1 = read_key("x", "v=DKIM1; h=sha1; p=" + rsa_key(2048))
    assert sha1.status == "warn" and "SHA-1" in sha1.problems[0]
    assert read_key("x", "v=DKIM1; s=other; p=" + rsa_key(2048)).status == "fail"
    p = rsa_key(2048)
    spaced = read_key(
        "x", "v=DKIM1; k=rsa; p=" + " ".join(p[i : i + 60] for i in range(0, len(p), 60))
    )
    assert (spaced.status, spaced.key_bits) == ("ok", 2048)  # TXT strings split inside p= are fine


def test_ed25519_key() -> None:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    key = read_key("ed", "v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode())
    assert (key.status, key.key_type, key.key_bits) == ("ok", "ed25519", 256)


def test_selectors_as_typed() -> None:
    assert parse_selectors("s1, selector1._domainkey.example.com. S1") == ["s1", "selector1"]


async def test_one_selector_not_answering(dns_server: DnsServer, resolver: Resolver) -> None:
    """Of two named selectors one does not answer: it is unknown (error), the other is read."""
    dns_server.add(f"s1._domainkey.{DOMAIN}", "TXT", key_record(2048))
    dns_server.misbehave(f"s2._domainkey.{DOMAIN}", "servfail")
    named = await check_dkim(DOMAIN, ["s1", "s2"], resolver)
    assert named.status == "error" and [k.found for k in named.selectors] == [True, False]
    assert "could not be read" in named.summary and not any("s2" in a.text for a in named.advice)
    guessed = await check_dkim(DOMAIN, None, resolver)
    assert guessed.status == "ok" and "(1 selector did not answer)" in guessed.summary
