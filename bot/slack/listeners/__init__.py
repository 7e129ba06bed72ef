"""Slack inputs, one module per kind (bolt-python's layout).

Commands, actions (message buttons), events (mentions), messages (direct messages),
shortcuts, views (the Check modal), home (App Home and its buttons), functions (the
Workflow Builder step).
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners import (
    actions,
    commands,
    events,
    functions,
    home,
    messages,
    shortcuts,
    views,
)


def register_listeners(app: AsyncApp) -> None:
    commands.register(app)
    actions.register(app)
    events.register(app)
    messages.register(app)
    shortcuts.register(app)
    views.register(app)
    home.register(app)
    functions.register(app)
