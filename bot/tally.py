"""Checks run, counted in plain Python so that recording one costs no Prometheus import.

The terminal runs one check and exits: it must not pay for prometheus_client (about a
third of its start-up) to count something nobody scrapes. The Slack app's /metrics
reads these counts at scrape time (bot.metrics), as it already does for DNS questions.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter

#: Upper bounds (seconds) of the duration histogram's buckets; +Inf is implied.
BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120)


class CheckTally:
    """Checks by (kind, verdict), and durations by kind as histogram buckets."""

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.buckets = buckets
        self._lock = threading.Lock()
        self.checks: Counter[tuple[str, str]] = Counter()
        #: kind -> counts per bucket (the last one is +Inf), not cumulative.
        self._durations: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def record(self, kind: str, verdict: str, seconds: float) -> None:
        with self._lock:
            self.checks[(kind, verdict)] += 1
            counts = self._durations.setdefault(kind, [0] * (len(self.buckets) + 1))
            counts[bisect.bisect_left(self.buckets, seconds)] += 1
            self._sums[kind] = self._sums.get(kind, 0.0) + seconds

    def histograms(self) -> dict[str, tuple[list[tuple[str, int]], float]]:
        """kind -> (cumulative buckets as (upper bound, count) with "+Inf" last, sum of seconds)."""
        with self._lock:
            out: dict[str, tuple[list[tuple[str, int]], float]] = {}
            for kind, counts in self._durations.items():
                running, cumulative = 0, []
                for bound, count in zip([*map(str, self.buckets), "+Inf"], counts, strict=True):
                    running += count
                    cumulative.append((bound, running))
                out[kind] = (cumulative, self._sums[kind])
            return out

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self.checks)


#: The process's checks, read by /metrics.
CHECKS = CheckTally()


def record_check(kind: str, verdict: str, seconds: float) -> None:
    """Count one check (`verdict` ok/warn/fail/error, or `bad_input`) and its duration."""
    CHECKS.record(kind, verdict, seconds)
