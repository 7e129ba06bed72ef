"""What Slack already delivered, so a repeated delivery is acknowledged and not run twice.

Slack repeats an event (same `event_id`, header `X-Slack-Retry-Num`) when the first
delivery was not acknowledged in 3 seconds, and anyone who captured a signed request can
send it again while its signature is fresh (5 minutes). Each delivery has a key: the
event id for events, a digest of the signature (an HMAC over timestamp and body) for the
rest. The record is bounded and expiring: in memory for this process, and, when the store
is shared (PostgreSQL), in the database, so that several replicas behind one Service agree
(a SQLite file serves one process: its memory is the record, and no write delays the ack).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot import metrics
from bot.store import Store

log = logging.getLogger("smtpcheck.replays")

#: Slack retries an event for about an hour (immediately, after 1 and 5 minutes, ...).
EVENT_TTL = 60 * 60
#: A signature is accepted for 5 minutes; a little margin for clock skew.
SIGNATURE_TTL = 10 * 60
#: Keys kept in memory at most (about 100 bytes each).
MAX_KEYS = 50_000


@dataclass(frozen=True)
class Key:
    """A delivery's key: a hex digest (never the signature itself) and how long it matters."""

    digest: str
    ttl: int


def delivery_key(signature: str, event_id: str | None) -> Key:
    """The event id's key for events (their retries are signed anew), else the signature's."""
    if event_id:
        return Key(hashlib.sha256(f"event:{event_id}".encode()).hexdigest(), EVENT_TTL)
    return Key(hashlib.sha256(f"signature:{signature}".encode()).hexdigest(), SIGNATURE_TTL)


class Replays:
    """`first_time(key)`: True once per key while it is remembered, then False."""

    def __init__(self, store: Store | None = None, *, max_keys: int = MAX_KEYS) -> None:
        self.store = store
        self.max_keys = max_keys
        self._seen: OrderedDict[str, float] = OrderedDict()

    def _remember(self, key: Key, now: float) -> bool:
        """Record `key` in memory; False when it was already there and fresh."""
        expiry = self._seen.get(key.digest)
        if expiry is not None and expiry > now:
            return False
        self._seen[key.digest] = now + key.ttl
        self._seen.move_to_end(key.digest)
        while self._seen:
            oldest, until = next(iter(self._seen.items()))
            if until > now and len(self._seen) <= self.max_keys:
                break
            del self._seen[oldest]
        return True

    async def first_time(self, key: Key) -> bool:
        if not self._remember(key, time.monotonic()):
            return False
        if self.store is None:
            return True
        now = datetime.now(UTC)
        try:
            return await asyncio.to_thread(
                self.store.first_delivery, key.digest, now + timedelta(seconds=key.ttl), now
            )
        except Exception:  # the database is away: this process's memory still answers
            metrics.record_store_error("first_delivery")
            log.warning("cannot record delivery in the store; using memory only", exc_info=True)
            return True
