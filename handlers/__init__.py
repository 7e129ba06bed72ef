"""Check handlers: plain async functions over DNS (and SMTP) returning typed results.

Nothing in this package knows about Slack or the terminal; `bot/` renders what it returns.
"""
