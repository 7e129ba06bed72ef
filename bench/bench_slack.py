"""Slack app figures: ack latency under a burst, and time from command to posted report.

Runs `python -m bot` in HTTP mode against the fake Slack and the test DNS server, as the
end-to-end tests do. Ack latency is what Slack's 3-second rule measures. It is measured
for `--burst` slash commands at once, three ways in the same run: from people the bot
knows (their language cached), from people it has never seen (a users.info call each,
answered at once), and from new people while users.info is held unanswered (a slow Slack;
released once every ack is back).

The report time is what a person waits for, here with every DNS answer delayed by
`--delay-ms`. It is measured twice in the same run, samples interleaved: with the fake
Slack answering at once, and with `--slack-ms` added to every Web API answer. The
"checking…" post and the store save are off the critical path when the difference is
about one Slack round trip (the final chat.update), not three.

Run: `python -m bench.bench_slack [--burst 50] [--delay-ms 100] [--reports 10] [--slack-ms 100]`.
Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path

from tests.support.dns_server import DnsServer, reverse_name
from tests.support.fake_slack import FakeSlack
from tests.support.slack_app import SECRET, SPAMCOP, TOKEN, BotProcess, catalogue_toml


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


#: The ack bursts, in the order they run.
BURSTS = ("known people", "new people", "new people, users.info held")

_runs = count()


def send_burst(bot: BotProcess, slack: FakeSlack, people: Sequence[str], tag: str) -> list[float]:
    """One slash command from each of `people` at once, each in its own channel.

    Returns each ack's latency in ms, once every ack is back; `reported` waits for the reports.
    """

    def one(n: int) -> float:
        started = time.perf_counter()
        ip = f"51.159.{n // 250}.{n % 250 + 1}"
        response = bot.command(ip, channel=f"C{tag}{n}", user=people[n])
        assert response.status_code == 200
        return (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(len(people)) as pool:
        return list(pool.map(one, range(len(people))))


def reported(slack: FakeSlack, tag: str, burst: int) -> None:
    """Wait until every channel of burst `tag` has its report."""
    channels = {f"C{tag}{n}" for n in range(burst)}
    slack.wait_for(
        lambda: channels <= {c.channel for c in slack.accepted("chat.update")}, timeout=60
    )


def ack_bursts(bot: BotProcess, slack: FakeSlack, burst: int) -> dict[str, list[float]]:
    """Ack latencies of `burst` commands at once: from known people, new ones, new ones held.

    Each burst's reports are all posted before the next burst starts.
    """
    run = next(_runs)
    known = [f"UK{run}x{n}" for n in range(burst)]
    send_burst(bot, slack, known, f"W{run}x")  # untimed: now the bot knows them
    reported(slack, f"W{run}x", burst)
    acks = {BURSTS[0]: send_burst(bot, slack, known, f"K{run}x")}
    reported(slack, f"K{run}x", burst)
    acks[BURSTS[1]] = send_burst(bot, slack, [f"UN{run}x{n}" for n in range(burst)], f"N{run}x")
    reported(slack, f"N{run}x", burst)
    gate = slack.hold("users.info")
    try:
        new = [f"UH{run}x{n}" for n in range(burst)]
        acks[BURSTS[2]] = send_burst(bot, slack, new, f"H{run}x")
    finally:
        gate.release()
    reported(slack, f"H{run}x", burst)
    return acks


def describe_acks(acks: dict[str, list[float]]) -> list[str]:
    burst = len(next(iter(acks.values())))
    lines = [f"ack latency, {burst} slash commands at once:"]
    for name, values in acks.items():
        lines.append(
            f"  {name + ':':30} p50 {percentile(values, 50):5.0f} ms, "
            f"p99 {percentile(values, 99):5.0f} ms, max {max(values):5.0f} ms"
        )
    return lines


def bot_environment(slack: FakeSlack, dns: DnsServer, zones: Path) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "SMTPCHECK_NAMESERVERS": dns.address,
        "SMTPCHECK_TIMEOUT": "2",
        "SMTPCHECK_ZONES": str(zones),
        "SMTPCHECK_USER_RATE": "0",
        "LOG_LEVEL": "WARNING",
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--delay-ms", type=float, default=100)
    parser.add_argument("--reports", type=int, default=10)
    parser.add_argument("--slack-ms", type=float, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack, DnsServer() as dns:
        zones = Path(tmp) / "zones.toml"
        zones.write_text(catalogue_toml())
        bot = BotProcess(bot_environment(slack, dns, zones), Path(tmp) / "bot.log").start()
        try:
            dns.delay = args.delay_ms / 1000
            bot.command("help", channel="CWARM")  # first request pays auth.test
            print("\n".join(describe_acks(ack_bursts(bot, slack, args.burst))))
            if args.reports:
                print("\n".join(report_times(bot, slack, dns, args)))
        finally:
            bot.stop()


def report_times(
    bot: BotProcess, slack: FakeSlack, dns: DnsServer, args: argparse.Namespace
) -> list[str]:
    """Command to posted report, with Slack answering at once and after `--slack-ms`."""
    slack_delay = args.slack_ms / 1000
    totals: dict[float, list[float]] = {0.0: [], slack_delay: []}
    for n in range(args.reports * 2):
        # A new address and domain each time, so nothing is cached: listed on SpamCop
        # (A, then its TXT reason), a PTR that resolves back (PTR, then A), and SPF
        # with one include (record, then the include).
        channel, ip = f"CR{n}", f"51.160.{n // 250}.{n % 250 + 1}"
        ptr, domain = f"relay{n}.example-mail.net", f"d{n}.example-mail.net"
        dns.add(reverse_name(ip, SPAMCOP), "A", "127.0.0.2")
        dns.add(reverse_name(ip, SPAMCOP), "TXT", "listed: see https://www.spamcop.net/")
        dns.add(reverse_name(ip, "in-addr.arpa"), "PTR", ptr + ".")
        dns.add(ptr, "A", ip)
        dns.add(domain, "TXT", f"v=spf1 include:_spf.{domain} -all")
        dns.add(f"_spf.{domain}", "TXT", f"v=spf1 ip4:{ip} -all")
        slack.delay = 0.0 if n % 2 == 0 else slack_delay  # interleaved: same load
        started = time.perf_counter()
        bot.command(f"{ip} {domain}", channel=channel, user="UR")
        report = slack.wait_for(
            lambda c=channel: [u for u in slack.accepted("chat.update", c)], timeout=30
        )[0]
        totals[slack.delay].append((time.perf_counter() - started) * 1000)
        if "SpamCop" not in report.all_text():
            raise SystemExit(f"unexpected report for {ip}: {report.all_text()[:300]}")
    slack.delay = 0.0
    base, slow = statistics.median(totals[0.0]), statistics.median(totals[slack_delay])
    lines = [
        "command to posted report (listed address, PTR + its A, SPF + one include; nothing "
        f"cached), DNS answers delayed {args.delay_ms:.0f} ms, 60 zones, {args.reports} reports each:",
        f"  Slack answering at once: median {base:.0f} ms, max {max(totals[0.0]):.0f} ms"
        + (f" (= {base / args.delay_ms:.1f} DNS round trips)" if args.delay_ms else ""),
        f"  Slack answering after d = {args.slack_ms:.0f} ms: median {slow:.0f} ms, "
        f"max {max(totals[slack_delay]):.0f} ms",
    ]
    if args.slack_ms:
        lines.append(
            f"  difference: {slow - base:.0f} ms = {(slow - base) / args.slack_ms:.2f} d "
            f"(ratio {slow / base:.2f}x the no-latency figure)"
        )
    return lines


if __name__ == "__main__":
    main()
