"""Monitors in the store: whole ranges and egress pools, each run split into claimable chunks.

Why chunks: one run of a pool can be thousands of addresses. A run starts by writing its
chunks (64 addresses each); every replica claims pending chunks (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite) under a lease, checks them and marks
them done, so two replicas share one run's work. The replica that finishes the last
chunk closes the run (a compare-and-set on `finished_run`, so exactly one does) and is
the one that tells the thread. A replica that dies mid-chunk loses its lease and the
chunk is claimed again. A new run starts only once the previous one is finished: runs
never overlap and each runs exactly once.

`told` is the listing state the thread was last told, and moves only after Slack took
the post: a change that could not be posted is posted by the next run (at least once).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.store.schema import monitor_chunks, monitors

#: 15 minutes at most often, once a day at least; one hour by default.
MONITOR_MIN_INTERVAL = 15 * 60
MONITOR_DEFAULT_INTERVAL = 60 * 60
MONITOR_MAX_INTERVAL = 24 * 60 * 60
#: Addresses per chunk: small enough that two replicas share a /24, big enough that a
#: /22 is 16 rows, not 1,024.
CHUNK_SIZE = 64

MonitorState = Literal["active", "stopped"]
#: address -> names of the lists that list it.
Listing = dict[str, list[str]]


class MonitorExistsError(Exception):
    """There is already an active monitor of this range or pool in this channel."""

    def __init__(self, monitor: Monitor) -> None:
        super().__init__(f"already monitoring {monitor.target} in this channel")
        self.monitor = monitor


class MonitorIntervalError(ValueError):
    """A monitor interval outside 15 minutes .. 24 hours."""


@dataclass(frozen=True)
class Monitor:
    """One monitor. `thread_ts` is the thread its changes are posted in."""

    id: int
    target: str
    networks: list[str]
    addresses: int
    channel_id: str
    thread_ts: str
    user_id: str | None
    every_seconds: int
    next_due_at: datetime
    created_at: datetime
    state: MonitorState
    stopped_reason: str | None
    stopped_at: datetime | None
    runs: int
    finished_run: int
    last_run_at: datetime | None
    seen: Listing | None
    told: Listing | None
    last_run_by: dict[str, int] | None

    @property
    def listed_now(self) -> int:
        """Addresses the last finished run found listed (0 before the first run)."""
        return len(self.seen or {})


@dataclass(frozen=True)
class Chunk:
    """A claimed slice of one run: `count` addresses of `network` from address number `first`."""

    monitor_id: int
    run: int
    chunk: int
    network: str
    first: int
    count: int

    def addresses(self) -> list[str]:
        net = ipaddress.IPv4Network(self.network)
        start = int(net.network_address) + self.first
        return [str(ipaddress.IPv4Address(start + n)) for n in range(self.count)]


@dataclass(frozen=True)
class FinishedRun:
    """A run whose chunks are all done: what it saw, and what the thread was last told."""

    monitor: Monitor
    run: int
    seen: Listing
    #: address -> lists that could not be asked about it (their state is carried forward).
    unknown: Listing
    unchecked: int


class _HasTransactions(Protocol):
    owner: str

    def _tx(self) -> AbstractContextManager[Connection]: ...


def _monitor(row: sa.RowMapping) -> Monitor:
    return Monitor(**{name: row[name] for name in Monitor.__dataclass_fields__})


def _get(conn: Connection, monitor_id: int) -> Monitor:
    row = conn.execute(sa.select(monitors).where(monitors.c.id == monitor_id)).mappings().one()
    return _monitor(row)


def _active(conn: Connection, target: str, channel_id: str) -> Monitor | None:
    row = (
        conn.execute(
            sa.select(monitors).where(
                monitors.c.target == target,
                monitors.c.channel_id == channel_id,
                monitors.c.state == "active",
            )
        )
        .mappings()
        .first()
    )
    return _monitor(row) if row else None


def chunks_of(networks: Sequence[str], size: int = CHUNK_SIZE) -> Iterator[tuple[str, int, int]]:
    """(network, first, count) slices covering every address of `networks`, in order."""
    for text in networks:
        total = ipaddress.IPv4Network(text).num_addresses
        for first in range(0, total, size):
            yield text, first, min(size, total - first)


class MonitorStore:
    """The monitor half of `bot.store.Store` (which provides `_tx` and `owner`)."""

    def add_monitor(
        self: _HasTransactions,
        target: str,
        networks: Sequence[str],
        *,
        channel_id: str,
        thread_ts: str,
        user_id: str | None = None,
        every_seconds: int = MONITOR_DEFAULT_INTERVAL,
        now: datetime,
    ) -> Monitor:
        """Start monitoring; the first run is due at once (it posts what is listed now).

        Raises MonitorIntervalError, MonitorExistsError.
        """
        if not MONITOR_MIN_INTERVAL <= every_seconds <= MONITOR_MAX_INTERVAL:
            raise MonitorIntervalError(
                "A monitor re-checks every 15 minutes at most often and once a day at least, "
                f"not every {every_seconds} seconds."
            )
        addresses = sum(ipaddress.IPv4Network(n).num_addresses for n in networks)
        values = {
            "target": target,
            "networks": list(networks),
            "addresses": addresses,
            "channel_id": channel_id,
            "thread_ts": thread_ts,
            "user_id": user_id,
            "every_seconds": every_seconds,
            "next_due_at": now,
            "created_at": now,
            "state": "active",
            "runs": 0,
            "finished_run": 0,
        }
        try:
            with self._tx() as conn:
                existing = _active(conn, target, channel_id)
                if existing is not None:
                    raise MonitorExistsError(existing)
                key = conn.execute(sa.insert(monitors).values(**values)).inserted_primary_key
                assert key is not None
                return _get(conn, int(key[0]))
        except IntegrityError:  # another replica added the same monitor a moment ago
            with self._tx() as conn:
                existing = _active(conn, target, channel_id)
            if existing is None:
                raise
            raise MonitorExistsError(existing) from None

    def active_monitor(self: _HasTransactions, target: str, channel_id: str) -> Monitor | None:
        with self._tx() as conn:
            return _active(conn, target, channel_id)

    def get_monitor(self: _HasTransactions, monitor_id: int) -> Monitor | None:
        with self._tx() as conn:
            row = (
                conn.execute(sa.select(monitors).where(monitors.c.id == monitor_id))
                .mappings()
                .first()
            )
        return _monitor(row) if row else None

    def list_monitors(
        self: _HasTransactions, channel_id: str | None = None, *, active_only: bool = True
    ) -> list[Monitor]:
        """Monitors of one channel, or of the whole workspace (None), oldest first.

        This is what App Home and `watch` (with no argument) list: target, channel,
        since (`created_at`), the last run's listed addresses (`seen`, `listed_now`).
        """
        query = sa.select(monitors).order_by(monitors.c.created_at, monitors.c.id)
        if channel_id is not None:
            query = query.where(monitors.c.channel_id == channel_id)
        if active_only:
            query = query.where(monitors.c.state == "active")
        with self._tx() as conn:
            return [_monitor(r) for r in conn.execute(query).mappings().all()]

    def monitor_listings(self: _HasTransactions) -> list[tuple[str, str, str, int]]:
        """(target, channel, list name, listed addresses) of every active monitor's last run."""
        out: list[tuple[str, str, str, int]] = []
        for monitor in MonitorStore.list_monitors(self):
            counts: dict[str, int] = {}
            for lists in (monitor.seen or {}).values():
                for name in lists:
                    counts[name] = counts.get(name, 0) + 1
            out += [(monitor.target, monitor.channel_id, n, c) for n, c in sorted(counts.items())]
        return out

    def stop_monitor(
        self: _HasTransactions, target: str, channel_id: str, *, reason: str, now: datetime
    ) -> Monitor | None:
        """Stop the channel's active monitor of `target`; None when there was none."""
        with self._tx() as conn:
            found = _active(conn, target, channel_id)
            if found is None:
                return None
            return _stop(conn, found.id, reason, now)

    def stop_monitor_by_id(
        self: _HasTransactions, monitor_id: int, *, reason: str, now: datetime
    ) -> Monitor | None:
        """The Stop button (App Home): None when it had already stopped."""
        with self._tx() as conn:
            row = (
                conn.execute(
                    sa.select(monitors.c.id).where(
                        monitors.c.id == monitor_id, monitors.c.state == "active"
                    )
                )
                .mappings()
                .first()
            )
            return _stop(conn, monitor_id, reason, now) if row else None

    # ---- runs --------------------------------------------------------------------------

    def start_due_runs(
        self: _HasTransactions, now: datetime, limit: int = 20, chunk_size: int = CHUNK_SIZE
    ) -> list[Monitor]:
        """Start the run of every due monitor whose previous run is finished, exactly once.

        In one transaction per call: lock the due rows nobody else holds (SKIP LOCKED),
        count the run, move `next_due_at` one interval on and write the run's chunks.
        """
        query = (
            sa.select(monitors)
            .where(
                monitors.c.state == "active",
                monitors.c.next_due_at <= now,
                monitors.c.finished_run == monitors.c.runs,
            )
            .order_by(monitors.c.next_due_at, monitors.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        started: list[Monitor] = []
        with self._tx() as conn:
            for row in conn.execute(query).mappings().all():
                due = _monitor(row)
                run = due.runs + 1
                moved = conn.execute(
                    sa.update(monitors)
                    .where(monitors.c.id == due.id, monitors.c.runs == due.runs)
                    .values(runs=run, next_due_at=now + timedelta(seconds=due.every_seconds))
                )
                if moved.rowcount != 1:
                    continue
                conn.execute(
                    sa.insert(monitor_chunks),
                    [
                        {
                            "monitor_id": due.id,
                            "run": run,
                            "chunk": n,
                            "network": network,
                            "first": first,
                            "count": count,
                            "state": "pending",
                        }
                        for n, (network, first, count) in enumerate(
                            chunks_of(due.networks, chunk_size)
                        )
                    ],
                )
                started.append(_get(conn, due.id))
        return started

    def claim_chunks(
        self: _HasTransactions, now: datetime, limit: int = 4, lease_seconds: int = 300
    ) -> list[Chunk]:
        """Pending chunks no replica holds (or whose holder's lease ran out), leased to us."""
        query = (
            sa.select(monitor_chunks)
            .where(
                monitor_chunks.c.state == "pending",
                sa.or_(monitor_chunks.c.lease_until.is_(None), monitor_chunks.c.lease_until <= now),
            )
            .order_by(monitor_chunks.c.monitor_id, monitor_chunks.c.run, monitor_chunks.c.chunk)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed: list[Chunk] = []
        with self._tx() as conn:
            for row in conn.execute(query).mappings().all():
                chunk = Chunk(**{name: row[name] for name in Chunk.__dataclass_fields__})
                conn.execute(
                    sa.update(monitor_chunks)
                    .where(*_chunk_key(chunk))
                    .values(
                        lease_owner=self.owner,
                        lease_until=now + timedelta(seconds=lease_seconds),
                    )
                )
                claimed.append(chunk)
        return claimed

    def finish_chunk(
        self: _HasTransactions,
        chunk: Chunk,
        listed: Mapping[str, Sequence[str]],
        unknown: Mapping[str, Sequence[str]],
        unchecked: int,
    ) -> bool:
        """Keep a chunk's result; False when it was no longer ours (the lease went elsewhere)."""
        with self._tx() as conn:
            done = conn.execute(
                sa.update(monitor_chunks)
                .where(
                    *_chunk_key(chunk),
                    monitor_chunks.c.state == "pending",
                    monitor_chunks.c.lease_owner == self.owner,
                )
                .values(
                    state="done",
                    done_by=self.owner,
                    lease_owner=None,
                    lease_until=None,
                    listed={
                        "listed": {ip: list(v) for ip, v in listed.items()},
                        "unknown": {ip: list(v) for ip, v in unknown.items()},
                    },
                    unchecked=unchecked,
                )
            )
            return done.rowcount == 1

    def release_chunk(self: _HasTransactions, chunk: Chunk) -> None:
        """Give a chunk back unchecked (its check failed): any replica takes it next round."""
        with self._tx() as conn:
            conn.execute(
                sa.update(monitor_chunks)
                .where(*_chunk_key(chunk), monitor_chunks.c.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )

    def finish_run(
        self: _HasTransactions, monitor_id: int, run: int, now: datetime
    ) -> FinishedRun | None:
        """Close `run` when all its chunks are done; exactly one caller gets it, others None."""
        with self._tx() as conn:
            row = (
                conn.execute(
                    sa.select(monitors).where(monitors.c.id == monitor_id).with_for_update()
                )
                .mappings()
                .first()
            )
            if row is None or row["finished_run"] >= run:
                return None
            chunks = (
                conn.execute(
                    sa.select(monitor_chunks).where(
                        monitor_chunks.c.monitor_id == monitor_id, monitor_chunks.c.run == run
                    )
                )
                .mappings()
                .all()
            )
            if not chunks or any(c["state"] != "done" for c in chunks):
                return None
            seen: Listing = {}
            unknown: Listing = {}
            by: dict[str, int] = {}
            for c in chunks:
                by[str(c["done_by"])] = by.get(str(c["done_by"]), 0) + 1
                result: dict[str, Any] = c["listed"] or {}
                seen.update(result.get("listed", {}))
                unknown.update(result.get("unknown", {}))
            closed = conn.execute(
                sa.update(monitors)
                .where(monitors.c.id == monitor_id, monitors.c.finished_run < run)
                .values(finished_run=run, seen=seen, last_run_at=now, last_run_by=by)
            )
            if closed.rowcount != 1:
                return None
            conn.execute(
                sa.delete(monitor_chunks).where(
                    monitor_chunks.c.monitor_id == monitor_id, monitor_chunks.c.run <= run
                )
            )
            return FinishedRun(
                monitor=_get(conn, monitor_id),
                run=run,
                seen=seen,
                unknown=unknown,
                unchecked=sum(int(c["unchecked"]) for c in chunks),
            )

    def mark_told(
        self: _HasTransactions, monitor_id: int, told: Mapping[str, Sequence[str]]
    ) -> None:
        """The thread was told this state (Slack accepted the post)."""
        with self._tx() as conn:
            conn.execute(
                sa.update(monitors)
                .where(monitors.c.id == monitor_id)
                .values(told={ip: list(v) for ip, v in told.items()})
            )

    def chunk_owners(self: _HasTransactions, monitor_id: int) -> dict[str, int]:
        """Chunks of a monitor's unfinished runs done by each replica (for tests and logs)."""
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(monitor_chunks.c.done_by, sa.func.count())
                .where(monitor_chunks.c.monitor_id == monitor_id)
                .group_by(monitor_chunks.c.done_by)
            ).all()
        return {str(owner): int(n) for owner, n in rows if owner}


def _chunk_key(chunk: Chunk) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        monitor_chunks.c.monitor_id == chunk.monitor_id,
        monitor_chunks.c.run == chunk.run,
        monitor_chunks.c.chunk == chunk.chunk,
    )


def _stop(conn: Connection, monitor_id: int, reason: str, now: datetime) -> Monitor:
    conn.execute(
        sa.update(monitors)
        .where(monitors.c.id == monitor_id)
        .values(state="stopped", stopped_reason=reason, stopped_at=now)
    )
    conn.execute(
        sa.delete(monitor_chunks).where(
            monitor_chunks.c.monitor_id == monitor_id, monitor_chunks.c.state == "pending"
        )
    )
    return _get(conn, monitor_id)
