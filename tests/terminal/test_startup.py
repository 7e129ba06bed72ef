"""The terminal's start-up: a blocklist check imports no store, Slack, TLS or metrics stack.

`smtpcheck bl IP` runs from cron or a monitoring system every minute, where start-up is
most of its cost. Each case runs in a fresh interpreter and reads its `sys.modules`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from handlers.dnsbl import query_name
from tests.support.dns_server import DnsServer

#: Packages only some commands need: the store, Slack, the SMTP probe's X.509, /metrics.
HEAVY = ("sqlalchemy", "alembic", "slack_bolt", "slack_sdk", "cryptography", "prometheus_client")

_REPORT_MODULES = """
import json, sys
code = {run}
heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({heavy!r}))
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def _run(code: str, nameserver: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPCHECK_")}
    env["SMTPCHECK_NAMESERVERS"] = nameserver
    done = subprocess.run(
        [sys.executable, "-c", _REPORT_MODULES.format(run=code, heavy=HEAVY)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_importing_the_terminal_imports_nothing_heavy(dns_server: DnsServer) -> None:
    result = _run("__import__('bot.terminal.cli') and 0", dns_server.address)
    assert result["heavy"] == []


@pytest.mark.parametrize(
    ("words", "exit_code"), [(["bl", "51.158.10.22"], 0), (["bl", "51.158.10.7"], 2)]
)
def test_a_blocklist_check_imports_nothing_heavy(
    dns_server: DnsServer, words: list[str], exit_code: int
) -> None:
    dns_server.add(query_name("51.158.10.7", "zen.spamhaus.org"), "A", "127.0.0.2")
    run = f"__import__('bot.terminal.cli').terminal.cli.main({words!r})"
    result = _run(run, dns_server.address)
    assert result == {"code": exit_code, "heavy": []}


def test_commands_that_need_more_still_get_it(dns_server: DnsServer, tmp_path: object) -> None:
    """The SMTP stack arrives with `smtp`: lazy imports must not break the command."""
    run = "__import__('bot.terminal.cli').terminal.cli.main(['smtp', '127.0.0.1', '9'])"
    result = _run(run, dns_server.address)
    assert result["code"] in (2, 3)
    assert "cryptography" in result["heavy"]
