"""Slack inputs, one module per kind (bolt-python's layout): commands, actions, events."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners import actions, commands, events


def register_listeners(app: AsyncApp) -> None:
    commands.register(app)
    actions.register(app)
    events.register(app)
