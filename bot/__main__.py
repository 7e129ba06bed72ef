"""`python -m bot` runs the Slack app (Socket Mode with SLACK_APP_TOKEN, else HTTP)."""

import sys

from bot.slack.main import main

if __name__ == "__main__":
    sys.exit(main())
