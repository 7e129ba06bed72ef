"""Reports and watches, kept in SQLite or PostgreSQL through one SQLAlchemy Core schema.

Why rows: the history must outlive the process, and watches must survive a restart
and run exactly once when several replicas share PostgreSQL. Claiming due watches
locks them (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite transactions
start with `BEGIN IMMEDIATE`, one writer at a time) and moves `next_due_at` and a lease
in the same transaction, so no other replica can claim the same run.

The API is synchronous and thread-safe (every call takes its own connection from
the engine's pool); the asyncio bot calls it through `asyncio.to_thread`.
All times are timezone-aware UTC in Python and naive UTC in the database.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError

from bot.changes import changes, check_kind, same_check
from bot.store import sqlite_file
from bot.store.monitors import MonitorStore
from bot.store.schema import deliveries, reports, watches
from handlers import i18n
from handlers.i18n import N_, _

DEFAULT_URL = "sqlite:///smtpcheck.db"
MIN_INTERVAL = 5 * 60
DEFAULT_INTERVAL = 15 * 60
MAX_INTERVAL = 24 * 60 * 60
WATCH_LIFETIME = timedelta(days=7)
#: Seconds between sweeps of expired deliveries (each replica sweeps on its own).
SWEEP_EVERY = 60.0
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

WatchState = Literal["active", "stopped", "expired", "clean"]


class StoreError(Exception):
    """The database cannot be used (bad URL, unreachable, migration failed)."""


class WatchIntervalError(ValueError):
    """A watch interval outside 5 minutes .. 24 hours."""


class WatchExistsError(Exception):
    """There is already an active watch for this address in this thread."""

    def __init__(self, watch: Watch) -> None:
        super().__init__(f"already watching {watch.target} here (every {watch.every_seconds}s)")
        self.watch = watch


@dataclass(frozen=True)
class ReportRow:
    """One stored report."""

    id: int
    target: str
    domain: str | None
    created_at: datetime
    user_id: str | None
    channel_id: str | None
    thread_ts: str | None
    verdict: str
    report: dict[str, Any]


@dataclass(frozen=True)
class HistoryEntry:
    """A stored report and what changed since the previous report of the same check (same
    kind, mail domain and port: `bot.changes.same_check`); empty when there is none."""

    row: ReportRow
    changes: list[str]
    #: The report `changes` compare against (None: no earlier report of the same check).
    previous: ReportRow | None = None


@dataclass(frozen=True)
class Watch:
    """One watch. `thread_ts` is "" for a watch posted to the channel itself."""

    id: int
    target: str
    domain: str | None
    channel_id: str
    thread_ts: str
    user_id: str | None
    every_seconds: int
    next_due_at: datetime
    created_at: datetime
    expires_at: datetime
    last_report: dict[str, Any] | None
    state: WatchState
    stopped_reason: str | None
    stopped_at: datetime | None
    runs: int
    lease_owner: str | None
    lease_until: datetime | None


def normalise_url(url: str) -> str:
    """`postgresql://` / `postgres://` mean psycopg 3; anything else as given."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def normalise_target(target: str) -> str:
    """One spelling per address (compressed IPv6, lower case) so history finds it."""
    text = target.strip().rstrip(".")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.lower()


