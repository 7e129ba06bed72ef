"""`smtpcheck bounce` reads a whole .eml from standard input: 2 MB cannot pass as one argument."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.terminal.cli import main
from tests.support.dns_server import DnsServer

DSN = (
    Path(__file__).parents[1] / "handlers/data/bounces/45-full-dsn-multipart-microsoft-spamhaus.eml"
)
SENDER_IP = "2a01:4f8:10a::25"
BOUNDARY = "--BAA7960048.1526386394/mail.shop-example.de"


def big_eml(size: int = 2 << 20) -> bytes:
    """The DSN with the returned message whole: a 2 MB attachment, some Latin-1 bytes."""
    head, _, _ = DSN.read_text().rpartition(BOUNDARY + "--")
    payload = base64.encodebytes(os.urandom(size * 3 // 4)).decode()
    returned = (
        f"{BOUNDARY}\nContent-Type: message/rfc822\n\nFrom: Office <office@shop-example.de>\n"
        "Subject: Order 4711\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\n"
        "--x\nContent-Type: application/pdf; name=order.pdf\n"
        f"Content-Transfer-Encoding: base64\n\n{payload}--x--\n\n{BOUNDARY}--\n"
    )
    data = (head + returned).encode()
    assert len(data) >= size
    return data.replace(b"Order 4711", b"Bestellung f\xfcr 4711", 1)


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("smtpcheck")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.terminal.cli"]


@pytest.fixture
def env(dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch) -> DnsServer:
    monkeypatch.setenv("SMTPCHECK_TIMEOUT", "0.5")
    monkeypatch.setenv("SMTPCHECK_EGRESS_REFERENCE", "off")
    monkeypatch.delenv("SMTPCHECK_DATABASE_URL", raising=False)
    return dns_server


@pytest.mark.parametrize("argv", [["bounce"], ["BOUNCE", "-"]])
def test_two_megabytes_on_stdin_through_the_console_script(env: DnsServer, argv: list[str]) -> None:
    eml = big_eml()
    with pytest.raises(OSError):  # as one argument the kernel refuses it (E2BIG)
        subprocess.run([*console_script(), "bounce", eml.decode("latin-1")], timeout=60)
    done = subprocess.run(
        [*console_script(), "--json", *argv], input=eml, capture_output=True, env=dict(os.environ),
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["target"] == SENDER_IP
    bounce = report["checks"]["bounce"]
    assert bounce["ips"] == [SENDER_IP]
    assert (bounce["receiver"], bounce["kind"], bounce["enhanced_code"]) == (
        "Microsoft",
        "blocklist",
        "5.7.1",
    )
    assert "dnsbl" in report["checks"]  # the address it names was checked, not only read


def test_empty_stdin_is_bad_input_in_one_sentence() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["bounce"], stdout=out, stderr=err, stdin=io.BytesIO(b"  \n")) == 3
    assert "smtpcheck bounce < bounce.eml" in err.getvalue()
    assert out.getvalue() == ""


def test_text_after_bounce_is_still_the_bounce(env: DnsServer) -> None:
    """`bounce TEXT` reads the words, not stdin (a monitoring job's stdin may be anything)."""
    out, err = io.StringIO(), io.StringIO()
    stdin = io.BytesIO(b"550 5.7.1 Client host [51.158.10.99] blocked using zen.spamhaus.org")
    text = "550 5.7.1 Client host [51.158.10.22] blocked using zen.spamhaus.org"
    code = main(["--json", "bounce", *text.split()], stdout=out, stderr=err, stdin=stdin)
    assert code in (1, 2, 3), err.getvalue()
    assert json.loads(out.getvalue())["target"] == "51.158.10.22"
