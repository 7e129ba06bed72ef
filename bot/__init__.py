"""Everything that talks to people: grammar, Slack app, renderers, terminal command, storage."""
