# smtpcheck Slack app: `docker run -e SLACK_BOT_TOKEN=... -e SLACK_APP_TOKEN=... smtpcheck`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000 \
    SMTPCHECK_DATABASE_URL=sqlite:////data/smtpcheck.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY handlers ./handlers
COPY bot ./bot
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin smtpcheck \
    && mkdir -p /data && chown smtpcheck /data

USER smtpcheck
VOLUME ["/data"]
EXPOSE 3000

# HTTP mode serves /healthz; in Socket Mode nothing listens, so the check passes when
# SLACK_APP_TOKEN is set (the process being alive is the health signal there).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0) if os.environ.get('SLACK_APP_TOKEN') else urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]

CMD ["python", "-m", "bot"]
