"""A monitor's run shared out over replicas: one bot process against two, same database.

Each measurement starts `--replicas` processes of `python -m bot` (HTTP mode) on one
fresh PostgreSQL schema, the fake Slack and the test DNS server (its own process,
`--delay-ms` on every answer), asks one of them to `monitor` a range, and times the
first run: from the command to the run being closed in the database, with the thread's
post checked. One replica and two are measured alternately, `--repeat` times each.

The catalogue is four lists, so the DNS server's CPU is not what bounds the run: each
replica's resolver spaces its questions to a list (100 a second), so one replica needs
about addresses / 100 seconds for a run, and two share the chunks and need half.

Run: `python -m bench.bench_monitor [--network 51.158.8.0/22] [--delay-ms 100] [--repeat 2]`.
Needs PostgreSQL on 127.0.0.1:5432 (database `test`). Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.bench_scale import ServerProcess
from bench.common import BenchmarkError, report
from bot.store import monitors, normalise_url
from handlers.dnsbl import query_name

NETWORK = "51.158.8.0/22"
LISTS = [
    ("zen.spamhaus.org", "Spamhaus ZEN"),
    ("bl.spamcop.net", "SpamCop"),
    ("b.barracudacentral.org", "Barracuda"),
    ("psbl.surriel.com", "PSBL"),
]
LISTED = {"51.158.8.7": "bl.spamcop.net", "51.158.11.250": "zen.spamhaus.org"}


def zones_toml() -> str:
    out = ["replace_builtin = true", ""]
    for zone, name in LISTS:
        out += [
            "[[list]]",
            f'zone = "{zone}"',
            f'name = "{name}"',
            "selftest = false",
            f'lookup_url = "https://{zone}/lookup?ip={{ip}}"',
            "",
        ]
    return "\n".join(out)


def _row(url: str) -> dict[str, Any] | None:
    engine = sa.create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(monitors)).mappings().first()
            return dict(row) if row else None
    finally:
        engine.dispose()


def one_run(replicas: int, network: str, server: tuple[str, int], tmp: Path) -> dict[str, Any]:
    from tests.support.databases import fresh_database
    from tests.support.fake_slack import FakeSlack
    from tests.support.slack_app import SECRET, TOKEN, BotProcess

    zones = tmp / "zones.toml"
    zones.write_text(zones_toml())
    with FakeSlack() as slack, fresh_database("postgresql", tmp) as url:
        env = {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            "SMTPCHECK_NAMESERVERS": f"{server[0]}:{server[1]}",
            "SMTPCHECK_TIMEOUT": "5",
            "SMTPCHECK_ZONES": str(zones),
            "SMTPCHECK_DATABASE_URL": url,
            "SMTPCHECK_USER_RATE": "1000",
            "SMTPCHECK_WATCH_POLL": "0.1",
            "LOG_LEVEL": "WARNING",
        }
        bots = [BotProcess(env, tmp / f"bot{n}-{replicas}.log").start() for n in range(replicas)]
        try:
            start = time.perf_counter()
            bots[0].command(f"monitor {network}", channel="C_BENCH")
            deadline = start + 600
            row = None
            while time.perf_counter() < deadline:
                row = _row(url)
                if row is not None and row["finished_run"] >= 1:
                    break
                time.sleep(0.05)
            seconds = time.perf_counter() - start
            if row is None or row["finished_run"] < 1:
                raise BenchmarkError(f"{replicas} replica(s): the run did not finish")
            net = ipaddress.ip_network(network)
            listed = sum(1 for ip in LISTED if ipaddress.ip_address(ip) in net)

            def thread_posts() -> list[str]:
                return [
                    c.all_text()
                    for c in slack.find("chat.postMessage", "C_BENCH")
                    if c.body.get("thread_ts")
                ]

            # The replica that closes the run tells the thread after closing it: wait for it.
            try:
                slack.wait_for(
                    lambda: any(
                        f"{listed} of {net.num_addresses} addresses" in text
                        for text in thread_posts()
                    ),
                    timeout=10,
                )
            except AssertionError:
                posts = thread_posts()
                raise BenchmarkError(
                    f"{replicas} replica(s): unexpected thread posts {posts}"
                ) from None
            return {
                "seconds": seconds,
                "chunks_by_replica": sorted((row["last_run_by"] or {}).values(), reverse=True),
            }
        finally:
            for bot in bots:
                bot.stop()


@dataclass
class Figures:
    network: str
    addresses: int
    lists: int
    delay_ms: float
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    median_seconds: dict[str, float] = field(default_factory=dict)
    ratio_two_vs_one: float = 0.0
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def measure(network: str, delay_ms: float, repeat: int) -> Figures:
    server = ServerProcess(delay_ms / 1000)
    try:
        server.call(
            "add", [(query_name(ip, zone), "A", ("127.0.0.2",)) for ip, zone in LISTED.items()]
        )
        runs: dict[str, list[dict[str, Any]]] = {"1": [], "2": []}
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(repeat):  # alternated, so load hits both alike
                for replicas in (1, 2):
                    folder = Path(tmp) / f"{replicas}-{n}"
                    folder.mkdir()
                    runs[str(replicas)].append(one_run(replicas, network, server.address, folder))
    finally:
        server.stop()
    figures = Figures(
        network=network,
        addresses=ipaddress.ip_network(network).num_addresses,
        lists=len(LISTS),
        delay_ms=delay_ms,
        runs=runs,
        load_average=os.getloadavg(),
    )
    for key, samples in runs.items():
        figures.median_seconds[key] = statistics.median(r["seconds"] for r in samples)
    figures.ratio_two_vs_one = figures.median_seconds["2"] / figures.median_seconds["1"]
    return figures


def render(f: Figures) -> str:
    lines = [
        f"monitor of {f.network} ({f.addresses} addresses, {f.lists} lists), {f.delay_ms:g} ms "
        f"on every answer; load average {', '.join(f'{x:.1f}' for x in f.load_average)} on "
        f"{os.cpu_count()} cores",
    ]
    for key, label in (("1", "one replica"), ("2", "two replicas")):
        samples = f.runs[key]
        shares = [r["chunks_by_replica"] for r in samples]
        lines.append(
            f"  {label:<13} first run {f.median_seconds[key]:6.2f} s (median of {len(samples)}: "
            f"{[round(r['seconds'], 2) for r in samples]}), chunks per replica {shares}"
        )
    lines.append(f"  two / one: {f.ratio_two_vs_one:.2f} (about half is the target)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_monitor", description=__doc__)
    parser.add_argument("--network", default=NETWORK, help="the range monitored (up to /22)")
    parser.add_argument("--delay-ms", type=float, default=100.0, help="added to every answer")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (median)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    return report(lambda: measure(args.network, args.delay_ms, args.repeat), render, args.json)


if __name__ == "__main__":
    sys.exit(main())
