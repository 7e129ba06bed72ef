"""Why a SQLite database file cannot be used, in words an operator can act on.

SQLite reports a missing or unwritable directory only as "unable to open database file".
It needs the directory itself writable, not just the file: the journal is created beside
the database. The usual cause is a container whose /data is a host directory owned by
root while the bot runs as its own user, so the message names both owners and the fix.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def problem(database: Path) -> str | None:
    """What stops this process from writing `database` (creating its directory first), or None."""
    directory = database.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create the directory {directory} for the SQLite database {database}: {exc.strerror}"
    if not os.access(directory, os.W_OK | os.X_OK):
        return _unwritable(directory, database)
    if database.exists() and not os.access(database, os.R_OK | os.W_OK):
        return _unwritable(database, database)
    return None


def _unwritable(path: Path, database: Path) -> str:
    uid, gid = os.getuid(), os.getgid()
    remedies = "or set SMTPCHECK_DATABASE_URL to a PostgreSQL database"
    if _read_only(path):
        return (
            f"{path} is on a read-only file system, so the SQLite database {database} cannot be "
            f"written: mount a writable volume there, {remedies}"
        )
    info = path.stat()
    owner = f"uid {info.st_uid}, gid {info.st_gid}, mode {stat.S_IMODE(info.st_mode):o}"
    return (
        f"this process (uid {uid}, gid {gid}) cannot write to {path} ({owner}), where the "
        f"SQLite database {database} lives. If {path} is a host directory mounted into a "
        f"container, give it to this user on the host (chown {uid}:{gid} DIRECTORY), use a "
        f"named volume instead, {remedies}"
    )


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
