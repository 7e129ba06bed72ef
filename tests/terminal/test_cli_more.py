"""The terminal command beyond the full check: smtp, mx, egress, bounce, history, pools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.dns_server import DnsServer, reverse_name
from tests.support.smtp_servers import SmtpPeer, closed_port
from tests.terminal.test_cli import IP, ZONES, good_ptr, run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def env(dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> DnsServer:
    zones = tmp_path / "zones.toml"
    zones.write_text(
        'replace_builtin = true\n[[list]]\nzone = "zen.spamhaus.org"\nname = "Spamhaus ZEN"\n'
        'tier = "major"\nlookup_url = "https://check.spamhaus.org/results/?query={ip}"\n'
        '[list.codes]\n"127.0.0.10" = { meaning = "PBL", kind = "policy" }\n'
    )
    monkeypatch.setenv("SMTPCHECK_ZONES", str(zones))
    monkeypatch.setenv("SMTPCHECK_TIMEOUT", "0.5")
    monkeypatch.setenv("SMTPCHECK_SMTP_TIMEOUT", "1")
    monkeypatch.delenv("SMTPCHECK_DATABASE_URL", raising=False)
    dns_server.add(reverse_name("127.0.0.2", "zen.spamhaus.org"), "A", "127.0.0.2")
    return dns_server


def test_smtp_probe_of_a_local_server(env: DnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTPCHECK_ALLOW_PRIVATE_TARGETS", "1")
    with SmtpPeer() as peer:  # on loopback only; the terminal probes the port it is given
        code, out, err = run("--json", "smtp", "127.0.0.1", str(peer.port))
    smtp = json.loads(out)["checks"]["smtp"]
    assert smtp["banner"].startswith("220") and smtp["failure"] is None
    assert code in (0, 1), err  # no STARTTLS offered is a warning


def test_smtp_probe_refuses_loopback_without_the_switch(env: DnsServer) -> None:
    code, out, _ = run("--json", "smtp", "127.0.0.1")
    assert json.loads(out)["checks"]["smtp"]["failure"] == "forbidden"
    assert code == 3


def test_smtp_closed_port_is_refused(env: DnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTPCHECK_ALLOW_PRIVATE_TARGETS", "1")
    port = closed_port()
    code, out, _ = run("--json", "smtp", "127.0.0.1", str(port))
    smtp = json.loads(out)["checks"]["smtp"]
    # The terminal is the operator's tool: it probes the port it is given, any port.
    assert smtp["failure"] == "refused" and code == 2


def test_smtp_in_the_terminal_probes_the_port_given(
    env: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTPCHECK_ALLOW_PRIVATE_TARGETS", "1")
    monkeypatch.setenv("SMTPCHECK_SMTP_PORTS", "25")
    with SmtpPeer() as peer:  # a port the kernel chose, outside SMTPCHECK_SMTP_PORTS
        code, out, err = run("--json", "smtp", f"127.0.0.1:{peer.port}")
    smtp = json.loads(out)["checks"]["smtp"]
    assert smtp["failure"] is None and smtp["port"] == peer.port, err
    assert code in (0, 1)  # no STARTTLS offered is a warning


def test_smtp_ports_come_from_the_environment() -> None:
    from bot.config import ConfigError, settings_from_env

    assert settings_from_env({"SMTPCHECK_SMTP_PORTS": "25, 587"}).smtp_ports == (25, 587)
    assert settings_from_env({}).smtp_ports == (25, 465, 587, 2525)
    with pytest.raises(ConfigError, match="SMTPCHECK_SMTP_PORTS"):
        settings_from_env({"SMTPCHECK_SMTP_PORTS": "25,smtp"})


def test_mx_null_mx(env: DnsServer) -> None:
    env.add("nomail.example-mail.net", "MX", "0 .")
    code, out, _ = run("--json", "mx", "nomail.example-mail.net")
    mx = json.loads(out)["checks"]["mx"]
    assert mx["null_mx"] is True and code == 2


def test_bounce_explained_and_its_address_checked(env: DnsServer) -> None:
    good_ptr(env)
    env.add(reverse_name(IP, "zen.spamhaus.org"), "A", "127.0.0.10")
    text = (
        "554 5.7.1 Service unavailable; Client host [51.158.10.22] blocked using "
        "zen.spamhaus.org; https://www.spamhaus.org/query/ip/51.158.10.22"
    )
    code, out, _ = run("--json", "bounce", text)
    report = json.loads(out)
    assert report["target"] == IP
    assert report["checks"]["bounce"]["blocklists"]
    assert report["checks"]["bounce"]["reply_code"] == "554"
    assert report["checks"]["dnsbl"]["listed"][0]["codes"] == ["127.0.0.10"]
    assert code == 2  # the bounce itself is a 5xx rejection
    smarthost = [a for a in report["advice"] if "smarthost" in a["text"]]
    assert len(smarthost) == 1  # the PBL advice once, not once more from the bounce


def test_a_bounce_naming_a_list_links_its_page_once(env: DnsServer) -> None:
    """The bounce's "look it up on Spamhaus" gives way to the live check's removal advice."""
    good_ptr(env)
    env.add(reverse_name(IP, "zen.spamhaus.org"), "A", "127.0.0.2")
    text = (
        "550 5.7.1 Service unavailable; Client host [51.158.10.22] blocked using Spamhaus. "
        "To request removal from this list see https://www.spamhaus.org/query/ip/51.158.10.22"
    )
    code, out, _ = run("--json", "bounce", text)
    assert code == 2
    advice = json.loads(out)["advice"]
    page = f"https://check.spamhaus.org/results/?query={IP}"
    assert [a["url"] for a in advice].count(page) == 1
    assert not any(a["text"].startswith("Look the address up") for a in advice)
    assert any("request removal" in a["text"] for a in advice if a["url"] == page)


def test_a_bounce_pointer_stays_when_nothing_else_links_the_page(env: DnsServer) -> None:
    good_ptr(env)  # Spamhaus answers clean now: only the bounce points at its page
    text = "550 5.7.1 Client host [51.158.10.22] blocked using Spamhaus"
    _, out, _ = run("--json", "bounce", text)
    advice = json.loads(out)["advice"]
    assert any(a["text"].startswith("Look the address up on Spamhaus") for a in advice)


def test_unknown_bounce_is_bad_input(env: DnsServer) -> None:
    code, out, err = run("bounce", "Hello team, lunch at noon?")
    assert code == 3 and out == ""
    assert "I could not find an address or a known rejection in this." in err


def test_history_in_the_terminal(
    env: DnsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMTPCHECK_DATABASE_URL", f"sqlite:///{tmp_path / 'h.db'}")
    good_ptr(env)
    env.add(reverse_name(IP, "zen.spamhaus.org"), "A", "127.0.0.10")
    assert run("bl", IP)[0] == 1
    env.remove(reverse_name(IP, "zen.spamhaus.org"))
    assert run("bl", IP)[0] == 0
    code, out, _ = run("history", IP)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].split(" UTC ", 1)[1].split()[0] == "ok"
    assert "delisted from Spamhaus ZEN" in lines[0]
    assert lines[1].split(" UTC ", 1)[1].split()[0] == "warn"


def test_history_of_an_unknown_address(
    env: DnsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMTPCHECK_DATABASE_URL", f"sqlite:///{tmp_path / 'h.db'}")
    code, out, _ = run("history", IP)
    assert code == 0 and out.strip() == f"No reports of {IP} yet."


def test_watch_points_to_slack(env: DnsServer) -> None:
    code, _, err = run("watch", IP)
    assert code == 3 and "Slack thread" in err


def test_pool_knowledge_in_the_report(env: DnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """51.158.10.0/24 is the sample file's Frankfurt pool: the report says so and uses its advice."""
    monkeypatch.setenv("SMTPCHECK_POOLS", str(EXAMPLES / "pools.toml"))
    env.add(reverse_name(IP, "zen.spamhaus.org"), "A", "127.0.0.10")
    code, out, _ = run("--json", IP)
    report = json.loads(out)
    assert report["pool"]["name"] == "Frankfurt egress"
    assert any("Frankfurt egress" in n for n in report["notes"])
    texts = [a["text"] for a in report["advice"]]
    assert any("smarthost smtp.example-operator.net" in t for t in texts)  # the pool's PBL word
    assert any("Open a support case" in t for t in texts)  # the pool's PTR how-to (no PTR here)
    assert code == 2
    code, out, _ = run(IP)
    assert "In the operator's egress pool" in out


