"""The modal, App Home and workflow outputs as pure functions: shapes, limits, the grammar's words."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.grammar import Bounce, Check, Dkim, Dmarc, Mx, Smtp, Spf, UsageError, parse
from bot.slack import home, modal
from bot.slack.step import step_outputs
from bot.slack.threads import commands_in
from handlers.i18n import Language, _, use

T0 = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


def assert_valid_view(view: dict[str, Any]) -> None:
    View(**view).validate_json()
    assert 0 < len(view["blocks"]) <= 100
    for raw in view["blocks"]:
        block = Block.parse(raw)  # type: ignore[arg-type]
        assert block is not None
        block.validate_json()


def sentence(text: str) -> str:
    with pytest.raises(UsageError) as raised:
        parse(text)
    return str(raised.value)


# ---- the modal -----------------------------------------------------------------------


def test_modal_is_valid_and_prefilled() -> None:
    origin = modal.Origin("C1", "1.2", "https://hooks.slack.com/commands/T1/1/x")
    view = modal.check_modal(origin, modal.Form("51.158.10.22", "example.com", "spf"))
    assert_valid_view(view)
    assert modal.Origin.from_metadata(view["private_metadata"]) == origin
    kind = next(b for b in view["blocks"] if b.get("block_id") == modal.KIND_BLOCK)
    assert kind["element"]["initial_option"]["value"] == "spf"


@pytest.mark.parametrize("metadata", [None, "", "not json", "[1]", '{"c": 5}'])
def test_unreadable_metadata_answers_the_person(metadata: str | None) -> None:
    assert modal.Origin.from_metadata(metadata) == modal.Origin()


def test_a_huge_response_url_never_breaks_the_view() -> None:
    view = modal.check_modal(modal.Origin("C1", response_url="https://x/" + "a" * 5000))
    assert_valid_view(view)
    assert modal.Origin.from_metadata(view["private_metadata"]).channel == "C1"


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (modal.Form("51.158.10.22"), [Check("51.158.10.22")]),
        (modal.Form("51.158.10.22", "Example.COM"), [Check("51.158.10.22", "example.com")]),
        (modal.Form("Mail.Example.com", kind="bl"), [Check("mail.example.com", None, "bl")]),
        (modal.Form("51.158.10.22", kind="ptr"), [Check("51.158.10.22", None, "ptr")]),
        (modal.Form("", "example.com", "spf"), [Spf("example.com")]),
        (modal.Form("51.158.10.22", "example.com", "spf"), [Spf("example.com", "51.158.10.22")]),
        (modal.Form("example.com", kind="spf"), [Spf("example.com")]),
        (
            modal.Form("51.158.10.22", "example.com", "auth"),
            [Dmarc("example.com", "51.158.10.22"), Dkim("example.com")],
        ),
        (modal.Form("", "example.com", "auth"), [Dmarc("example.com"), Dkim("example.com")]),
        (
            modal.Form("mail.example.com", kind="auth"),
            [Dmarc("mail.example.com"), Dkim("mail.example.com")],
        ),
        (modal.Form("mx.example.com 587", kind="smtp"), [Smtp("mx.example.com", 587)]),
        (modal.Form(kind="bounce", bounce="550 5.7.1 blocked"), [Bounce("550 5.7.1 blocked")]),
    ],
)
def test_forms_become_the_grammars_commands(form: modal.Form, expected: list[Any]) -> None:
    assert modal.commands_of(form) == expected


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        (modal.Form("999.1.1.1"), {modal.TARGET_BLOCK: sentence("999.1.1.1")}),
        (modal.Form("hello"), {modal.TARGET_BLOCK: sentence("hello")}),
        (modal.Form("127.0.0.1", kind="bl"), {modal.TARGET_BLOCK: sentence("bl 127.0.0.1")}),
        (
            modal.Form("51.158.10.22", "nodot"),
            {modal.DOMAIN_BLOCK: sentence("51.158.10.22 nodot")},
        ),
        (modal.Form(""), {modal.TARGET_BLOCK: modal.NEED_TARGET}),
        (modal.Form(kind="bounce"), {modal.BOUNCE_BLOCK: modal.NEED_BOUNCE}),
        (
            modal.Form("51.158.10.22", kind="spf"),
            {modal.DOMAIN_BLOCK: modal.NEED_SPF_DOMAIN},
        ),
        (modal.Form("51.158.10.22", kind="auth"), {modal.DOMAIN_BLOCK: modal.NEED_DMARC_DOMAIN}),
        (
            modal.Form("999.1.1.1", "example.com", "auth"),
            {modal.TARGET_BLOCK: sentence("dmarc example.com 999.1.1.1")},
        ),
        (
            modal.Form("mx.example.com 99999", kind="smtp"),
            {modal.TARGET_BLOCK: sentence("smtp mx.example.com 99999")},
        ),
    ],
)
def test_bad_forms_say_what_to_fix_on_the_field(form: modal.Form, errors: dict[str, str]) -> None:
    with pytest.raises(modal.FormError) as raised:
        modal.commands_of(form)
    assert raised.value.errors == errors


def test_a_mail_domain_with_blocklists_only_is_refused_not_dropped() -> None:
    with pytest.raises(modal.FormError) as raised:
        modal.commands_of(modal.Form("51.158.10.22", "example.com", "bl"))
    assert list(raised.value.errors) == [modal.DOMAIN_BLOCK]


def test_read_form_takes_the_submitted_state() -> None:
    view = {
        "state": {
            "values": {
                "target": {"target_input": {"value": " 51.158.10.22 "}},
                "domain": {"domain_input": {"value": None}},
                "kind": {"kind_input": {"selected_option": {"value": "ptr"}}},
            }
        }
    }
    assert modal.read_form(view) == modal.Form("51.158.10.22", "", "ptr", "")
    forged = {"state": {"values": {"kind": {"kind_input": {"selected_option": {"value": "x"}}}}}}
    assert modal.read_form(forged).kind == "full"


# ---- App Home ------------------------------------------------------------------------


def running(n: int, target: str = "51.158.10.22") -> home.Running:
    return home.Running(
        "Watch", target, "example.com", f"C{n:04d}", T0, "fail", home.STOP_WATCH_ACTION, str(n)
    )


def recent(n: int) -> home.Recent:
    return home.Recent(
        f"51.158.10.{n}",
        None,
        "ok",
        T0 + timedelta(minutes=n),
        home.recheck_value(f"51.158.10.{n}", n),
    )


def test_home_with_many_watches_and_hostile_text_stays_within_limits() -> None:
    hostile = "<!channel> *bold* " + "x" * 4000
    items = [running(n, hostile if n % 2 else "51.158.10.22") for n in range(300)]
    view = home.home_view(items, [recent(n) for n in range(40)])
    assert_valid_view(view)
    text = json.dumps(view)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "and 240 more" in text
    rechecks = [
        b for b in view["blocks"] if b.get("accessory", {}).get("action_id") == home.RECHECK_ACTION
    ]
    assert len(rechecks) == home.SHOWN_RECENT


def test_home_channel_ids_are_links_and_anything_else_is_text() -> None:
    view = home.home_view(
        [running(1), home.Running("Watch", "x", None, "<@U1>", T0, None, "a", "1")], []
    )
    text = json.dumps(view)
    assert "<#C0001>" in text and "<@U1>" not in text and "not run yet" in text


def test_home_shows_a_monitors_last_run_instead_of_a_verdict() -> None:
    monitor = home.Running(
        "Monitor",
        "51.158.10.0/24",
        None,
        "C1",
        T0,
        None,
        home.STOP_MONITOR_ACTION,
        "4",
        last_run="3 of 256 addresses listed",
    )
    view = home.home_view([running(1), monitor], [])
    assert_valid_view(view)
    rows = [b for b in view["blocks"] if b.get("accessory", {}).get("value") == "4"]
    assert "last run: 3 of 256 addresses listed" in rows[0]["text"]["text"]
    assert rows[0]["accessory"]["action_id"] == home.STOP_MONITOR_ACTION


def test_home_without_a_store_and_with_a_notice() -> None:
    assert "not enabled" in json.dumps(home.home_view([], [], store_enabled=False))
    noticed = home.home_view([running(1)], [recent(1)], notice="Cannot read the store.")
    assert "Cannot read the store." in json.dumps(noticed)
    assert not any(
        b.get("accessory", {}).get("action_id") == home.STOP_WATCH_ACTION for b in noticed["blocks"]
    )
    assert_valid_view(noticed)


@pytest.mark.parametrize(
    ("report", "domain", "expected"),
    [
        (
            {
                "target": "51.158.10.22",
                "checks": {"dnsbl": {"status": "ok"}, "ptr": {"status": "ok"}},
            },
            "example.com",
            "51.158.10.22 example.com",
        ),
        (
            {
                "target": "51.158.10.22",
                "checks": {"dnsbl": {"status": "ok"}, "ptr": {"status": "skipped"}},
            },
            None,
            "bl 51.158.10.22",
        ),
        (
            {
                "target": "51.158.10.22",
                "checks": {"dnsbl": {"status": "skipped"}, "ptr": {"status": "fail"}},
            },
            None,
            "ptr 51.158.10.22",
        ),
        (
            {
                "target": "mx.example.com",
                "checks": {"smtp": {"status": "ok", "host": "mx.example.com", "port": 587}},
            },
            None,
            "smtp mx.example.com 587",
        ),
        ({"target": "example.com", "checks": {"mx": {"status": "ok"}}}, None, "mx example.com"),
        ({"target": "example.com", "checks": {"spf": {"status": "ok"}}}, None, "spf example.com"),
        (
            {"target": "example.com", "checks": {"dmarc": {"status": "ok"}}},
            None,
            "dmarc example.com",
        ),
        (
            {
                "target": "example.com",
                "checks": {
                    "dmarc": {"status": "warn"},
                    "spf": {"status": "ok", "ip": "51.158.10.22"},
                },
            },
            None,
            "dmarc example.com 51.158.10.22",
        ),
        ({"target": "example.com", "checks": {"dkim": {"status": "ok"}}}, None, "dkim example.com"),
        ({"target": "bounce", "checks": {"bounce": {"status": "fail"}}}, None, None),
        ({"checks": {}}, None, None),
    ],
)
def test_a_stored_report_is_rechecked_with_the_command_that_made_it(
    report: dict[str, Any], domain: str | None, expected: str | None
) -> None:
    text = home.recheck_text(report, domain)
    assert text == expected
    if text is not None:
        parse(text)  # the grammar takes it back


def test_recheck_value_round_trip_and_forgeries() -> None:
    assert home.read_recheck_value(home.recheck_value("bl 51.158.10.22", 7)) == (
        "bl 51.158.10.22",
        7,
    )
    for forged in ("", "[]", '{"c": 1}', "{"):
        with pytest.raises(ValueError):
            home.read_recheck_value(forged)
    assert home.read_recheck_value('{"c": "mx example.com", "r": "7"}') == ("mx example.com", None)


# ---- the workflow step's outputs -----------------------------------------------------


def test_step_outputs_are_plain_text_worst_first() -> None:
    clean = {
        "target": "51.158.10.23",
        "verdict": "ok",
        "checks": {"dnsbl": {"status": "ok", "summary": "Not listed on any of 31 blocklists"}},
    }
    bad = {
        "target": "51.158.10.22",
        "verdict": "fail",
        "checks": {
            "dnsbl": {"status": "fail", "summary": "Listed on 2 of 31 blocklists"},
            "spf": {"status": "skipped", "summary": "No domain given"},
            "ptr": {"status": "fail", "summary": "No PTR record."},
        },
    }
    outputs = step_outputs([clean, bad])
    assert outputs["verdict"] == "fail"
    assert outputs["summary"] == (
        "51.158.10.22: problems found (fail). Blocklists: Listed on 2 of 31 blocklists. "
        "Reverse DNS (PTR): No PTR record. "
        "51.158.10.23: looks clean (ok). Blocklists: Not listed on any of 31 blocklists."
    )
    assert step_outputs([])["verdict"] == "error"
    long = {
        "target": "x",
        "verdict": "warn",
        "checks": {"dnsbl": {"status": "warn", "summary": "y" * 9000}},
    }
    assert len(step_outputs([long])["summary"]) <= 3000


# ---- what a message is about ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "mail from 51.158.10.22 bounces, sender ops@northwind-example.com",
            [Check("51.158.10.22", "northwind-example.com")],
        ),
        (
            "relay.northwind-example.com is rejected, see log.txt",
            [Check("relay.northwind-example.com")],
        ),
        ("<https://mail.example.com/x|mail.example.com> fails", [Check("mail.example.com")]),
        ("ops@northwind-example.com cannot send", [Spf("northwind-example.com")]),
        ("550 5.7.1 blocked [51.158.10.22].", [Bounce("550 5.7.1 blocked [51.158.10.22].")]),
        ("mx example.com", [Mx("example.com")]),
        (
            "1.2.3.4 and 10.0.0.1 and 8.8.8.8 and 9.9.9.9 and 4.4.4.4",
            [Check("1.2.3.4"), Check("8.8.8.8"), Check("9.9.9.9")],
        ),
        ("version 1.2.3 is out, e.g. see the notes", []),
        ("can someone look at this?", []),
        ("", []),
    ],
)
def test_commands_in_a_message(text: str, expected: list[Any]) -> None:
    assert commands_in(text) == expected


@pytest.mark.parametrize("language", ["en", "fr"])
def test_modal_and_home_fit_slacks_limits_in_every_language(language: Language) -> None:
    with use(language):
        assert_valid_view(modal.check_modal(modal.Origin("C1")))
        assert_valid_view(home.home_view([running(n) for n in range(80)], [recent(1)]))
        with pytest.raises(modal.FormError) as raised:
            modal.commands_of(modal.Form(""))
        assert raised.value.errors[modal.TARGET_BLOCK] == (
            modal.NEED_TARGET if language == "en" else _(modal.NEED_TARGET)
        )
        assert (language == "fr") == (_(modal.NEED_TARGET) != modal.NEED_TARGET)
