"""manifest.yml creates the app in one paste; the Dockerfile runs it safely."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_manifest_has_what_the_features_need_and_no_more() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    command = manifest["features"]["slash_commands"][0]
    assert command["command"] == "/smtpcheck" and command["usage_hint"]
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["bot_events"] == ["app_mention"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(
        [
            "commands",
            "chat:write",
            "app_mentions:read",
            "channels:history",
            "groups:history",
            "users:read",
        ]
    )


def test_dockerfile_is_slim_unprivileged_and_checked() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", text, re.M)
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert 'CMD ["python", "-m", "bot"]' in text
    health = re.search(r"^HEALTHCHECK .*\n.*CMD \[(.*)\]", text, re.M)
    assert health and "/healthz" in health.group(1) and "curl" not in text