def test_bad_pools_file_is_one_sentence(
    env: DnsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "pools.toml"
    bad.write_text("[[pool]]\nname = 'x'\n")
    monkeypatch.setenv("SMTPCHECK_POOLS", str(bad))
    code, _, err = run(IP)
    assert code == 3 and err.startswith("SMTPCHECK_POOLS:") and "Traceback" not in err


BARRACUDA_DSN = """Reporting-MTA: dns; mail.northwind-traders.com
X-Postfix-Sender: rfc822; orders@northwind-traders.com

Final-Recipient: rfc822; buyer@fabrikam-shop.com
Action: failed
Status: 5.7.1
Remote-MTA: dns; mx1.fabrikam-shop.com
Diagnostic-Code: smtp; 554 5.7.1 Service unavailable; Client host
    [51.158.10.22] blocked using b.barracudacentral.org
"""


def test_bounce_checks_the_mail_domain_it_names_and_says_listed_then_clean_now(
    env: DnsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zones = tmp_path / "zones.toml"
    zones.write_text(
        ZONES
        + '\n[[list]]\nzone = "b.barracudacentral.org"\nname = "Barracuda BRBL"\ntier = "major"\n'
        + 'lookup_url = "https://www.barracudacentral.org/lookups"\n'
    )
    monkeypatch.setenv("SMTPCHECK_ZONES", str(zones))
    env.add(reverse_name("127.0.0.2", "b.barracudacentral.org"), "A", "127.0.0.2")
    good_ptr(env)
    env.add("northwind-traders.com", "TXT", "v=spf1 ip4:51.158.10.0/24 -all")
    code, out, err = run("--json", "bounce", BARRACUDA_DSN)
    assert err == ""
    report = json.loads(out)
    bounce = report["checks"]["bounce"]
    assert bounce["domain"] == "northwind-traders.com"
    assert bounce["receiver"] == "mx1.fabrikam-shop.com"
    assert report["checks"]["spf"]["status"] == "ok"
    assert report["checks"]["spf"]["domain"] == "northwind-traders.com"
    assert bounce["clean_now"] == ["Barracuda"]
    assert "Listed then, clean now" in bounce["explanation"]
    # listed on Barracuda right now: no such sentence
    env.add(reverse_name(IP, "b.barracudacentral.org"), "A", "127.0.0.2")
    code, out, _ = run("--json", "bounce", BARRACUDA_DSN)
    bounce = json.loads(out)["checks"]["bounce"]
    assert bounce["clean_now"] == [] and "clean now" not in bounce["explanation"]
    assert code == 2


def test_bounce_with_only_a_domain_reviews_its_spf(env: DnsServer) -> None:
    env.add("northwind-traders.com", "TXT", "v=spf1 ip4:51.158.10.0/24 -all")
    text = (
        "550 5.7.26 This mail is unauthenticated, which poses a security risk.\n\n"
        "------ This is a copy of the message, including all the headers. ------\n"
        "Return-Path: <orders@northwind-traders.com>\n"
    )
    code, out, _ = run("--json", "bounce", text)
    report = json.loads(out)
    assert code == 2
    assert report["checks"]["bounce"]["domain"] == "northwind-traders.com"
    assert report["checks"]["spf"]["record"] == "v=spf1 ip4:51.158.10.0/24 -all"


def test_recipient_bounce_says_the_server_is_fine(env: DnsServer) -> None:
    text = (
        "host gmail-smtp-in.l.google.com[142.250.102.27] said: 550-5.1.1 The email account "
        "that you tried to reach does not exist. 550 5.1.1 - gsmtp"
    )
    code, out, _ = run("bounce", text)
    assert "nothing is wrong with your server" in out
    assert "142.250.102.27" not in out.split("Bounce", 1)[1].split("\n")[1]
    assert code == 1


def test_history_without_a_database_creates_no_file(
    env: DnsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The terminal stores nothing unless SMTPCHECK_DATABASE_URL is set: no smtpcheck.db here."""
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    code, out, err = run("history", IP)
    assert code == 3 and out == ""
    assert "SMTPCHECK_DATABASE_URL" in err
    assert list(here.iterdir()) == []


def test_history_lines_show_the_check_and_domain_and_json(
    env: DnsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMTPCHECK_DATABASE_URL", f"sqlite:///{tmp_path / 'h.db'}")
    good_ptr(env)
    env.add("example-mail.net", "TXT", "v=spf1 ip4:51.158.10.0/24 -all")
    assert run(IP, "example-mail.net")[0] in (0, 1)  # no DMARC or DKIM here: a warning
    assert run("bl", IP)[0] == 0
    code, out, _ = run("history", IP)
    newest, oldest = (line.split(" UTC ", 1)[1].split() for line in out.strip().splitlines())
    assert newest[:3] == ["ok", "bl", "-"]
    assert oldest[1:3] == ["full", "example-mail.net"]
    code, out, _ = run("history", IP, "--json")
    entries = json.loads(out)
    assert code == 0
    assert [(e["check"], e["domain"]) for e in entries] == [
        ("bl", None),
        ("full", "example-mail.net"),
    ]
    assert entries[1]["report"]["checks"]["spf"]["result"] == "pass"
