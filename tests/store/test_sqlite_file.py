"""A SQLite file the bot cannot write is named with its owner and the fix, not "unable to open"."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.store import Store, StoreError
from bot.store.sqlite_file import problem

ROOT = Path(__file__).resolve().parents[2]
#: The image's user; any non-root id would do.
UID = GID = 10001


def as_other_user(check: Callable[[], str | None]) -> str | None:
    """Run `check` in a child process with the ids of the image's user (as root: fork + setuid)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the user, answer through the pipe, never return
        status = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(GID)
            os.setuid(UID)
            os.write(write, (check() or "").encode())
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        text = answer.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return text or None


@pytest.fixture
def root_owned_dir() -> Iterator[Path]:
    """A directory like a host directory bind-mounted on /data: root's, mode 755."""
    directory = Path(tempfile.mkdtemp(prefix="smtpcheck-data-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_root_owned_directory_names_owner_user_and_chown(root_owned_dir: Path) -> None:
    message = as_other_user(lambda: problem(root_owned_dir / "smtpcheck.db"))
    assert message is not None
    assert f"uid {UID}, gid {GID}" in message  # who the bot runs as
    assert f"{root_owned_dir} (uid 0, gid 0, mode 755)" in message  # who owns the directory
    assert f"chown {UID}:{GID}" in message and "PostgreSQL" in message


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_unwritable_existing_database_file_is_named(root_owned_dir: Path) -> None:
    database = root_owned_dir / "smtpcheck.db"
    database.write_bytes(b"")
    root_owned_dir.chmod(0o777)  # the directory is fine, the file is root's 644
    message = as_other_user(lambda: problem(database))
    assert message is not None and f"{database} (uid 0, gid 0, mode 644)" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_directory_without_root(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    directory.mkdir(mode=0o555)
    try:
        message = problem(directory / "smtpcheck.db")
    finally:
        directory.chmod(0o755)
    assert message is not None and f"uid {os.getuid()}" in message and "chown" in message


def test_writable_directory_is_no_problem_and_missing_ones_are_created(tmp_path: Path) -> None:
    database = tmp_path / "new" / "deeper" / "smtpcheck.db"
    assert problem(database) is None
    assert database.parent.is_dir()


def test_store_open_raises_the_explanation(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match=r"cannot create the directory .*a-file"):
        Store.open(f"sqlite:///{blocker / 'smtpcheck.db'}")


def test_bot_says_what_is_wrong_and_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the directory should be")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SMTPCHECK_"))}
    env |= {
        "SLACK_BOT_TOKEN": "xoxb-1-test",
        "SLACK_SIGNING_SECRET": "test-secret",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "SMTPCHECK_DATABASE_URL": f"sqlite:///{blocker / 'smtpcheck.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2, done.stderr
    assert f"cannot create the directory {blocker}" in done.stderr
    assert "unable to open database file" not in done.stderr and "Traceback" not in done.stderr
