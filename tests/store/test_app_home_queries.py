"""The store queries behind App Home: a person's last checks, every running watch."""

from __future__ import annotations

from datetime import timedelta

from bot.store import Store
from tests.store.test_store import T0, dnsbl_report


def test_recent_reports_are_one_persons_newest_first(store: Store) -> None:
    for minute in range(12):
        report = dnsbl_report([], ["bl.spamcop.net"], verdict="ok")
        report["target"] = f"51.158.10.{minute + 1}"
        store.save_report(report, user_id="U_ANA", now=T0 + timedelta(minutes=minute))
    store.save_report(dnsbl_report(["bl.spamcop.net"], []), user_id="U_BOB", now=T0)

    mine = store.recent_reports("U_ANA")
    assert [r.target for r in mine] == [f"51.158.10.{n}" for n in range(12, 2, -1)]
    assert {r.user_id for r in mine} == {"U_ANA"}
    assert [r.target for r in store.recent_reports("U_BOB", limit=5)] == ["51.158.10.22"]
    assert store.recent_reports("U_NOBODY") == []


def test_active_watches_span_every_channel_and_leave_stopped_ones_out(store: Store) -> None:
    first = store.add_watch("51.158.10.22", channel_id="C_ONE", thread_ts="1.1", now=T0)
    second = store.add_watch(
        "51.158.10.23", channel_id="C_TWO", thread_ts="2.2", now=T0 + timedelta(minutes=1)
    )
    stopped = store.add_watch("51.158.10.24", channel_id="C_ONE", now=T0 + timedelta(minutes=2))
    store.stop_watch_by_id(stopped.id)

    assert [w.id for w in store.active_watches()] == [first.id, second.id]


def test_get_report_by_id(store: Store) -> None:
    saved = store.save_report(dnsbl_report(["bl.spamcop.net"], []), user_id="U_ANA", now=T0)
    found = store.get_report(saved.id)
    assert found is not None and found.report["verdict"] == "fail" and found.user_id == "U_ANA"
    assert store.get_report(saved.id + 1000) is None
