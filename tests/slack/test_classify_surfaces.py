"""Which new inputs start a check (and so meet the allow-lists and the rate limit), and which pass."""

from __future__ import annotations

import json

from bot.slack.middleware import Request, classify
from tests.support.slack_payloads import (
    direct_message,
    event_callback,
    function_executed,
    global_shortcut,
    home_action,
    home_opened,
    message_shortcut,
    view_submission,
)


def test_a_message_shortcut_is_a_request_answered_through_its_response_url() -> None:
    body = message_shortcut("51.158.10.22", channel="C1", ts="1.2", response_url="https://r/1")
    assert classify(body) == Request(
        "shortcut", "U1", "C1", response_url="https://r/1", thread_ts="1.2"
    )


def test_a_modal_submission_counts_where_its_answer_goes() -> None:
    to_channel = view_submission(target="51.158.10.22", private_metadata=json.dumps({"c": "C9"}))
    assert classify(to_channel) == Request("view", "U1", "C9")
    to_person = view_submission(target="51.158.10.22")
    assert classify(to_person) == Request("view", "U1", "")


def test_a_form_to_fix_and_opening_a_modal_start_no_check() -> None:
    assert classify(view_submission(target="999.1.1.1")) is None
    assert classify(global_shortcut()) is None
    assert classify(home_action("home_open_check", "open")) is None
    assert classify(home_action("home_stop_watch", "3")) is None


def test_home_recheck_and_direct_messages_are_requests() -> None:
    assert classify(home_action("home_recheck", "{}", user="U7")) == Request("home", "U7", "")
    dm = event_callback(direct_message("51.158.10.22", user="U8", ts="1.1"), event_id="E1")
    assert classify(dm) == Request("dm", "U8", "DU8")


def test_edits_bots_home_opened_and_workflow_steps_pass() -> None:
    edited = direct_message("x", user="U8", ts="1.1", subtype="message_changed")
    from_bot = direct_message("x", user="U8", ts="1.1", bot_id="B1")
    for event in (edited, from_bot, home_opened("U8"), function_executed({}, execution_id="F")):
        assert classify(event_callback(event, event_id="E2")) is None
