"""`smtpcheck dmarc` and `smtpcheck dkim` end to end over the loopback DNS server, and the rules."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.terminal.cli import main
from tests.support.dns_server import DnsServer, reverse_name
from tests.support.mail_auth import DKIM_KEY_2048, publish_authentication

IP = "51.158.10.22"
DOMAIN = "northwind-traders.com"
ZONES = """
replace_builtin = true
[[list]]
zone = "zen.spamhaus.org"
name = "Spamhaus ZEN"
tier = "major"
lookup_url = "https://check.spamhaus.org/results/?query={ip}"
[list.codes]
"127.0.0.2" = "SBL: Spamhaus Blocklist"
"""


@pytest.fixture
def env(dns_server: DnsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DnsServer:
    zones = tmp_path / "zones.toml"
    zones.write_text(ZONES)
    monkeypatch.setenv("SMTPCHECK_ZONES", str(zones))
    monkeypatch.setenv("SMTPCHECK_TIMEOUT", "2")
    dns_server.add(reverse_name("127.0.0.2", "zen.spamhaus.org"), "A", "127.0.0.2")
    dns_server.add(reverse_name(IP, "in-addr.arpa"), "PTR", f"mail.{DOMAIN}.")
    dns_server.add(f"mail.{DOMAIN}", "A", IP)
    return dns_server


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_dmarc_with_sender_checks_alignment(env: DnsServer) -> None:
    env.add(f"_dmarc.{DOMAIN}", "TXT", f"v=DMARC1; p=reject; aspf=s; rua=mailto:d@{DOMAIN}")
    env.add(f"bounces.{DOMAIN}", "TXT", f"v=spf1 ip4:{IP} -all")
    code, out, err = run("dmarc", DOMAIN, IP, "--sender", f"b@bounces.{DOMAIN}", "--json")
    assert code == 1, out + err  # p=reject, SPF passes but is not aligned under aspf=s
    data = json.loads(out)
    dmarc, spf = data["checks"]["dmarc"], data["checks"]["spf"]
    assert (dmarc["policy"], dmarc["spf_aligned"], dmarc["found_at"]) == ("reject", False, DOMAIN)
    assert spf["result"] == "pass" and spf["sender"] == f"b@bounces.{DOMAIN}"
    assert {r["id"] for r in data["requirements"]} >= {"dmarc_policy", "alignment"}
    code, text, _ = run("dmarc", DOMAIN, IP, "--sender", f"b@bounces.{DOMAIN}")
    assert "NOT aligned" in text and "aligned DKIM signature" in text
    assert "Receivers' sender rules:" in text


def test_dmarc_helo_flag_is_taken(env: DnsServer) -> None:
    env.add(f"_dmarc.{DOMAIN}", "TXT", f"v=DMARC1; p=none; rua=mailto:d@{DOMAIN}")
    env.add(DOMAIN, "TXT", f"v=spf1 ip4:{IP} -all")
    code, out, err = run("dmarc", DOMAIN, IP, "--helo", f"mail.{DOMAIN}", "--json")
    assert code == 0, out + err
    assert json.loads(out)["checks"]["spf"]["helo"] == f"mail.{DOMAIN}"


def test_sender_flag_elsewhere_is_refused(env: DnsServer) -> None:
    code, _, err = run("dkim", DOMAIN, "--sender", f"x@{DOMAIN}")
    assert code == 3 and "smtpcheck dmarc DOMAIN IP" in err


def test_dkim_exit_codes(env: DnsServer) -> None:
    assert run("dkim", DOMAIN)[0] == 1  # nothing at the common selectors: warn
    env.add(f"s1._domainkey.{DOMAIN}", "TXT", f"v=DKIM1; k=rsa; p={DKIM_KEY_2048}")
    code, out, _ = run("dkim", DOMAIN, "s1")
    assert code == 0 and "RSA 2048 bits" in out
    assert run("dkim", DOMAIN, "s1", "missing1")[0] == 2  # a named selector without a key
    env.add(f"old._domainkey.{DOMAIN}", "TXT", "v=DKIM1; p=")
    code, out, _ = run("dkim", DOMAIN, "old", "--json")
    assert code == 2 and json.loads(out)["checks"]["dkim"]["selectors"][0]["revoked"] is True


def test_full_check_shows_the_rules(env: DnsServer) -> None:
    env.add(DOMAIN, "TXT", f"v=spf1 ip4:{IP} -all")
    code, out, err = run(IP, DOMAIN)
    assert code == 1, out + err  # no DMARC, no DKIM found: warnings
    assert "Gmail bulk sender rules: 3 of 6 met; not met: DMARC; unknown: DKIM, TLS" in out
    assert "https://support.google.com/a/answer/81126" in out
    publish_authentication(env, DOMAIN)
    code, out, err = run(IP, DOMAIN)
    assert code == 0, out + err
    assert "Outlook.com high-volume sender rules: 4 of 4 met" in out
