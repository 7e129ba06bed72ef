"""What changed between two JSON reports: the sentences Re-check, history and watches show."""

from __future__ import annotations

import copy
from typing import Any

from bot.changes import carry_forward, changes, diff, is_clean, material

ZEN = {
    "zone": "zen.spamhaus.org",
    "list": "Spamhaus ZEN",
    "codes": ["127.0.0.2"],
    "meanings": ["SBL: Spamhaus Block List, a known spam source"],
}
SPAMCOP = {"zone": "bl.spamcop.net", "list": "SpamCop", "codes": ["127.0.0.2"], "meanings": []}
BARRACUDA = "b.barracudacentral.org"


def report(
    listed: list[dict[str, Any]] | None = None,
    clean: list[str] | None = None,
    unavailable: list[dict[str, Any]] | None = None,
    ptr: dict[str, Any] | None = None,
    spf: dict[str, Any] | None = None,
    verdict: str = "fail",
    **extra: Any,
) -> dict[str, Any]:
    """A JSON report as INTERFACE.md writes it."""
    return {
        "target": "51.158.10.22",
        "verdict": verdict,
        "checks": {
            "dnsbl": {
                "status": "fail" if listed else "ok",
                "summary": f"Listed on {len(listed or [])} of 3 blocklists",
                "listed": listed or [],
                "clean": clean if clean is not None else [],
                "unavailable": unavailable or [],
            },
            "ptr": ptr
            or {
                "status": "ok",
                "summary": "mail.example-mail.net confirms",
                "names": ["mail.example-mail.net"],
                "forward_confirmed": True,
                "generic": False,
            },
            "spf": spf
            or {
                "status": "skipped",
                "summary": "no domain",
                "domain": None,
                "result": None,
                "record": None,
            },
        },
        "advice": [],
        "checked_at": "2026-11-28T09:41:00+00:00",
        "duration_ms": 812.4,
        "resolver": "127.0.0.1:5300",
        **extra,
    }


def spf(result: str, record: str | None = "v=spf1 ip4:51.158.10.0/24 -all") -> dict[str, Any]:
    status = {"pass": "ok", "fail": "fail", "softfail": "warn", "temperror": "error"}[result]
    return {
        "status": status,
        "summary": result,
        "domain": "example-mail.net",
        "result": result,
        "record": record,
    }


def ptr(
    names: list[str], confirmed: bool, generic: bool = False, status: str = ""
) -> dict[str, Any]:
    return {
        "status": status or ("ok" if confirmed and names else "fail"),
        "summary": "",
        "names": names,
        "forward_confirmed": confirmed,
        "generic": generic,
    }


def test_times_durations_and_resolver_are_not_changes() -> None:
    old = report([ZEN], ["bl.spamcop.net"])
    new = copy.deepcopy(old)
    new.update(checked_at="2026-11-29T10:00:00+00:00", duration_ms=3.0, resolver="other")
    assert changes(old, new) == []
    assert not material(old, new)


def test_no_old_report_means_nothing_to_compare() -> None:
    assert changes(None, report([ZEN])) == []


def test_delisting_names_the_list_and_the_verdict() -> None:
    old = report([ZEN, SPAMCOP], [BARRACUDA])
    new = report([ZEN], [BARRACUDA, "bl.spamcop.net"])
    assert changes(old, new) == ["delisted from SpamCop"]
    cleaned = report([], [BARRACUDA, "bl.spamcop.net", "zen.spamhaus.org"], verdict="ok")
    assert changes(old, cleaned) == [
        "verdict fail → ok",
        "delisted from Spamhaus ZEN (SBL)",
        "delisted from SpamCop",
    ]


def test_new_listing_with_its_sublist() -> None:
    old = report([], ["zen.spamhaus.org"], verdict="ok")
    new = report([ZEN], [])
    assert changes(old, new) == ["verdict ok → fail", "newly listed on Spamhaus ZEN (SBL)"]
    assert material(old, new)


def test_listing_that_changes_codes() -> None:
    xbl = dict(ZEN, codes=["127.0.0.4"], meanings=["XBL: exploited host"])
    assert changes(report([ZEN]), report([xbl])) == ["Spamhaus ZEN listing changed from SBL to XBL"]


def test_zone_that_stops_answering_is_neither_listed_nor_delisted() -> None:
    gone = {"zone": "bl.spamcop.net", "reason": "timeout", "detail": "no answer in 0.3 s"}
    old = report([SPAMCOP], [BARRACUDA])
    new = report([], [BARRACUDA], [gone])
    assert changes(old, new) == ["SpamCop could not be checked (timeout)"]
    assert not material(old, new)


def test_zone_that_answers_again_uses_catalogue_name() -> None:
    gone = {"zone": BARRACUDA, "reason": "timeout", "detail": ""}
    old = report([ZEN], [], [gone])
    new = report([ZEN], [BARRACUDA])
    # The report names no list for a clean zone: the built-in catalogue does.
    assert changes(old, new) == ["Barracuda BRBL could be checked again: not listed"]
    assert not material(old, new)
    back = report([ZEN], [BARRACUDA])
    assert changes(back, old) == ["Barracuda BRBL could not be checked (timeout)"]


def test_listed_after_being_unavailable() -> None:
    gone = {"zone": "bl.spamcop.net", "reason": "error", "detail": "SERVFAIL"}
    assert changes(report([], [], [gone]), report([SPAMCOP], [])) == [
        "listed on SpamCop (it could not be checked before)"
    ]


