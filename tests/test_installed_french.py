"""`pip install .` from a fresh clone answers in French: the catalogues ship in the wheel.

Builds the wheel from the repository's files (what a clone has), unpacks it, and runs
the terminal command from that copy, away from the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def clone_files(into: Path) -> None:
    """The files a clone would have (tracked, or new and not ignored), copied to `into`."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def test_the_wheel_ships_french_and_the_installed_copy_speaks_it(tmp_path: Path) -> None:
    source = tmp_path / "clone"
    clone_files(source)
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("smtpcheck-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "site")
    assert "handlers/locale/fr/LC_MESSAGES/smtpcheck.mo" in names
    assert "handlers/locale/fr/LC_MESSAGES/smtpcheck.po" in names

    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LC_", "LANG", "SMTPCHECK_"))
    }
    env["PYTHONPATH"] = str(tmp_path / "site")
    run = subprocess.run(
        [sys.executable, "-c", "import handlers; print(handlers.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.startswith(str(tmp_path / "site")), "ran the source tree, not the wheel"
    for flags, extra in (
        (["--lang", "fr"], {}),
        ([], {"SMTPCHECK_LANGUAGE": "fr"}),
        ([], {"LANG": "fr_FR.UTF-8"}),
    ):
        said = subprocess.run(
            [sys.executable, "-m", "bot.terminal.cli", *flags, "watch", "51.158.10.22"],
            cwd=tmp_path,
            env={**env, **extra},
            capture_output=True,
            text=True,
        )
        assert said.returncode == 3
        assert "Les surveillances rendent compte dans un fil Slack" in said.stderr, said.stderr
    english = subprocess.run(
        [sys.executable, "-m", "bot.terminal.cli", "watch", "51.158.10.22"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "Watches report in a Slack thread" in english.stderr
