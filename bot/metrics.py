"""Prometheus metrics for `GET /metrics`: checks run, how long they took, DNS questions per
list and outcome, Slack API errors, store errors.

Why a registry of our own: tests (and two apps in one process) must not trip over
prometheus_client's global one. DNS question counts are not kept here: the resolvers
already count them (handlers.dns.politeness.TOTALS), and a collector reads them at scrape
time, so the hot path of a /24 pays one Counter increment per question and nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from bot.tally import CHECKS, CheckTally, record_check
from handlers.dns.politeness import TOTALS, QueryStats

__all__ = ["metrics_response", "record_check", "record_slack_error", "show_monitors"]

REGISTRY = CollectorRegistry(auto_describe=True)

SLACK_ERRORS = Counter(
    "smtpcheck_slack_api_errors",
    "Slack Web API calls that failed, by method and Slack's error code.",
    ["method", "error"],
    registry=REGISTRY,
)
STORE_ERRORS = Counter(
    "smtpcheck_store_errors",
    "Database operations that failed (the answer went out without being kept), by operation.",
    ["operation"],
    registry=REGISTRY,
)
ProcessCollector(registry=REGISTRY)


class DnsQuestions(Collector):
    """`smtpcheck_dns_questions_total{list, outcome}` read from the resolvers' counts."""

    def __init__(self, stats: QueryStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "smtpcheck_dns_questions",
            "DNS questions sent to each blocklist, by outcome (listed, clean, timeout, "
            "blocked: the list refused our resolver, error).",
            labels=["list", "outcome"],
        )
        for (zone, outcome), count in sorted(self.stats.snapshot().items()):
            family.add_metric([zone, outcome], count)
        yield family


class Checks(Collector):
    """`smtpcheck_checks_total{kind, verdict}` and the duration histogram, from bot.tally."""

    def __init__(self, tally: CheckTally) -> None:
        self.tally = tally

    def collect(self) -> Iterator[Metric]:
        checks = CounterMetricFamily(
            "smtpcheck_checks",
            "Checks run, by command kind (full, bl, ptr, spf, smtp, mx, egress, bounce, "
            "range, monitor) and verdict.",
            labels=["kind", "verdict"],
        )
        for (kind, verdict), count in sorted(self.tally.snapshot().items()):
            checks.add_metric([kind, verdict], count)
        yield checks
        durations = HistogramMetricFamily(
            "smtpcheck_check_duration_seconds",
            "Wall time of a check, from parsed command to report.",
            labels=["kind"],
        )
        for kind, (buckets, total) in sorted(self.tally.histograms().items()):
            durations.add_metric([kind], buckets, total)
        yield durations


#: (monitor target, channel, list name, addresses that list lists), read at scrape time.
MonitorSource = Callable[[], Iterable[tuple[str, str, str, int]]]


class MonitorListings(Collector):
    """`smtpcheck_monitor_listed_addresses{monitor, channel, list}` from the store.

    Read from the database at scrape time, so every replica shows every monitor's last
    finished run, whichever replica closed it.
    """

    def __init__(self) -> None:
        self.source: MonitorSource | None = None

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "smtpcheck_monitor_listed_addresses",
            "Addresses of a monitored range or pool listed by each list at its last run.",
            labels=["monitor", "channel", "list"],
        )
        if self.source is not None:
            try:
                rows = list(self.source())
            except Exception:  # a database that is away costs the gauge, not the scrape
                rows = []
            for monitor, channel, name, count in rows:
                family.add_metric([monitor, channel, name], count)
        yield family


MONITORS = MonitorListings()

REGISTRY.register(DnsQuestions(TOTALS))
REGISTRY.register(Checks(CHECKS))
REGISTRY.register(MONITORS)


def show_monitors(source: MonitorSource) -> None:
    """Where /metrics reads the monitors' listed addresses from (the app's store)."""
    MONITORS.source = source


def record_slack_error(method: str, error: str) -> None:
    """Called by the Slack layer when a Web API call fails (e.g. chat.update, ratelimited)."""
    SLACK_ERRORS.labels(method=method, error=error or "unknown").inc()


def record_store_error(operation: str) -> None:
    """Called when the store could not be used (down, read-only, corrupt, full)."""
    STORE_ERRORS.labels(operation=operation).inc()


def metrics_response() -> tuple[bytes, str]:
    """(body, content type) of the Prometheus text format, for `GET /metrics`."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