def test_ptr_fixed_lost_changed_and_generic() -> None:
    none = report(ptr=ptr([], False))
    good = report(ptr=ptr(["mail.example-mail.net"], True))
    unconfirmed = report(ptr=ptr(["mail.example-mail.net"], False))
    generic = report(
        ptr=ptr(["51-158-10-22.pool.example-isp.net"], True, generic=True, status="warn")
    )
    assert changes(none, good) == ["PTR fixed: mail.example-mail.net now confirms"]
    assert changes(unconfirmed, good) == ["PTR fixed: mail.example-mail.net now confirms"]
    assert changes(good, none) == ["PTR lost (was mail.example-mail.net)"]
    assert changes(good, unconfirmed) == [
        "PTR broken: mail.example-mail.net no longer resolves back to the address"
    ]
    assert changes(none, unconfirmed) == [
        "PTR added: mail.example-mail.net, but it does not resolve back to the address"
    ]
    assert changes(generic, good) == [
        "PTR changed from 51-158-10-22.pool.example-isp.net to mail.example-mail.net",
        "PTR no longer looks generic",
    ]
    assert all(material(a, b) for a, b in [(none, good), (good, none), (generic, good)])


def test_ptr_that_cannot_be_looked_up_is_not_lost() -> None:
    good = report(ptr=ptr(["mail.example-mail.net"], True))
    broken = report(ptr=ptr([], False, status="error"))
    assert changes(good, broken) == ["PTR could not be checked"]
    assert not material(good, broken)
    assert changes(broken, good) == ["PTR could be checked again: mail.example-mail.net confirms"]


def test_spf_result_and_record() -> None:
    soft = report(spf=spf("softfail", "v=spf1 ~all"))
    hard = report(spf=spf("pass", "v=spf1 ip4:51.158.10.0/24 -all"))
    assert changes(soft, hard) == ["SPF result changed from softfail to pass", "SPF record changed"]
    same_result = report(spf=spf("pass", "v=spf1 ip4:51.158.10.0/24 ip4:51.158.11.0/24 -all"))
    assert changes(hard, same_result) == ["SPF record changed"]
    # Spacing and case are not a change.
    respaced = report(spf=spf("pass", "v=spf1  IP4:51.158.10.0/24 -all"))
    assert changes(hard, respaced) == []
    assert changes(hard, report(spf=spf("temperror", None))) == [
        "SPF could not be checked (temperror)"
    ]


def test_spf_for_another_domain_or_skipped_is_not_compared() -> None:
    mine = report(spf=spf("pass"))
    other = report(spf=dict(spf("fail"), domain="shop-example.de"))
    assert changes(mine, other) == []
    assert changes(report(), mine) == []


def test_other_checks_by_status_and_unexplained_verdict() -> None:
    smtp_ok = report(verdict="ok")
    smtp_ok["checks"]["smtp"] = {"status": "ok", "summary": "banner 220"}
    smtp_bad = copy.deepcopy(smtp_ok)
    smtp_bad["checks"]["smtp"]["status"] = "fail"
    smtp_bad["verdict"] = "fail"
    assert changes(smtp_ok, smtp_bad) == ["verdict ok → fail", "SMTP check ok → fail"]
    # A verdict change nothing else explains is still news.
    odd = copy.deepcopy(smtp_ok)
    odd["verdict"] = "warn"
    found = diff(smtp_ok, odd)
    assert [c.text for c in found] == ["verdict ok → warn"] and found[0].material


def test_older_reports_missing_fields_still_compare() -> None:
    old = {
        "target": "51.158.10.22",
        "verdict": "fail",
        "checks": {
            "dnsbl": {
                "status": "fail",
                "listed": [{"zone": "bl.spamcop.net", "codes": ["127.0.0.2"]}],
            }
        },
    }
    new = {
        "target": "51.158.10.22",
        "verdict": "ok",
        "checks": {"dnsbl": {"status": "ok", "clean": ["bl.spamcop.net"]}},
    }
    assert changes(old, new) == ["verdict fail → ok", "delisted from SpamCop"]


def test_is_clean() -> None:
    assert is_clean(report(verdict="ok"))
    assert not is_clean(report(verdict="warn"))
    assert not is_clean({})


def test_carry_forward_keeps_what_a_timeout_hides() -> None:
    gone = {"zone": "bl.spamcop.net", "reason": "timeout", "detail": ""}
    old = report(
        [SPAMCOP], [BARRACUDA], ptr=ptr(["mail.example-mail.net"], True), spf=spf("softfail")
    )
    blind = report(
        [], [BARRACUDA], [gone], ptr=ptr([], False, status="error"), spf=spf("temperror", None)
    )
    baseline = carry_forward(old, blind)
    assert baseline["checks"]["dnsbl"]["listed"] == [SPAMCOP]
    assert baseline["checks"]["dnsbl"]["unavailable"] == []
    assert baseline["checks"]["ptr"] == old["checks"]["ptr"]
    assert baseline["checks"]["spf"]["result"] == "softfail"
    assert blind["checks"]["dnsbl"]["unavailable"] == [gone]  # the input is not changed
    # So the answer that comes back later is seen as the delisting it is.
    # (the same check: SPF of the same domain; a check without it is not compared)
    later = report([], [BARRACUDA, "bl.spamcop.net"], verdict="ok", spf=spf("softfail"))
    assert "delisted from SpamCop" in changes(baseline, later)
    assert changes(blind, later) == [
        "verdict fail → ok",
        "SpamCop could be checked again: not listed",
        "PTR could be checked again: mail.example-mail.net confirms",
        "SPF could be checked again: softfail",
    ]
