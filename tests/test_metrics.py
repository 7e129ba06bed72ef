"""`/metrics` content: what a check, its DNS questions and a Slack error leave behind."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot import service
from bot.grammar import Range, UsageError, parse
from bot.metrics import metrics_response, record_slack_error
from handlers.catalogue import builtin
from handlers.dns.resolver import Resolver
from handlers.dnsbl import query_name
from handlers.settings import Settings
from tests.support.dns_server import DnsServer

ZONES = tuple(z for z in builtin() if z.zone in ("zen.spamhaus.org", "bl.spamcop.net"))


def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = metrics_response()
    assert content_type.startswith("text/plain") and "version=" in content_type
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(name: str, **labels: str) -> float:
    return samples().get((name, tuple(sorted(labels.items()))), 0.0)


async def test_a_range_check_shows_in_metrics(dns_server: DnsServer, resolver: Resolver) -> None:
    dns_server.add(query_name("127.0.0.2", "bl.spamcop.net"), "A", "127.0.0.2")
    dns_server.add(query_name("51.158.10.1", "bl.spamcop.net"), "A", "127.0.0.2")
    dns_server.misbehave("zen.spamhaus.org", "refused")
    before = {
        "checks": value("smtpcheck_checks_total", kind="range", verdict="fail"),
        "count": value("smtpcheck_check_duration_seconds_count", kind="range"),
        "listed": value("smtpcheck_dns_questions_total", list="bl.spamcop.net", outcome="listed"),
        "clean": value("smtpcheck_dns_questions_total", list="bl.spamcop.net", outcome="clean"),
        "error": value("smtpcheck_dns_questions_total", list="zen.spamhaus.org", outcome="error"),
    }

    reports = await service.run(Range("51.158.10.0/30"), resolver, Settings(catalogue=ZONES))

    assert reports[0].verdict == "fail"
    assert value("smtpcheck_checks_total", kind="range", verdict="fail") == before["checks"] + 1
    assert value("smtpcheck_check_duration_seconds_count", kind="range") == before["count"] + 1
    # spamcop: A of .1 and the positive test point are listed (a range asks no TXT reason);
    # .0 .2 .3 and 127.0.0.1 clean
    spamcop = ("smtpcheck_dns_questions_total", "bl.spamcop.net")
    assert value(spamcop[0], list=spamcop[1], outcome="listed") == before["listed"] + 2
    assert value(spamcop[0], list=spamcop[1], outcome="clean") == before["clean"] + 4
    # zen refused every question: 4 addresses + 2 test points
    assert (
        value("smtpcheck_dns_questions_total", list="zen.spamhaus.org", outcome="error")
        == before["error"] + 6
    )


async def test_bad_input_is_counted_apart(dns_server: DnsServer, resolver: Resolver) -> None:
    before = value("smtpcheck_checks_total", kind="full", verdict="bad_input")
    try:
        await service.run(parse("nowhere.example-mail.net"), resolver, Settings(catalogue=ZONES))
    except UsageError:
        pass
    else:
        raise AssertionError("a name that does not resolve is bad input")
    assert value("smtpcheck_checks_total", kind="full", verdict="bad_input") == before + 1


def test_slack_api_errors_are_counted() -> None:
    before = value("smtpcheck_slack_api_errors_total", method="chat.update", error="ratelimited")
    record_slack_error("chat.update", "ratelimited")
    record_slack_error("chat.update", "ratelimited")
    after = value("smtpcheck_slack_api_errors_total", method="chat.update", error="ratelimited")
    assert after == before + 2
    body = metrics_response()[0].decode()
    assert "# TYPE smtpcheck_slack_api_errors_total counter" in body
    assert "# TYPE smtpcheck_dns_questions_total counter" in body
    assert "process_resident_memory_bytes" in body
