"""Directories that turn read-only or full under a running program, for SQLite's faults.

As root (this machine's tests run as root) `chmod` cannot stop a write, so a read-only
directory is a read-only bind mount of itself, and a full disk a tiny tmpfs filled up.
Without the right to mount, the tests that need one fail loudly rather than pass.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


@contextmanager
def bind_mount(path: Path) -> Iterator[Path]:
    """`path` bind-mounted onto itself, so it can be flipped read-only and back."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(path), str(path))
    try:
        yield path
    finally:
        _umount(path)


def read_only(path: Path, on: bool = True) -> None:
    """Make the bind mount at `path` read-only (or writable again)."""
    _mount("-o", f"remount,{'ro' if on else 'rw'},bind", str(path))


@contextmanager
def read_only_over(path: Path) -> Iterator[Path]:
    """`path` read-only from now until the block ends, even under a program that has files
    open in it: a fresh read-only bind mount on top (new journals, new files fail)."""
    with bind_mount(path):
        read_only(path)
        yield path


@contextmanager
def tiny_disk(path: Path, size_kib: int = 400) -> Iterator[Path]:
    """A tmpfs of `size_kib` KiB at `path`."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path))
    try:
        yield path
    finally:
        _umount(path)


def fill(path: Path) -> None:
    """Write a file in `path` until the disk is full."""
    fd = os.open(path / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def corrupt(database: Path) -> None:
    """Overwrite a SQLite file's header and first pages with noise."""
    with open(database, "r+b") as out:
        out.write(b"this is not a database file" * 400)
