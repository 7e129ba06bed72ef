"""The store over SQLite (a temporary file) and the machine's PostgreSQL, the same tests for both.

Each PostgreSQL test gets its own schema (through `search_path` in the URL), dropped at
the end, so parallel runs do not collide. PostgreSQL must be reachable: these tests
fail, not skip, when it is not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.store import (
    Store,
    StoreError,
    WatchExistsError,
    WatchIntervalError,
    alembic_config,
    history_lines,
    metadata,
    normalise_url,
)

T0 = datetime(2026, 11, 28, 9, 41, tzinfo=UTC)


def dnsbl_report(listed: list[str], clean: list[str], verdict: str = "fail") -> dict[str, Any]:
    names = {"bl.spamcop.net": "SpamCop", "zen.spamhaus.org": "Spamhaus ZEN"}
    return {
        "target": "51.158.10.22",
        "verdict": verdict,
        "checks": {
            "dnsbl": {
                "status": "fail" if listed else "ok",
                "summary": f"Listed on {len(listed)} of 31 blocklists"
                if listed
                else "Not listed on any of 31 blocklists",
                "listed": [
                    {"zone": z, "list": names[z], "codes": ["127.0.0.2"], "meanings": []}
                    for z in listed
                ],
                "clean": clean,
                "unavailable": [],
            }
        },
        "advice": [],
        "checked_at": "2026-11-28T09:41:00+00:00",
        "duration_ms": 120.0,
        "resolver": "127.0.0.1:53",
    }


def test_postgresql_urls_use_psycopg_3() -> None:
    assert normalise_url("postgresql://u@db/x") == "postgresql+psycopg://u@db/x"
    assert normalise_url("postgres://u@db/x") == "postgresql+psycopg://u@db/x"
    assert normalise_url("sqlite:///smtpcheck.db") == "sqlite:///smtpcheck.db"


def test_migrations_from_empty(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        with store.engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            assert {"reports", "watches", "alembic_version"} <= tables
            context = MigrationContext.configure(conn)
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert context.get_current_revision() == head
            # The migrated schema is exactly the one the code uses: one schema, both dialects.
            assert compare_metadata(context, metadata) == []
        store.save_report(dnsbl_report(["bl.spamcop.net"], []), now=T0)
    finally:
        store.close()
    # Opening again (a restart) migrates nothing and keeps the data.
    again = Store.open(db_url)
    try:
        assert len(again.history("51.158.10.22")) == 1
    finally:
        again.close()


def test_migrations_do_not_depend_on_the_working_directory(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Store.open(db_url).close()
    assert not (tmp_path / "alembic.ini").exists()


def test_unusable_database_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot use the database"):
        Store.open("postgresql://postgres:secret@127.0.0.1:9/test?connect_timeout=2")
    try:
        Store.open("postgresql://postgres:secret@127.0.0.1:9/test?connect_timeout=2")
    except StoreError as exc:
        assert "secret" not in str(exc)


def test_history_lines_with_changes(store: Store) -> None:
    both = dnsbl_report(["zen.spamhaus.org", "bl.spamcop.net"], [])
    zen = dnsbl_report(["zen.spamhaus.org"], ["bl.spamcop.net"])
    none = dnsbl_report([], ["zen.spamhaus.org", "bl.spamcop.net"], verdict="ok")
    store.save_report(both, user_id="U1", channel_id="C1", thread_ts="1.1", now=T0)
    store.save_report(zen, now=T0 + timedelta(hours=2))
    store.save_report(zen, now=T0 + timedelta(hours=3))
    store.save_report(none, now=T0 + timedelta(days=1))
    store.save_report(dict(both, target="51.158.10.23"), now=T0)  # another address

    entries = store.history("51.158.10.22")
    assert [e.row.verdict for e in entries] == ["ok", "fail", "fail", "fail"]
    assert entries[-1].row.user_id == "U1" and entries[-1].row.thread_ts == "1.1"
    assert history_lines(entries) == [
        "29 Nov 2026, 09:41 UTC  ok     bl    -  Not listed on any of 31 blocklists — verdict fail → ok; "
        "delisted from Spamhaus ZEN",
        "28 Nov 2026, 12:41 UTC  fail   bl    -  Listed on 1 of 31 blocklists",
        "28 Nov 2026, 11:41 UTC  fail   bl    -  Listed on 1 of 31 blocklists — delisted from SpamCop",
        "28 Nov 2026, 09:41 UTC  fail   bl    -  Listed on 2 of 31 blocklists",
    ]
    # The limit counts lines; the oldest shown still compares with the one before it.
    two = store.history("51.158.10.22", limit=2)
    assert [e.changes for e in two] == [
        ["verdict fail → ok", "delisted from Spamhaus ZEN"],
        [],
    ]
    assert store.latest_report("51.158.10.22").report == none  # type: ignore[union-attr]
    assert store.history("51.158.10.99") == []


def test_ipv6_targets_have_one_spelling(store: Store) -> None:
    report = dict(dnsbl_report([], [], verdict="ok"), target="2a01:04f8:010a:0000::25")
    store.save_report(report, now=T0)
    assert len(store.history("2A01:4F8:10A::25")) == 1


def test_watch_interval_minimum_default_and_expiry(store: Store) -> None:
    with pytest.raises(WatchIntervalError):
        store.add_watch("51.158.10.22", channel_id="C1", every_seconds=299, now=T0)
    with pytest.raises(WatchIntervalError):
        store.add_watch("51.158.10.22", channel_id="C1", every_seconds=2 * 86400, now=T0)
    default = store.add_watch("51.158.10.22", channel_id="C1", thread_ts="1.1", now=T0)
    assert default.every_seconds == 900
    assert default.next_due_at == T0 + timedelta(minutes=15)
    assert default.expires_at == T0 + timedelta(days=7)
    fastest = store.add_watch("51.158.10.22", channel_id="C1", thread_ts="2.2", every_seconds=300)
    assert fastest.every_seconds == 300


def test_one_active_watch_per_target_and_thread(store: Store) -> None:
    first = store.add_watch("51.158.10.22", channel_id="C1", thread_ts="1.1", now=T0)
    with pytest.raises(WatchExistsError) as raised:
        store.add_watch("51.158.10.22", channel_id="C1", thread_ts="1.1", now=T0)
    assert raised.value.watch.id == first.id
    store.add_watch("51.158.10.22", channel_id="C1", thread_ts="9.9", now=T0)
    store.add_watch("51.158.10.23", channel_id="C1", thread_ts="1.1", now=T0)
    assert store.stop_watch("51.158.10.22", "C1", "1.1")[0].id == first.id
    again = store.add_watch("51.158.10.22", channel_id="C1", thread_ts="1.1", now=T0)
    assert again.id != first.id


def test_watch_baseline_is_the_last_stored_report(store: Store) -> None:
    report = dnsbl_report(["bl.spamcop.net"], [])
    store.save_report(report, now=T0)
    watch = store.add_watch("51.158.10.22", channel_id="C1", now=T0)
    assert watch.last_report == report
    given = dnsbl_report([], ["bl.spamcop.net"], verdict="ok")
    other = store.add_watch("51.158.10.22", channel_id="C1", thread_ts="1.1", last_report=given)
    assert other.last_report == given


def test_list_and_stop_watches(store: Store) -> None:
    a = store.add_watch("51.158.10.22", channel_id="C1", thread_ts="1.1", now=T0)
    b = store.add_watch("51.158.10.22", channel_id="C1", thread_ts="2.2", now=T0)
    c = store.add_watch("51.158.10.23", channel_id="C1", now=T0 + timedelta(seconds=1))
    store.add_watch("51.158.10.22", channel_id="C2", now=T0)
    assert [w.id for w in store.list_watches("C1")] == [a.id, b.id, c.id]
    # Unwatch in a thread stops that thread's watch; in the channel, every watch of the address.
    assert [w.id for w in store.stop_watch("51.158.10.22", "C1", "2.2", now=T0)] == [b.id]
    stopped = store.stop_watch("51.158.10.22", "C1", reason="unwatch by U1", now=T0)
    assert [(w.id, w.state, w.stopped_reason) for w in stopped] == [
        (a.id, "stopped", "unwatch by U1")
    ]
    assert store.stop_watch("51.158.10.22", "C1") == []
    assert [w.id for w in store.list_watches("C1")] == [c.id]
    assert len(store.list_watches("C1", active_only=False)) == 3
    assert store.stop_watch_by_id(c.id) is not None
    assert store.stop_watch_by_id(c.id) is None
    assert len(store.list_watches("C2")) == 1


def test_claim_moves_the_watch_on_and_leases_it(store: Store) -> None:
    watch = store.add_watch("51.158.10.22", channel_id="C1", every_seconds=600, now=T0)
    assert store.claim_due_watches(T0 + timedelta(minutes=9)) == []
    due = T0 + timedelta(minutes=10)
    [claimed] = store.claim_due_watches(due, lease_seconds=120)
    assert claimed.id == watch.id
    assert claimed.next_due_at == due + timedelta(minutes=10)
    assert claimed.lease_owner == store.owner and claimed.lease_until == due + timedelta(minutes=2)
    assert store.claim_due_watches(due) == []

    report = dnsbl_report([], ["bl.spamcop.net"], verdict="ok")
    done = store.record_watch_result(claimed, report, now=due)
    assert done is not None and done.lease_owner is None and done.runs == 1
    assert done.last_report == report
    assert store.history("51.158.10.22")[0].row.channel_id == "C1"
    # Recording twice is refused: the lease is gone.
    assert store.record_watch_result(claimed, report, now=due) is None


def test_a_lease_keeps_a_slow_run_from_running_twice(db_url: str) -> None:
    one, two = Store.open(db_url), Store.open(db_url)
    try:
        one.add_watch("51.158.10.22", channel_id="C1", every_seconds=300, now=T0)
        due = T0 + timedelta(minutes=5)
        [claimed] = one.claim_due_watches(due, lease_seconds=900)
        # One interval later the run is still going: nobody may start another.
        assert two.claim_due_watches(due + timedelta(minutes=5)) == []
        # The replica died: once its lease is over, another replica takes the watch.
        [taken] = two.claim_due_watches(due + timedelta(minutes=15))
        assert taken.id == claimed.id and taken.lease_owner == two.owner
        assert one.record_watch_result(claimed, None, now=due) is None
    finally:
        one.close()
        two.close()


def test_result_after_unwatch_is_not_recorded(store: Store) -> None:
    store.add_watch("51.158.10.22", channel_id="C1", now=T0)
    [claimed] = store.claim_due_watches(T0 + timedelta(minutes=15))
    store.stop_watch("51.158.10.22", "C1")
    assert store.record_watch_result(claimed, dnsbl_report([], []), now=T0) is None
    assert store.history("51.158.10.22") == []


def test_stopped_and_finished_watches_are_never_claimed(store: Store) -> None:
    a = store.add_watch("51.158.10.22", channel_id="C1", now=T0)
    store.add_watch("51.158.10.23", channel_id="C1", now=T0)
    store.stop_watch_by_id(a.id)
    [b] = store.claim_due_watches(T0 + timedelta(hours=1))
    finished = store.record_watch_result(b, None, state="expired", reason="7 days passed", now=T0)
    assert finished is not None and finished.state == "expired"
    assert finished.stopped_reason == "7 days passed"
    assert store.claim_due_watches(T0 + timedelta(days=30)) == []


def test_a_delivery_is_first_once_until_it_expires(store: Store) -> None:
    until = T0 + timedelta(minutes=10)
    assert store.first_delivery("a" * 64, until, now=T0) is True
    assert store.first_delivery("a" * 64, until, now=T0 + timedelta(minutes=1)) is False
    assert store.first_delivery("b" * 64, until, now=T0) is True
    # Past its expiry the key is forgotten (swept), so the record stays bounded.
    later = T0 + timedelta(minutes=11)
    assert store.first_delivery("a" * 64, later + timedelta(minutes=10), now=later) is True


def test_two_stores_agree_on_the_first_delivery(db_url: str) -> None:
    """Two replicas given the same delivery at once: exactly one of them runs it."""
    from concurrent.futures import ThreadPoolExecutor

    stores = [Store.open(db_url), Store.open(db_url)]
    try:
        keys = [f"{n:064x}" for n in range(40)]
        until = T0 + timedelta(minutes=10)
        with ThreadPoolExecutor(8) as pool:
            wins = list(
                pool.map(
                    lambda job: job[0].first_delivery(job[1], until, now=T0),
                    [(s, k) for k in keys for s in stores],
                )
            )
        assert sum(wins) == len(keys)
    finally:
        for s in stores:
            s.close()
