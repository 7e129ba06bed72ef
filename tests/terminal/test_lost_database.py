"""`smtpcheck` with a database that cannot keep the report: it prints it all the same.

PostgreSQL unreachable, a SQLite file read-only, corrupt, or on a full disk: the report is
printed as without a database, one warning goes to stderr (no traceback), and the exit
code is the verdict's, never 1 for a crash.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from bot.terminal.cli import main
from tests.support.broken_disks import bind_mount, corrupt, fill, read_only, tiny_disk
from tests.support.dns_server import DnsServer, reverse_name
from tests.support.slack_app import SPAMCOP, catalogue_toml

IP = "51.158.140.3"


@pytest.fixture
def listed(dns_server: DnsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zones = tmp_path / "zones.toml"
    zones.write_text(catalogue_toml())
    monkeypatch.setenv("SMTPCHECK_ZONES", str(zones))
    monkeypatch.setenv("SMTPCHECK_TIMEOUT", "0.5")
    dns_server.add(reverse_name(IP, SPAMCOP), "A", "127.0.0.2")


def run(monkeypatch: pytest.MonkeyPatch, url: str | None) -> tuple[int, str, str]:
    if url is None:
        monkeypatch.delenv("SMTPCHECK_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("SMTPCHECK_DATABASE_URL", url)
    out, err = io.StringIO(), io.StringIO()
    code = main(["bl", IP, "--no-color"], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def assert_report_despite(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    expected_code, expected_out, _ = run(monkeypatch, None)
    assert expected_code == 2 and "SpamCop" in expected_out  # listed on a reputation list
    code, out, err = run(monkeypatch, url)
    assert code == expected_code
    # The same report (how many slow lists answered in time may differ between two runs).
    assert out.split()[0] == expected_out.split()[0] == IP
    assert "SpamCop" in out and "bl.spamcop.net" in out
    assert "could not be stored" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def working_sqlite(path: Path) -> str:
    url = f"sqlite:///{path}"
    from bot.store import Store

    Store.open(url).close()  # migrated, so the fault is the disk's, not the schema's
    return url


def test_postgresql_down(listed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_report_despite(monkeypatch, "postgresql://postgres@127.0.0.1:9/test?connect_timeout=2")


def test_sqlite_corrupt(listed: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = working_sqlite(tmp_path / "bot.db")
    corrupt(tmp_path / "bot.db")
    assert_report_despite(monkeypatch, url)


def test_sqlite_read_only(listed: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with bind_mount(tmp_path / "ro") as where:
        url = working_sqlite(where / "bot.db")
        read_only(where)
        assert_report_despite(monkeypatch, url)


def test_sqlite_on_a_full_disk(
    listed: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with tiny_disk(tmp_path / "full") as where:
        url = working_sqlite(where / "bot.db")
        fill(where)
        assert_report_despite(monkeypatch, url)
        with sqlite3.connect(where / "bot.db") as conn:
            assert conn.execute("select count(*) from reports").fetchone()[0] == 0
