"""Everything that speaks Slack: the Bolt app, listeners, delivery, Block Kit, HTTP."""
