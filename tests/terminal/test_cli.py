"""The `smtpcheck` terminal command end to end, over real DNS to the test server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.grammar import UsageError
from bot.terminal.cli import main, split_flags
from tests.support.dns_server import DnsServer, reverse_name
from tests.support.mail_auth import publish_authentication

IP = "51.158.10.22"
ZONES = """
replace_builtin = true
[[list]]
zone = "zen.spamhaus.org"
name = "Spamhaus ZEN"
tier = "major"
lookup_url = "https://check.spamhaus.org/results/?query={ip}"
[list.codes]
"127.0.0.2" = "SBL: Spamhaus Blocklist"
"127.0.0.10" = { meaning = "PBL: Policy Block List", kind = "policy" }
[list.error_codes]
"127.255.255.254" = "resolver_blocked"

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
    for zone in ("zen.spamhaus.org", "bl.spamcop.net"):
        dns_server.add(reverse_name("127.0.0.2", zone), "A", "127.0.0.2")
    return dns_server


def good_ptr(server: DnsServer, ip: str = IP, name: str = "mail.example-mail.net") -> None:
    server.add(reverse_name(ip, "in-addr.arpa"), "PTR", name + ".")
    server.add(name, "A", ip)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_clean_address_exits_0(env: DnsServer) -> None:
    good_ptr(env)
    env.add("example-mail.net", "TXT", "v=spf1 ip4:51.158.10.0/24 -all")
    publish_authentication(env, "example-mail.net")
    code, out, err = run(IP, "example-mail.net")
    assert code == 0, out + err
    assert out.startswith(f"{IP}  OK")
    assert "Clean on 2 of 2 blocklists" in out
    assert "SPF pass" in out
    assert "\x1b[" not in out  # not a terminal: no colour


def test_pbl_only_warns_exit_1_with_smarthost_advice(env: DnsServer) -> None:
    good_ptr(env)
    env.add(reverse_name(IP, "zen.spamhaus.org"), "A", "127.0.0.10")
    code, out, _ = run("bl", IP)
    assert code == 1
    assert "PBL" in out and "smarthost" in out


def test_listed_address_fails_exit_2_and_json_matches_interface(env: DnsServer) -> None:
    env.add(reverse_name(IP, "bl.spamcop.net"), "A", "127.0.0.2")
    env.add(
        reverse_name(IP, "bl.spamcop.net"),
        "TXT",
        "Blocked - see https://www.spamcop.net/bl.shtml?51.158.10.22",
    )
    code, out, _ = run(IP, "--json", "example-mail.net")  # a flag between the words
    assert code == 2
    report = json.loads(out)
    assert report["target"] == IP and report["verdict"] == "fail"
    dnsbl = report["checks"]["dnsbl"]
    assert dnsbl["status"] == "fail"
    assert dnsbl["listed"][0]["zone"] == "bl.spamcop.net"
    assert dnsbl["listed"][0]["txt"].startswith("Blocked - see")
    assert dnsbl["clean"] == ["zen.spamhaus.org"]
    assert report["checks"]["ptr"]["status"] == "fail"  # no PTR at all
    assert report["checks"]["ptr"]["names"] == []
    assert set(report["checks"]["spf"]) >= {
        "status",
        "summary",
        "domain",
        "result",
        "record",
        "explanation",
        "lookups",
    }
    assert any(a["url"] and "spamcop" in a["url"] for a in report["advice"])


def test_spf_skipped_without_domain(env: DnsServer) -> None:
    good_ptr(env)
    code, out, _ = run("--json", IP)
    report = json.loads(out)
    assert report["checks"]["spf"]["status"] == "skipped"
    assert report["checks"]["spf"]["domain"] is None
    assert code == 0


def test_resolver_refused_by_spamhaus_is_not_a_listing(env: DnsServer) -> None:
    good_ptr(env)
    env.add(reverse_name(IP, "zen.spamhaus.org"), "A", "127.255.255.254")
    code, out, _ = run("--json", "bl", IP)
    report = json.loads(out)
    dnsbl = report["checks"]["dnsbl"]
    assert dnsbl["listed"] == []
    assert dnsbl["unavailable"][0]["reason"] == "resolver_blocked"
    assert code == 1  # a major list could not be checked: warn, never "clean"


