"""The terminal's report in French: sentences, dates and numbers; JSON keys and statuses unchanged."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.terminal.cli import main
from tests.support.dns_server import DnsServer, reverse_name

IP = "51.158.10.22"
ZONES = """
replace_builtin = true
[[list]]
zone = "zen.spamhaus.org"
name = "Spamhaus ZEN"
tier = "major"
lookup_url = "https://check.spamhaus.org/results/?query={ip}"
[list.codes]
"127.0.0.2" = "SBL: Spamhaus Blocklist, a verified spam source or spam operation"

[[list]]
zone = "bl.spamcop.net"
name = "SpamCop"
tier = "major"
lookup_url = "https://www.spamcop.net/bl.shtml?{ip}"
"""


@pytest.fixture
def env(dns_server: DnsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DnsServer:
    zones = tmp_path / "zones.toml"
    zones.write_text(ZONES)
    monkeypatch.setenv("SMTPCHECK_ZONES", str(zones))
    monkeypatch.setenv("SMTPCHECK_TIMEOUT", "0.5")
    for name in ("SMTPCHECK_LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for zone in ("zen.spamhaus.org", "bl.spamcop.net"):
        dns_server.add(reverse_name("127.0.0.2", zone), "A", "127.0.0.2")
    dns_server.add(reverse_name(IP, "zen.spamhaus.org"), "A", "127.0.0.2")
    return dns_server


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_a_report_in_french(env: DnsServer) -> None:
    code, out, err = run("--lang", "fr", IP)
    assert code == 2, out + err
    assert out.startswith(f"{IP}  FAIL")  # statuses are the monitoring words in every language
    assert "Listes de blocage" in out
    assert "Inscrite sur 1 liste de blocage sur 2" in out
    assert "SBL : Spamhaus Blocklist, source de spam ou opération de spam avérée" in out
    assert "DNS inverse" in out and "n’a pas d’enregistrement PTR" in out
    assert "Que faire :" in out and "Trouvez et corrigez la cause" in out
    assert "Vérifié le " in out and " UTC" in out and " ms via " in out
    for english in ("Listed on", "What to do", "Checked", "has no PTR"):
        assert english not in out


def test_the_same_report_in_english(env: DnsServer) -> None:
    code, out, _err = run(IP)
    assert code == 2
    assert "Listed on 1 of 2 blocklists" in out and "What to do:" in out
    assert "Checked " in out


def test_json_keys_and_enumerations_stay_english_summaries_follow_the_language(
    env: DnsServer,
) -> None:
    code, out, _err = run("--json", "--lang", "fr", IP)
    french = json.loads(out)
    code_en, out_en, _err = run("--json", IP)
    english = json.loads(out_en)
    assert code == code_en == 2
    assert set(french) == set(english)
    assert french["verdict"] == english["verdict"] == "fail"
    for name, check in english["checks"].items():
        assert set(french["checks"][name]) == set(check)
        assert french["checks"][name]["status"] == check["status"]
    assert french["checks"]["dnsbl"]["summary"] == "Inscrite sur 1 liste de blocage sur 2"
    assert french["checks"]["dnsbl"]["listed"][0]["codes"] == ["127.0.0.2"]
    assert french["checks"]["dnsbl"]["listed"][0]["zone"] == "zen.spamhaus.org"
    assert french["advice"][0]["text"] != english["advice"][0]["text"]
