"""The README stands alone and says what the code does.

A reader has only the repository: every path the README names must be in it, the test
command must say what it needs, and the quick start must say about the resolver what a
first run would otherwise find out the hard way.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_names_no_file_outside_the_repository() -> None:
    assert "../" not in README
    assert "INTERFACE.md" not in README and "GUIDE.md" not in README and "STYLE.md" not in README
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" in target:
            continue
        assert (ROOT / target).exists(), target


def test_paths_in_code_spans_exist() -> None:
    """Paths of the repository's own files exist (a dotfile such as deploy/.env is the
    operator's to write)."""
    for path in re.findall(r"`((?:handlers|bot|tests|bench|deploy|examples)/[\w./-]+)`", README):
        if Path(path).name.startswith("."):
            continue
        assert (ROOT / path).exists(), path


def test_the_test_command_says_it_needs_postgresql_and_how_to_get_it() -> None:
    command = README.index("python -m pytest")
    before = README[max(0, command - 900) : command]
    assert "127.0.0.1:5432" in before and "PostgreSQL" in before
    assert "docker run" in before


def test_the_quick_start_sets_the_resolver_before_the_first_check() -> None:
    first_check = README.index(".venv/bin/smtpcheck ")
    before = README[:first_check]
    assert "SMTPCHECK_NAMESERVERS" in before
    assert "Spamhaus" in before and "public resolvers" in before


def test_history_is_described_as_the_terminal_does_it() -> None:
    assert "creates no database file" in README
    assert "stores its reports only when `SMTPCHECK_DATABASE_URL` is set" in README