def test_everything_unavailable_is_error_exit_3(env: DnsServer) -> None:
    env.misbehave("zen.spamhaus.org", "servfail")
    env.misbehave("bl.spamcop.net", "timeout")
    code, out, _ = run("--json", "bl", IP)
    assert code == 3
    reasons = {u["zone"]: u["reason"] for u in json.loads(out)["checks"]["dnsbl"]["unavailable"]}
    assert reasons == {"zen.spamhaus.org": "error", "bl.spamcop.net": "timeout"}


def test_hostname_checks_every_address(env: DnsServer) -> None:
    other = "51.158.10.23"
    env.add("mx.example-mail.net", "A", IP, other)
    good_ptr(env)
    good_ptr(env, other, "mx2.example-mail.net")
    code, out, _ = run("--json", "mx.example-mail.net")
    data = json.loads(out)
    assert data["target"] == "mx.example-mail.net" and data["verdict"] == "ok"
    assert sorted(r["target"] for r in data["reports"]) == [IP, other]
    assert all(r["hostname"] == "mx.example-mail.net" for r in data["reports"])
    assert code == 0


def test_hostname_with_a_private_address_checks_only_the_public_one(env: DnsServer) -> None:
    env.add("mixed.example-mail.net", "A", IP, "10.1.2.3")
    good_ptr(env)
    code, out, _ = run("mixed.example-mail.net")
    assert code == 0
    assert "10.1.2.3, a private address, which was not checked" in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["999.1.1.1"], "looks like an IPv4 address but is not a valid one"),
        (["10.0.0.1"], "private address"),
        (["127.0.0.1"], "loopback address"),
        (["240.1.2.3"], "reserved address"),
        (["word"], "neither an IP address nor a host name"),
        ([IP, "bad_domain"], "not a valid mail domain"),
        (["nowhere.example-mail.net"], "does not resolve"),
        (["private.example-mail.net"], "resolves only to addresses that are not public"),
        (["--timeout", "abc", IP], "--timeout takes a number"),
        (["--timeout"], "--timeout needs a value"),
        (["--sender", "a@b.c", IP], "--sender and --helo only apply"),
    ],
)
def test_bad_input_one_sentence_exit_3(env: DnsServer, argv: list[str], says: str) -> None:
    env.add("private.example-mail.net", "A", "192.168.1.5")
    code, out, err = run(*argv)
    assert code == 3
    assert says in err
    assert "Traceback" not in err and out == ""


def test_help_exits_0_and_shows_terminal_grammar() -> None:
    code, out, _ = run("help")
    assert code == 0
    assert "smtpcheck spf DOMAIN [IP]" in out and "/smtpcheck" not in out


def test_help_lists_the_flags_and_nothing_only_slack_does() -> None:
    _, out, _ = run("--help")
    for flag in ("--json", "--csv", "--timeout", "--lang", "--sender", "--helo", "--no-color"):
        assert flag in out
    assert "watch" not in out and "channel" not in out and "thread" not in out
    assert "/20 to /32" in out and "Exit codes" in out


def test_spf_sender_and_helo_flags(env: DnsServer) -> None:
    env.add("example-mail.net", "TXT", "v=spf1 exists:%{l}.allowed.example-mail.net -all")
    env.add("alice.allowed.example-mail.net", "A", "127.0.0.2")
    code, out, _ = run(
        "spf", "example-mail.net", IP, "--json", "--sender", "alice@example-mail.net"
    )
    assert json.loads(out)["checks"]["spf"]["result"] == "pass" and code == 0
    code, out, _ = run(
        "--sender=bob@example-mail.net",
        "--helo",
        "mx.example-mail.net",
        "spf",
        "example-mail.net",
        IP,
        "--json",
    )
    assert json.loads(out)["checks"]["spf"]["result"] == "fail" and code == 2


def test_hostile_txt_cannot_drive_the_terminal(env: DnsServer) -> None:
    env.add(reverse_name(IP, "bl.spamcop.net"), "A", "127.0.0.2")
    env.add(reverse_name(IP, "bl.spamcop.net"), "TXT", "listed \x1b[2J\x1b]0;pwned\x07 see site")
    _, out, _ = run("bl", IP)
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J" in out


