"""The terminal exits 0-3 on any argument list: monitoring reads 1 as "warn", so a crash never exits 1.

The property runs the real command (grammar, flags, checks, rendering) against the loopback
DNS server. A process-wide audit hook refuses, while it runs, every connection, datagram and
name lookup that is not loopback: whatever the generated words say (`smtp 8.8.8.8`), nothing
leaves the machine.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import service
from bot.terminal.cli import main
from tests.support.dns_server import DnsServer
from tests.test_grammar_properties import NUMBERS, VERBS, WORDS

_loopback_only = False


def _literal_is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like never leave the machine
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a name: the system resolver would be asked


def _guard(event: str, args: tuple[Any, ...]) -> None:
    if not _loopback_only:
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[-1]
        if isinstance(address, tuple) and not _literal_is_loopback(address[0]):
            raise PermissionError(f"the test allows loopback only, not {address[0]}")
    elif (
        event == "socket.getaddrinfo" and args[0] is not None and not _literal_is_loopback(args[0])
    ):
        raise PermissionError(f"the test allows no name lookup outside loopback ({args[0]!r})")


sys.addaudithook(_guard)


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    global _loopback_only
    _loopback_only = True
    try:
        yield
    finally:
        _loopback_only = False


@pytest.fixture
def quiet_env(
    dns_server: DnsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DnsServer]:
    monkeypatch.setenv("SMTPCHECK_TIMEOUT", "0.2")
    monkeypatch.setenv("SMTPCHECK_SMTP_TIMEOUT", "0.5")
    monkeypatch.setenv("SMTPCHECK_EGRESS_REFERENCE", "off")
    monkeypatch.setenv("SMTPCHECK_DATABASE_URL", f"sqlite:///{tmp_path / 'history.db'}")
    dns_server.add("mail.example-mail.net", "A", "51.158.10.22")
    dns_server.add("example.com", "TXT", "v=spf1 a:²." + "a" * 60 + " -all")
    yield dns_server


def test_the_guard_refuses_the_internet() -> None:
    import socket

    with loopback_only(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(PermissionError):
            sock.sendto(b"x", ("192.0.2.1", 53))
        sock.sendto(b"x", ("127.0.0.1", 9))


FLAGS = st.sampled_from(
    ["--json", "--csv", "--timeout", "--timeout=²", "--timeout=0.3", "--timeout=nan",
     "--sender", "--helo", "--sender=bob@example.com", "--no-color", "--", "-h", "--lang", "fr"]
)  # fmt: skip
ARGV = st.lists(
    st.one_of(FLAGS, st.sampled_from(VERBS), st.sampled_from(WORDS), NUMBERS, st.text(max_size=8)),
    max_size=5,
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ARGV)
def test_any_argument_list_exits_0_to_3(quiet_env: DnsServer, argv: list[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    with loopback_only():
        code = main(argv, stdout=out, stderr=err)
    assert code in (0, 1, 2, 3), (argv, err.getvalue())
    assert "Traceback" not in err.getvalue() + out.getvalue()
    if code == 1:  # warn is a verdict: there must be a report saying so
        assert out.getvalue().strip()


def test_a_crash_inside_a_check_exits_3_in_one_line(
    quiet_env: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> object:
        raise KeyError("a defect")

    monkeypatch.setattr(service, "run", broken)
    out, err = io.StringIO(), io.StringIO()
    assert main(["51.158.10.22"], stdout=out, stderr=err) == 3
    assert err.getvalue().count("\n") == 1 and "internal error" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_unicode_digits_through_the_console_script() -> None:
    """`smtpcheck smtp 8.8.8.8 ²` exited 1 with a ValueError traceback."""
    script = Path(sys.executable).with_name("smtpcheck")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot.terminal.cli"]
    for argv in (["smtp", "8.8.8.8", "²"], ["--timeout", "١", "51.158.10.22"]):
        done = subprocess.run(
            [*command, *argv], capture_output=True, text=True, env=dict(os.environ), timeout=60
        )
        assert done.returncode == 3, done.stderr
        assert "Traceback" not in done.stderr
        assert "port number" in done.stderr or "number of seconds" in done.stderr
