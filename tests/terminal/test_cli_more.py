"""The terminal command beyond the full check: smtp, mx, egress, bounce, history, pools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.dns_server import DnsServer, reverse_name
from tests.support.smtp_servers import SmtpPeer, closed_port
from tests.terminal.test_cli import IP, good_ptr, run

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
    with SmtpPeer(port=2525) as peer:  # an allowed submission port, on loopback only
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
    # A closed port outside 25/465/587/2525 is refused before any connection is tried.
    assert smtp["failure"] == "forbidden" and code == 3


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