def test_timeout_flag_bounds_a_silent_list(env: DnsServer) -> None:
    env.misbehave("bl.spamcop.net", "timeout")
    code, out, _ = run("bl", IP, "--timeout", "0.3", "--json")
    assert code == 1  # SpamCop is a major list: cannot vouch
    unavailable = json.loads(out)["checks"]["dnsbl"]["unavailable"]
    assert unavailable[0]["detail"] == "no answer within 0.3 s"


def test_flags_split_anywhere() -> None:
    options = split_flags(["bl", "--json", IP, "--timeout=1.5", "--no-color"])
    assert (
        options.words == ["bl", IP]
        and options.json
        and options.timeout == 1.5
        and options.colour is False
    )
    with pytest.raises(UsageError):
        split_flags(["--timeout", "0"])


def test_console_script_runs_in_a_subprocess(env: DnsServer) -> None:
    """The installed entry point, as a monitoring system would call it."""
    good_ptr(env)
    script = Path(sys.executable).with_name("smtpcheck")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot.terminal.cli"]
    done = subprocess.run(
        [*command, "--json", IP], capture_output=True, text=True, env=dict(os.environ), timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "ok"


def test_ipv4_mapped_address_is_checked_as_its_ipv4_address(env: DnsServer) -> None:
    """`::ffff:51.158.10.22` is 51.158.10.22: its IPv4 listings, with a note saying so."""
    env.add(reverse_name(IP, "zen.spamhaus.org"), "A", "127.0.0.2")
    code, out, _ = run("--json", "bl", f"::ffff:{IP}")
    report = json.loads(out)
    assert report["target"] == IP
    assert report["checks"]["dnsbl"]["listed"][0]["zone"] == "zen.spamhaus.org"
    assert any("IPv4-mapped" in note for note in report["notes"])
    assert code == 2


@pytest.mark.parametrize("word", [f"[{IP}]", f"<{IP}>", f"{IP},", f"\u200b{IP}", f"'{IP}'."])
def test_pasted_address_is_checked(env: DnsServer, word: str) -> None:
    env.add(reverse_name(IP, "zen.spamhaus.org"), "A", "127.0.0.2")
    code, out, err = run("bl", word)
    assert code == 2, err
    assert out.startswith(f"{IP}  FAIL")


def test_internationalised_name_is_looked_up_as_its_a_label_and_shown_as_typed(
    env: DnsServer,
) -> None:
    env.add("xn--mnchen-post-thb.de", "A", IP)
    good_ptr(env)
    code, out, err = run("bl", "münchen-post.de")
    assert code == 0, err
    assert out.startswith(f"{IP} (münchen-post.de)  OK")
    code, out, _ = run("--json", "https://münchen-post.de/impressum")
    assert json.loads(out)["hostname"] == "münchen-post.de"


def test_bad_input_is_one_sentence_and_a_pointer_to_help(env: DnsServer) -> None:
    code, out, err = run("northwind-traders.com", IP)
    assert code == 3 and out == ""
    assert err.strip() == (
        f"The address goes first, then the mail domain: `{IP} northwind-traders.com`. "
        "See `smtpcheck help`."
    )
    assert "Usage" not in err


def test_host_name_with_many_addresses_checks_all_in_order_as_one_table(env: DnsServer) -> None:
    """20 addresses: every one checked (not 8 at random), IPv4 first, the listed one on top."""
    v4 = [f"51.158.10.{n}" for n in range(40, 58)]
    env.add("relay.example-mail.net", "A", *reversed(v4))
    env.add("relay.example-mail.net", "AAAA", "2a01:4f8:10a::26", "2a01:4f8:10a::25")
    for ip in v4:
        good_ptr(env, ip, f"out-{ip.rsplit('.', 1)[1]}.example-mail.net")
    env.add(reverse_name("51.158.10.50", "zen.spamhaus.org"), "A", "127.0.0.2")
    code, out, _ = run("--json", "bl", "relay.example-mail.net")
    report = json.loads(out)
    targets = [r["target"] for r in report["reports"]]
    assert targets == [*v4, "2a01:4f8:10a::25", "2a01:4f8:10a::26"]
    assert report["addresses"][0] == {
        "address": "51.158.10.50",
        "verdict": "fail",
        "problems": "Spamhaus ZEN (SBL)",
    }
    assert code == 2
    code, out, _ = run("bl", "relay.example-mail.net")
    lines = out.splitlines()
    assert lines[0].startswith("relay.example-mail.net  FAIL  20 addresses")
    assert lines[1].split()[:2] == ["51.158.10.50", "FAIL"]
    assert len(lines) == 22  # heading, one line per address, the pointer to a full report
    assert out.count("Blocklists") == 0  # no full report per address


def test_more_than_32_addresses_are_capped_in_address_order(env: DnsServer) -> None:
    many = [f"51.158.11.{n}" for n in range(1, 41)]
    env.add("big.example-mail.net", "A", *reversed(many))
    code, out, _ = run("--json", "bl", "big.example-mail.net")
    report = json.loads(out)
    assert [r["target"] for r in report["reports"]] == many[:32]
    assert "has 40 addresses; the first 32 in address order" in report["reports"][0]["notes"][0]
    assert code == 0


def test_three_addresses_or_fewer_get_full_reports(env: DnsServer) -> None:
    env.add("pair.example-mail.net", "A", "51.158.10.23", IP)
    code, out, _ = run("bl", "pair.example-mail.net")
    assert code == 0
    assert out.count("Blocklists") == 2
    assert out.index(IP) < out.index("51.158.10.23")


def test_sender_decides_the_spf_domain_evaluated_and_shown(env: DnsServer) -> None:
    env.add("example-mail.net", "TXT", "v=spf1 ip4:51.158.10.22 -all")
    env.add("other-mail.net", "TXT", "v=spf1 -all")
    code, out, _ = run("--json", "spf", "example-mail.net", IP, "--sender", "bob@other-mail.net")
    report = json.loads(out)
    assert report["target"] == "other-mail.net"
    assert report["checks"]["spf"]["domain"] == "other-mail.net"
    assert report["checks"]["spf"]["record"] == "v=spf1 -all"
    assert "SPF was checked for other-mail.net, not example-mail.net" in report["notes"][0]
    assert code == 2
    code, out, _ = run("spf", "example-mail.net", IP, "--sender", "bob@other-mail.net")
    assert out.startswith("other-mail.net  FAIL") and "example-mail.net allows" not in out


def test_an_address_where_the_spf_domain_goes_is_a_usage_error(env: DnsServer) -> None:
    code, out, err = run("spf", IP)
    assert (code, out) == (3, "")
    assert "`spf` takes a domain first" in err and "See `smtpcheck help`." in err
    code, _, err = run("spf", IP, "example-mail.net")
    assert code == 3 and f"`spf example-mail.net {IP}`" in err


@pytest.mark.parametrize(
    "argv", [[IP, "example-mail.net"], ["relay.example-mail.net"], ["spf", "example-mail.net"]]
)
def test_a_dead_resolver_is_named_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    """Nothing listens on 127.0.0.1:9: one sentence naming it, not 29 "not checked" lines."""
    monkeypatch.setenv("SMTPCHECK_NAMESERVERS", "127.0.0.1:9")
    monkeypatch.setenv("SMTPCHECK_TIMEOUT", "0.3")
    code, out, err = run(*argv)
    assert code == 3, err
    lines = out.strip().splitlines()
    assert len(lines) == 3, out  # heading, the sentence, the context line
    assert "The DNS resolver 127.0.0.1:9" in lines[1] and "SMTPCHECK_NAMESERVERS" in lines[1]
    assert "not checked" not in out and "nameservers answer" not in out
    code, out, _ = run("--json", *argv)
    report = json.loads(out)
    assert report["verdict"] == "error" and list(report["checks"]) == ["resolver"]
    assert report["advice"] == []


def test_a_resolver_that_answers_is_not_blamed_for_silent_lists(env: DnsServer) -> None:
    env.misbehave("zen.spamhaus.org", "timeout")
    env.misbehave("bl.spamcop.net", "servfail")
    env.misbehave("in-addr.arpa", "servfail")
    code, out, _ = run("--json", "bl", IP)
    report = json.loads(out)
    assert "resolver" not in report["checks"]
    assert report["checks"]["dnsbl"]["status"] == "error" and code == 3
