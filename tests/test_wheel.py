"""The wheel built from a fresh checkout carries every file the packages read at run time.

The image installs this wheel and never sees the source tree, so a data file that
package-data misses (a catalogue, the bounce patterns, a migration) would only show up
as a failure in production.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("handlers", "bot")


def tracked_files() -> list[str]:
    """The packages' files as a fresh clone has them (committed or staged, not ignored)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if (ROOT / line).is_file()]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Build the wheel as a user would (`pip wheel .`) from a copy holding only tracked files."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in [*tracked_files(), "pyproject.toml", "README.md"]:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    out = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(out), "."],
        cwd=source,
        check=True,
        timeout=600,
    )
    (wheel,) = out.glob("smtpcheck-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_every_package_file_is_in_the_wheel(wheel_names: set[str]) -> None:
    wanted = {name for name in tracked_files() if not name.endswith(".pyc")}
    missing = sorted(wanted - wheel_names)
    assert not missing, f"package-data in pyproject.toml misses: {missing}"


def test_the_data_files_and_migrations_are_there(wheel_names: set[str]) -> None:
    assert {"handlers/catalogue.toml", "handlers/bounce_patterns.toml"} <= wheel_names
    assert "bot/store/migrations/env.py" in wheel_names
    assert any(n.startswith("bot/store/migrations/versions/r") for n in wheel_names)
    assert any(n.endswith(".dist-info/entry_points.txt") for n in wheel_names)


def test_nothing_but_the_packages(wheel_names: set[str]) -> None:
    tops = {name.split("/", 1)[0] for name in wheel_names}
    assert {t for t in tops if not t.endswith(".dist-info")} == set(PACKAGES)