def alembic_config(url: str | None = None) -> Config:
    """The Alembic configuration, built in code: independent of CWD and alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def _now() -> datetime:
    return datetime.now(UTC)


class Store(MonitorStore):
    """Reports, watches and monitors in one database. Open with `Store.open(url)`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: This replica's name on the leases it takes.
        self.owner = uuid.uuid4().hex
        self._next_sweep = 0.0

    @classmethod
    def open(cls, url: str = DEFAULT_URL) -> Store:
        """Connect and bring the schema to the newest revision (migrations run here)."""
        try:
            engine = create_engine(url)
            store = cls(engine)
            store.migrate()
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot use the database {_safe(url)}: {_first_line(exc)}") from exc
        return store

    def migrate(self) -> None:
        """`alembic upgrade head` on this store's engine."""
        config = alembic_config()
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()

    @property
    def shared(self) -> bool:
        """Whether several processes (replicas) can share this database: not SQLite's file."""
        return self.engine.dialect.name != "sqlite"

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    # ---- reports -----------------------------------------------------------------

    def save_report(
        self,
        report: Mapping[str, Any],
        *,
        domain: str | None = None,
        user_id: str | None = None,
        channel_id: str | None = None,
        thread_ts: str | None = None,
        now: datetime | None = None,
    ) -> ReportRow:
        """Keep one JSON report (target and verdict are read from it)."""
        with self._tx() as conn:
            return _insert_report(
                conn, report, domain, user_id, channel_id, thread_ts, now or _now()
            )

    def latest_report(self, target: str) -> ReportRow | None:
        """The newest stored report for `target` (what a Re-check compares against)."""
        rows = self._reports(target, 1)
        return rows[0] if rows else None

    def history(self, target: str, limit: int = 10) -> list[HistoryEntry]:
        """The newest `limit` reports for `target`, newest first, each with what changed since
        the previous report of the same check: a PTR-only check is not compared with a full
        one, nor a check of one mail domain with another's (looked for among older rows)."""
        rows = self._reports(target, limit + HISTORY_LOOKBACK)
        out = []
        for i, row in enumerate(rows[:limit]):
            before = next((r for r in rows[i + 1 :] if same_check(r.report, row.report)), None)
            if before is None:
                out.append(HistoryEntry(row, []))
                continue
            out.append(HistoryEntry(row, changes(before.report, row.report), before))
        return out

    def get_report(self, report_id: int) -> ReportRow | None:
        """One stored report by id (what an App Home Re-check compares against)."""
        with self._tx() as conn:
            row = conn.execute(sa.select(reports).where(reports.c.id == report_id)).mappings()
            found = row.first()
            return _report_row(found) if found else None

    def recent_reports(self, user_id: str, limit: int = 10) -> list[ReportRow]:
        """The newest `limit` reports `user_id` asked for, newest first (their App Home)."""
        query = (
            sa.select(reports)
            .where(reports.c.user_id == user_id)
            .order_by(reports.c.created_at.desc(), reports.c.id.desc())
            .limit(limit)
        )
        with self._tx() as conn:
            return [_report_row(r) for r in conn.execute(query).mappings()]

    def _reports(self, target: str, limit: int) -> list[ReportRow]:
        query = (
            sa.select(reports)
            .where(reports.c.target == normalise_target(target))
            .order_by(reports.c.created_at.desc(), reports.c.id.desc())
            .limit(limit)
        )
        with self._tx() as conn:
            return [_report_row(r) for r in conn.execute(query).mappings()]

    # ---- deliveries --------------------------------------------------------------

    def first_delivery(self, key: str, expires_at: datetime, now: datetime | None = None) -> bool:
        """Record `key` until `expires_at`; True for the first replica that records it.

        Insert-if-absent (ON CONFLICT DO NOTHING / INSERT OR IGNORE), so two replicas given
        the same delivery at the same moment cannot both win. Expired keys are swept.
        """
        now = now or _now()
        dialect = self.engine.dialect.name
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(deliveries)
        with self._tx() as conn:
            if time.monotonic() >= self._next_sweep:
                self._next_sweep = time.monotonic() + SWEEP_EVERY
                conn.execute(sa.delete(deliveries).where(deliveries.c.expires_at <= now))
            else:
                conn.execute(
                    sa.delete(deliveries).where(
                        deliveries.c.key == key, deliveries.c.expires_at <= now
                    )
                )
            won = conn.execute(
                insert.values(key=key, expires_at=expires_at)
                .on_conflict_do_nothing()
                .returning(deliveries.c.key)
            ).first()
            return won is not None

    # ---- watches -----------------------------------------------------------------

    def add_watch(
        self,
        target: str,
        *,
        channel_id: str,
        thread_ts: str | None = None,
        domain: str | None = None,
        user_id: str | None = None,
        every_seconds: int = DEFAULT_INTERVAL,
        last_report: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Watch:
        """Start watching `target` in a thread; the first run is one interval from now.

        `last_report` is the baseline changes are reported against; without one, the
        newest stored report for the address. Raises WatchIntervalError, WatchExistsError.
        """
        if not MIN_INTERVAL <= every_seconds <= MAX_INTERVAL:
            raise WatchIntervalError(
                f"A watch re-checks every 5 minutes at least and once a day at most, "
                f"not every {every_seconds} seconds."
            )
        now = now or _now()
        target = normalise_target(target)
        thread = thread_ts or ""
        if last_report is None:
            latest = self.latest_report(target)
            last_report = latest.report if latest else None
        values = {
            "target": target,
            "domain": domain,
            "channel_id": channel_id,
            "thread_ts": thread,
            "user_id": user_id,
            "every_seconds": every_seconds,
            "next_due_at": now + timedelta(seconds=every_seconds),
            "created_at": now,
            "expires_at": now + WATCH_LIFETIME,
            "last_report": dict(last_report) if last_report is not None else None,
            "state": "active",
            "runs": 0,
        }
        try:
            with self._tx() as conn:
                existing = _active(conn, target, channel_id, thread)
                if existing is not None:
                    raise WatchExistsError(existing)
                new_id = conn.execute(sa.insert(watches).values(**values)).inserted_primary_key
                assert new_id is not None
                return _get_watch(conn, int(new_id[0]))
        except IntegrityError:  # another replica added the same watch a moment ago
            with self._tx() as conn:
                existing = _active(conn, target, channel_id, thread)
            if existing is None:
                raise
            raise WatchExistsError(existing) from None

    def get_watch(self, watch_id: int) -> Watch | None:
        with self._tx() as conn:
            row = (
                conn.execute(sa.select(watches).where(watches.c.id == watch_id)).mappings().first()
            )
            return _watch(row) if row else None

    def list_watches(self, channel_id: str, *, active_only: bool = True) -> list[Watch]:
        """The channel's watches, oldest first (only the active ones by default)."""
        query = sa.select(watches).where(watches.c.channel_id == channel_id)
        if active_only:
            query = query.where(watches.c.state == "active")
        with self._tx() as conn:
            rows = conn.execute(query.order_by(watches.c.created_at, watches.c.id)).mappings()
            return [_watch(r) for r in rows]

    def active_watches(self) -> list[Watch]:
        """Every active watch of the installation, oldest first (what App Home lists)."""
        query = sa.select(watches).where(watches.c.state == "active")
        with self._tx() as conn:
            rows = conn.execute(query.order_by(watches.c.created_at, watches.c.id)).mappings()
            return [_watch(r) for r in rows]

    def stop_watch(
        self,
        target: str,
        channel_id: str,
        thread_ts: str | None = None,
        *,
        reason: str = "stopped on request",
        now: datetime | None = None,
    ) -> list[Watch]:
        """Stop the active watch(es) of `target` in the channel (in one thread if given)."""
        where = [
            watches.c.target == normalise_target(target),
            watches.c.channel_id == channel_id,
            watches.c.state == "active",
        ]
        if thread_ts is not None:
            where.append(watches.c.thread_ts == thread_ts)
        return self._stop(sa.and_(*where), reason, now or _now())

    def stop_watch_by_id(
        self, watch_id: int, *, reason: str = "stopped on request", now: datetime | None = None
    ) -> Watch | None:
        """Stop one watch (a Stop button carries the id); None when it was not active."""
        stopped = self._stop(
            sa.and_(watches.c.id == watch_id, watches.c.state == "active"), reason, now or _now()
        )
        return stopped[0] if stopped else None

    def _stop(self, where: sa.ColumnElement[bool], reason: str, now: datetime) -> list[Watch]:
        with self._tx() as conn:
            ids = [
                r.id for r in conn.execute(sa.select(watches.c.id).where(where).with_for_update())
            ]
            if not ids:
                return []
            conn.execute(
                sa.update(watches)
                .where(watches.c.id.in_(ids), watches.c.state == "active")
                .values(state="stopped", stopped_reason=reason, stopped_at=now, lease_owner=None)
            )
            return [_get_watch(conn, i) for i in ids]

    def claim_due_watches(
        self, now: datetime, limit: int = 20, lease_seconds: int = 300
    ) -> list[Watch]:
        """Active watches due at `now` that this store (replica) now owns, exactly once.

        In one transaction: lock due rows other replicas have not locked (SKIP LOCKED),
        move `next_due_at` one interval on and lease them to this store until
        `now + lease_seconds`. A watch whose run outlives its interval is not claimed
        again while its lease holds.
        """
        lease_until = now + timedelta(seconds=lease_seconds)
        query = (
            sa.select(watches)
            .where(
                watches.c.state == "active",
                watches.c.next_due_at <= now,
                sa.or_(watches.c.lease_until.is_(None), watches.c.lease_until <= now),
            )
            .order_by(watches.c.next_due_at, watches.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed: list[Watch] = []
        with self._tx() as conn:
            for row in conn.execute(query).mappings().all():
                due = _watch(row)
                moved = conn.execute(
                    sa.update(watches)
                    .where(watches.c.id == due.id, watches.c.next_due_at == due.next_due_at)
                    .values(
                        next_due_at=_next_due(due, now),
                        lease_owner=self.owner,
                        lease_until=lease_until,
                    )
                )
                if moved.rowcount == 1:  # belt and braces: nobody moved it under us
                    claimed.append(_get_watch(conn, due.id))
        return claimed

    def record_watch_result(
        self,
        watch: Watch,
        report: Mapping[str, Any] | None,
        *,
        baseline: Mapping[str, Any] | None = None,
        state: WatchState = "active",
        reason: str | None = None,
        now: datetime | None = None,
    ) -> Watch | None:
        """Finish a claimed run: keep the report, the new baseline and the state; free the lease.

        None when the watch is no longer ours to finish (stopped meanwhile, or the lease
        went to another replica): the caller then posts nothing.
        """
        now = now or _now()
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_until": None,
            "runs": watches.c.runs + 1,
            "state": state,
        }
        if baseline is not None or report is not None:
            values["last_report"] = dict(baseline if baseline is not None else report or {})
        if state != "active":
            values["stopped_reason"] = reason
            values["stopped_at"] = now
        with self._tx() as conn:
            done = conn.execute(
                sa.update(watches)
                .where(
                    watches.c.id == watch.id,
                    watches.c.state == "active",
                    watches.c.lease_owner == self.owner,
                )
                .values(**values)
            )
            if done.rowcount != 1:
                return None
            if report is not None:
                _insert_report(
                    conn,
                    report,
                    watch.domain,
                    watch.user_id,
                    watch.channel_id,
                    watch.thread_ts or None,
                    now,
                )
            return _get_watch(conn, watch.id)

    def holds_lease(self, watch: Watch) -> bool:
        """Whether this store still holds the claim on an active `watch` (not stopped meanwhile)."""
        with self._tx() as conn:
            found = conn.execute(
                sa.select(watches.c.id).where(
                    watches.c.id == watch.id,
                    watches.c.state == "active",
                    watches.c.lease_owner == self.owner,
                )
            ).first()
        return found is not None

    def release_watch(self, watch: Watch) -> None:
        """Give a claimed watch back without a result (its check failed); it runs next interval."""
        with self._tx() as conn:
            conn.execute(
                sa.update(watches)
                .where(watches.c.id == watch.id, watches.c.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )


def create_engine(url: str) -> Engine:
    """An engine for `url`. SQLite transactions take the write lock at BEGIN (IMMEDIATE)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        trouble = sqlite_file.problem(Path(database).expanduser())
        if trouble is not None:
            raise StoreError(trouble)
    engine = sa.create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below decide when a transaction starts.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        # SQLite's plain BEGIN takes no lock until the first write: two claims could both
        # read the same due row. IMMEDIATE serialises writers, the SQLite form of FOR UPDATE.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


#: How many older reports `Store.history` looks through for the previous one of each check.
HISTORY_LOOKBACK = 40

#: Said under every history: summaries are the stored text, in the language of whoever
#: asked (a report keeps only its sentences, which cannot be re-rendered), and what
#: changed is said only between checks of the same kind.
HISTORY_NOTE = N_(
    "Summaries are shown as stored, in the language of the person who asked for each "
    "check. Changes compare each report with the previous check of the same kind and "
    "mail domain."
)


def history_json(entries: Sequence[HistoryEntry]) -> list[dict[str, Any]]:
    """The history as JSON: each report with its time, check, domain and what changed."""
    return [
        {
            "checked_at": e.row.created_at.astimezone(UTC).isoformat(timespec="seconds"),
            "target": e.row.target,
            "check": check_kind(e.row.report),
            "domain": e.row.domain,
            "verdict": e.row.verdict,
            "summary": _summary(e.row.report),
            "changes": list(e.changes),
            "compared_with": (
                e.previous.created_at.astimezone(UTC).isoformat(timespec="seconds")
                if e.previous
                else None
            ),
            "report": e.row.report,
        }
        for e in entries
    ]


def history_lines(entries: Sequence[HistoryEntry]) -> list[str]:
    """One line per report: "28 Nov 2026, 09:41 UTC  fail   full  example.com  Listed on 2 of 31 — ...".

    Times are UTC, written for the reader's locale and padded so the columns line up; the
    check and the mail domain ("-" for none) follow the verdict. Plain text: Slack
    renderers escape it like any other text.
    """
    lines = []
    stamps = [i18n.moment(entry.row.created_at.astimezone(UTC), seconds=False) for entry in entries]
    width = max((len(stamp) for stamp in stamps), default=0)
    for i, (entry, stamp) in enumerate(zip(entries, stamps, strict=True)):
        row = entry.row
        next_id = entries[i + 1].row.id if i + 1 < len(entries) else None
        kind = check_kind(row.report)
        line = (
            f"{stamp:<{width}}  {row.verdict:<5}  {kind:<4}  {row.domain or '-'}  "
            f"{_summary(row.report)}"
        )
        if entry.changes and entry.previous is not None:
            said = "; ".join(entry.changes)
            if entry.previous.id != next_id:  # not the line below: say which report it is
                since = i18n.moment(entry.previous.created_at.astimezone(UTC), seconds=False)
                said = _("since the {kind} check of {when}: {changes}").format(
                    kind=kind, when=since, changes=said
                )
            line += " — " + said
        lines.append(line.rstrip())
    return lines


def _summary(report: Mapping[str, Any]) -> str:
    checks = report.get("checks")
    if not isinstance(checks, Mapping):
        return ""
    dnsbl = checks.get("dnsbl")
    if isinstance(dnsbl, Mapping) and dnsbl.get("status") != "skipped" and dnsbl.get("summary"):
        return str(dnsbl["summary"])
    for check in checks.values():
        if isinstance(check, Mapping) and check.get("status") != "skipped" and check.get("summary"):
            return str(check["summary"])
    return ""


def _next_due(watch: Watch, now: datetime) -> datetime:
    """One interval after now (a replica that was down does not run missed slots in a burst)."""
    return now + timedelta(seconds=watch.every_seconds)


def _insert_report(
    conn: Connection,
    report: Mapping[str, Any],
    domain: str | None,
    user_id: str | None,
    channel_id: str | None,
    thread_ts: str | None,
    now: datetime,
) -> ReportRow:
    target = report.get("target")
    if not isinstance(target, str) or not target:
        raise ValueError("a report without a target cannot be stored")
    if domain is None:
        spf = (report.get("checks") or {}).get("spf")
        domain = spf.get("domain") if isinstance(spf, Mapping) else None
    values = {
        "target": normalise_target(target),
        "domain": domain,
        "created_at": now,
        "user_id": user_id,
        "channel_id": channel_id,
        "thread_ts": thread_ts,
        "verdict": str(report.get("verdict") or "error"),
        "report": dict(report),
    }
    key = conn.execute(sa.insert(reports).values(**values)).inserted_primary_key
    assert key is not None
    return ReportRow(id=int(key[0]), **values)  # type: ignore[arg-type]


def _report_row(row: sa.RowMapping) -> ReportRow:
    return ReportRow(**{name: row[name] for name in ReportRow.__dataclass_fields__})


def _watch(row: sa.RowMapping) -> Watch:
    return Watch(**{name: row[name] for name in Watch.__dataclass_fields__})


def _get_watch(conn: Connection, watch_id: int) -> Watch:
    row = conn.execute(sa.select(watches).where(watches.c.id == watch_id)).mappings().one()
    return _watch(row)


def _active(conn: Connection, target: str, channel_id: str, thread: str) -> Watch | None:
    row = (
        conn.execute(
            sa.select(watches).where(
                watches.c.target == target,
                watches.c.channel_id == channel_id,
                watches.c.thread_ts == thread,
                watches.c.state == "active",
            )
        )
        .mappings()
        .first()
    )
    return _watch(row) if row else None


def _first_line(exc: Exception) -> str:
    """A driver error in one line (SQLAlchemy appends the statement and a help URL)."""
    lines = [line.strip() for line in str(exc).strip().splitlines()]
    return lines[0] if lines and lines[0] else type(exc).__name__


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"
