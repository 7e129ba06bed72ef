"""Slack app figures: ack latency under a burst, and time from command to posted report.

Runs `python -m bot` in HTTP mode against the fake Slack and the test DNS server, as the
end-to-end tests do. Ack latency is what Slack's 3-second rule measures; the report time
is what a person waits for, here with every DNS answer delayed by `--delay-ms`. The
report time is measured twice in the same run, samples interleaved: with the fake
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.dns_server import DnsServer, reverse_name
from tests.support.fake_slack import FakeSlack
from tests.support.slack_app import SECRET, SPAMCOP, TOKEN, BotProcess, catalogue_toml


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--delay-ms", type=float, default=100)
    parser.add_argument("--reports", type=int, default=10)
    parser.add_argument("--slack-ms", type=float, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack, DnsServer() as dns:
        zones = Path(tmp) / "zones.toml"
        zones.write_text(catalogue_toml())
        env = {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            "SMTPCHECK_NAMESERVERS": dns.address,
            "SMTPCHECK_TIMEOUT": "2",
            "SMTPCHECK_ZONES": str(zones),
            "SMTPCHECK_USER_RATE": "0",
            "LOG_LEVEL": "WARNING",
        }
        bot = BotProcess(env, Path(tmp) / "bot.log").start()
        try:
            dns.delay = args.delay_ms / 1000
            bot.command("help", channel="CWARM")  # first request pays auth.test

            def one(n: int) -> float:
                started = time.perf_counter()
                response = bot.command(
                    f"51.159.{n // 250}.{n % 250 + 1}", channel=f"CB{n}", user=f"U{n}"
                )
                assert response.status_code == 200
                return (time.perf_counter() - started) * 1000

            with ThreadPoolExecutor(args.burst) as pool:
                acks = list(pool.map(one, range(args.burst)))
            slack.wait_for(lambda: len(slack.find("chat.update")) >= args.burst, timeout=60)
            print(
                f"ack latency, {args.burst} slash commands at once: "
                f"p50 {percentile(acks, 50):.0f} ms, p99 {percentile(acks, 99):.0f} ms, max {max(acks):.0f} ms"
            )

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
            print(
                f"command to posted report (listed address, PTR + its A, SPF + one include; nothing cached), "
                f"DNS answers delayed {args.delay_ms:.0f} ms, 60 zones, {args.reports} reports each:"
            )
            print(
                f"  Slack answering at once: median {base:.0f} ms, max {max(totals[0.0]):.0f} ms "
                f"(= {base / args.delay_ms:.1f} DNS round trips)"
            )
            print(
                f"  Slack answering after d = {args.slack_ms:.0f} ms: median {slow:.0f} ms, "
                f"max {max(totals[slack_delay]):.0f} ms"
            )
            if args.slack_ms:
                print(
                    f"  difference: {slow - base:.0f} ms = {(slow - base) / args.slack_ms:.2f} d "
                    f"(ratio {slow / base:.2f}x the no-latency figure)"
                )
        finally:
            bot.stop()


if __name__ == "__main__":
    main()
