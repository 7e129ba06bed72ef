"""manifest.yml creates the app in one paste; the Dockerfile runs it safely."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.slack.listeners.functions import FUNCTION
from bot.slack.surfaces import MESSAGE_SHORTCUT, OPEN_SHORTCUT

ROOT = Path(__file__).resolve().parents[2]


def test_manifest_has_what_the_features_need_and_no_more() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    command = manifest["features"]["slash_commands"][0]
    assert command["command"] == "/smtpcheck" and command["usage_hint"]
    settings = manifest["settings"]
    assert sorted(settings["event_subscriptions"]["bot_events"]) == sorted(
        ["app_mention", "app_home_opened", "message.im", "function_executed"]
    )
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(
        [
            "commands",
            "chat:write",
            "app_mentions:read",
            "channels:history",
            "groups:history",
            "im:history",
            "mpim:history",
            "im:write",
            "users:read",
        ]
    )


def test_every_scope_says_why() -> None:
    lines = (ROOT / "manifest.yml").read_text().splitlines()
    start = lines.index("    bot:")
    for at in range(start + 1, len(lines)):
        if not lines[at].startswith("      "):
            break
        if lines[at].strip().startswith("- "):
            assert lines[at - 1].strip().startswith("#"), f"no comment above {lines[at]!r}"


def test_manifest_declares_the_slack_native_surfaces_the_code_serves() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    shortcuts = {s["callback_id"]: s for s in manifest["features"]["shortcuts"]}
    assert shortcuts[MESSAGE_SHORTCUT]["type"] == "message"
    assert shortcuts[MESSAGE_SHORTCUT]["name"] == "Check with smtpcheck"
    assert shortcuts[OPEN_SHORTCUT]["type"] == "global"
    assert all(len(s["name"]) <= 24 for s in shortcuts.values())  # Slack's limit for a name
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] and home["messages_tab_enabled"]
    assert home["messages_tab_read_only_enabled"] is False
    # A Bolt custom step: declared under functions, run remotely, on an org-ready app.
    assert manifest["settings"]["org_deploy_enabled"] is True
    assert manifest["settings"]["function_runtime"] == "remote"
    step = manifest["functions"][FUNCTION]
    inputs, outputs = step["input_parameters"], step["output_parameters"]
    assert inputs["address"]["is_required"] is True and inputs["domain"]["is_required"] is False
    assert sorted(outputs) == ["summary", "verdict"]
    for name, parameter in [*inputs.items(), *outputs.items()]:
        assert parameter["type"] == "string" and parameter["name"] == name and parameter["title"]


def test_dockerfile_is_slim_unprivileged_and_checked() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert stages == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]  # build, then a clean final stage
    final = text.split("\nFROM ")[-1]
    assert "COPY --from=build /opt/smtpcheck /opt/smtpcheck" in final
    assert "COPY handlers" not in final and "COPY bot" not in final  # no source in the image
    assert "--require-hashes" in text and "requirements.lock" in text
    assert re.search(r"^USER 10001:10001$", final, re.M)
    assert "groupadd --gid 10001" in final and "useradd --uid 10001 --gid 10001" in final
    assert "useradd --system" not in final and "adduser --system" not in final
    workdir = re.findall(r"^WORKDIR (\S+)", final, re.M)
    assert workdir == ["/data"]
    assert 'VOLUME ["/data"]' in final and "chown 10001:10001 /data" in final
    assert 'CMD ["python", "-m", "bot"]' in final
    health = re.search(r"^HEALTHCHECK .*\n.*CMD \[(.*)\]", final, re.M)
    assert health and "/healthz" in health.group(1) and "curl" not in text
    assert "SLACK_APP_TOKEN" not in health.group(1)  # a real check in Socket Mode too


def test_lock_pins_every_runtime_dependency_with_hashes() -> None:
    """requirements.lock covers pyproject's dependencies, each pinned in range and hashed."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = (ROOT / "requirements.lock").read_text()
    pins = {
        canonicalize_name(name): version
        for name, version in re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", lock, re.M)
    }
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        refresh = "run deploy/refresh-locks.sh"
        assert name in pins, f"{name} is not in requirements.lock: {refresh}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside {requirement.specifier}: {refresh}"
        )
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n", 2)[2])
    for block in blocks:
        assert "--hash=sha256:" in block, block
