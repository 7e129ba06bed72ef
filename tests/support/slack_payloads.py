"""The payloads Slack sends for shortcuts, the modal, App Home, DMs and workflow steps.

Shapes follow Slack's documentation and bolt-python's own scenario tests; the same
payload goes over signed HTTP (`post_interactive`, `post_event`) or in a Socket Mode
envelope (`envelope`).
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from tests.support.slack_app import BotProcess

TEAM = {"id": "T1", "domain": "test"}
_submissions = itertools.count(1)


def message_shortcut(
    text: str,
    *,
    channel: str,
    ts: str,
    user: str = "U1",
    thread_ts: str | None = None,
    response_url: str = "",
    attachments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "message", "user": "U_PASTER", "ts": ts, "text": text}
    if thread_ts:
        message["thread_ts"] = thread_ts
    if attachments:
        message["attachments"] = attachments
    return {
        "type": "message_action",
        "token": "legacy",
        "action_ts": f"{time.time():.6f}",
        "team": TEAM,
        "user": {"id": user, "name": "ana"},
        "channel": {"id": channel, "name": "incidents"},
        "callback_id": "smtpcheck_message",
        "trigger_id": "13.1.shortcut",
        "message_ts": ts,
        "message": message,
        "response_url": response_url,
    }


def global_shortcut(*, user: str = "U1", trigger_id: str = "13.2.global") -> dict[str, Any]:
    return {
        "type": "shortcut",
        "token": "legacy",
        "action_ts": f"{time.time():.6f}",
        "team": TEAM,
        "user": {"id": user, "username": "ana", "team_id": "T1"},
        "callback_id": "smtpcheck_open",
        "trigger_id": trigger_id,
    }


def view_submission(
    *,
    target: str = "",
    domain: str = "",
    kind: str = "full",
    bounce: str = "",
    private_metadata: str = "{}",
    user: str = "U1",
) -> dict[str, Any]:
    def text(value: str) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value or None}

    return {
        "type": "view_submission",
        "team": TEAM,
        "user": {"id": user, "username": "ana", "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy",
        # Slack gives each submission its own trigger: two identical forms are two requests.
        "trigger_id": f"13.3.{next(_submissions)}",
        "view": {
            "id": "V_CHECK",
            "team_id": "T1",
            "type": "modal",
            "callback_id": "smtpcheck_check",
            "private_metadata": private_metadata,
            "hash": "1.abc",
            "state": {
                "values": {
                    "target": {"target_input": text(target)},
                    "domain": {"domain_input": text(domain)},
                    "kind": {
                        "kind_input": {
                            "type": "static_select",
                            "selected_option": {
                                "text": {"type": "plain_text", "text": kind},
                                "value": kind,
                            },
                        }
                    },
                    "bounce": {"bounce_input": text(bounce)},
                }
            },
        },
    }


def home_action(action_id: str, value: str, *, user: str = "U1") -> dict[str, Any]:
    """A button on the App Home tab: the container is a view, there is no channel."""
    return {
        "type": "block_actions",
        "team": TEAM,
        "user": {"id": user, "username": "ana", "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy",
        "container": {"type": "view", "view_id": "V_HOME"},
        "trigger_id": "13.4.home",
        "view": {"id": "V_HOME", "type": "home", "callback_id": ""},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def event_callback(event: dict[str, Any], *, event_id: str) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
    }


def home_opened(user: str, *, tab: str = "home") -> dict[str, Any]:
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user,
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }


def direct_message(text: str, *, user: str, ts: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": "D" + user,
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        **extra,
    }


def function_executed(
    inputs: dict[str, Any], *, execution_id: str, token: str = "xwfp-13-step-token"
) -> dict[str, Any]:
    return {
        "type": "function_executed",
        "function": {
            "id": "Fn13",
            "callback_id": "check_address",
            "title": "Check a mail server's address",
            "type": "app",
            "input_parameters": [
                {"type": "string", "name": "address", "is_required": True},
                {"type": "string", "name": "domain", "is_required": False},
            ],
            "output_parameters": [
                {"type": "string", "name": "verdict", "is_required": True},
                {"type": "string", "name": "summary", "is_required": True},
            ],
            "app_id": "A1",
            "date_updated": 1_764_000_000,
        },
        "inputs": inputs,
        "function_execution_id": execution_id,
        "workflow_execution_id": "Wx" + execution_id,
        "event_ts": f"{time.time():.6f}",
        "bot_access_token": token,
    }


def post_interactive(bot: BotProcess, payload: dict[str, Any]) -> Any:
    body = urlencode({"payload": json.dumps(payload)})
    return bot.post(body, "application/x-www-form-urlencoded")


def post_event(bot: BotProcess, event: dict[str, Any], *, event_id: str) -> Any:
    return bot.post(json.dumps(event_callback(event, event_id=event_id)), "application/json")


def envelope(kind: str, payload: dict[str, Any], envelope_id: str) -> dict[str, Any]:
    """A Socket Mode envelope: `interactive`, `slash_commands` or `events_api`."""
    return {
        "envelope_id": envelope_id,
        "type": kind,
        "accepts_response_payload": kind != "events_api",
        "payload": payload,
    }
