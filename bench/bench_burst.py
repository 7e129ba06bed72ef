"""A burst of full checks on one resolver: when does each report arrive?

An incident brings many commands at once. Each full check is a few chains of questions
(blocklists then a listing's TXT, PTR then the name's A, SPF then its include, DMARC, the
common DKIM selectors). When all of them share the resolver's cap, first come, first
served makes every check wait behind everyone's questions; the resolver's default
(handlers.dns.priority) lets the oldest check's questions in first. This benchmark runs
the same burst both ways in the same run and reports when each check's report was ready:
median, 90th percentile and last, and median / last (the target is under 0.5: most
people get their answer well before the burst is over).

No order can beat one thing: when the burst is bound by throughput (the cap, the
per-list rate, the CPU), the k-th report cannot come before k checks' worth of work is
done. The `ideal` column is that bound: the checks one after another at the throughput
the burst had, plus one check's own chain of round trips, measured alone in the same run.
With identical checks it is at least 0.5, so it says how close to the best order we are.

Every check has its own address, PTR name and SPF domain with an include, so nothing is
shared but the blocklists' self-test, primed once beforehand as in a running bot. The
test DNS server runs in its own process on 127.0.0.1 with `--delay-ms` on every answer.

Run: `python -m bench.bench_burst [--checks 200] [--delay-ms 100] [--repeat 3] [--json]`.
Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.bench_scale import TIMEOUT, ServerProcess, ipv4_zones, records
from bench.common import BenchmarkError, report
from handlers.catalogue import Zone
from handlers.dnsbl import prime_selftests
from handlers.ptr import reverse_name
from handlers.settings import Settings

MODES = {"first come, first served": False, "oldest check first": True}


def address(n: int) -> str:
    return f"51.159.{n // 250}.{n % 250 + 1}"


def burst_records(checks: int) -> list[tuple[str, str, tuple[str, ...]]]:
    """Per check: a PTR that confirms, an SPF record with an include that passes."""
    out = []
    for n in range(checks):
        ip, name = address(n), f"mail-{n}.example-mail.net"
        domain, include = f"d{n}.example-mail.net", f"_spf{n}.shop-example.de"
        out += [
            (reverse_name(ip), "PTR", (name + ".",)),
            (name, "A", (ip,)),
            (domain, "TXT", (f"v=spf1 include:{include} -all",)),
            (include, "TXT", (f"v=spf1 ip4:{ip} -all",)),
        ]
    return out


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def one_burst(
    server: tuple[str, int], zones: tuple[Zone, ...], checks: int, oldest_first: bool
) -> dict[str, Any]:
    from handlers.check import full_check
    from handlers.dns.resolver import Resolver

    settings = Settings(catalogue=zones, nameservers=(server,), timeout=TIMEOUT)
    resolver = Resolver(
        [server],
        timeout=TIMEOUT,
        max_in_flight=settings.max_in_flight,
        per_list_rate=settings.per_list_rate,
        oldest_first=oldest_first,
    )
    # The self-test, as a running bot has it: in the process cache, keyed to this resolver.
    await prime_selftests(4, resolver, settings)
    try:
        start = time.perf_counter()
        ready: list[float] = []

        async def one(n: int) -> None:
            # The bot's full check: blocklists (listing then TXT), PTR then A, SPF then its
            # include, DMARC and the common DKIM selectors, all at once.
            report = await full_check(address(n), f"d{n}.example-mail.net", resolver, settings)
            ready.append(time.perf_counter() - start)
            spf, ptr = report.checks["spf"], report.checks["ptr"]
            if spf.status != "ok" or ptr.status not in ("ok", "warn"):
                raise BenchmarkError(
                    f"check {n}: SPF {spf.status} ({spf.summary}), PTR {ptr.status}"
                )

        # One check alone first: its time is the chain of round trips no order can shorten.
        alone_start = time.perf_counter()
        await one(checks)
        alone = time.perf_counter() - alone_start
        ready.clear()
        start = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(checks)))
    finally:
        resolver.close()
    last = max(ready)
    return {
        "alone_s": alone,
        # The best any order can do at the throughput this burst had: the checks one after
        # another, the median done halfway through the work, plus one check's own chain.
        "ideal_median_vs_last": (alone + (last - alone) / 2) / last,
        "median_s": statistics.median(ready),
        "p90_s": percentile(ready, 90),
        "last_s": last,
        "questions": resolver.questions_sent,
    }


@dataclass
class Figures:
    checks: int
    delay_ms: float
    repeat: int
    cap: int
    modes: dict[str, dict[str, Any]] = field(default_factory=dict)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def measure(checks: int, delay_ms: float, repeat: int, zone_limit: int | None = None) -> Figures:
    zones = ipv4_zones()[:zone_limit] if zone_limit else ipv4_zones()
    server = ServerProcess(delay_ms / 1000)
    try:
        server.call("add", records(zones))
        server.call("add", burst_records(checks + 1))  # + the one run alone
        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        # Untimed: the first burst of a process pays one-time costs (imports, threads).
        asyncio.run(one_burst(server.address, zones, min(checks, 5), True))
        for _ in range(repeat):  # alternated, so load hits both modes alike
            for mode, first in MODES.items():
                runs[mode].append(asyncio.run(one_burst(server.address, zones, checks, first)))
    finally:
        server.stop()
    figures = Figures(
        checks=checks,
        delay_ms=delay_ms,
        repeat=repeat,
        cap=Settings().max_in_flight,
        load_average=os.getloadavg(),
    )
    for mode, samples in runs.items():
        samples.sort(key=lambda r: r["last_s"])
        middle = samples[len(samples) // 2]
        figures.modes[mode] = {
            **middle,
            "median_vs_last": middle["median_s"] / middle["last_s"],
            "samples_median_s": [round(r["median_s"], 3) for r in samples],
            "samples_last_s": [round(r["last_s"], 3) for r in samples],
        }
    return figures


def render(f: Figures) -> str:
    lines = [
        f"{f.checks} full checks at once on one resolver (cap {f.cap}), {f.delay_ms:g} ms on "
        f"every answer, the run with the median last report of {f.repeat}; load average "
        f"{', '.join(f'{x:.1f}' for x in f.load_average)} on {os.cpu_count()} cores",
        f"  {'mode':<26} {'median s':>9} {'p90 s':>7} {'last s':>7} {'median/last':>12} "
        f"{'ideal':>6} {'questions':>10}",
    ]
    for mode, m in f.modes.items():
        lines.append(
            f"  {mode:<26} {m['median_s']:9.2f} {m['p90_s']:7.2f} {m['last_s']:7.2f} "
            f"{m['median_vs_last']:12.2f} "
            f"{m['ideal_median_vs_last']:6.2f} {m['questions']:>10}"
        )
    ours = f.modes["oldest check first"]
    lines += [
        "  ideal: median/last if the checks ran one after another at the burst's throughput,",
        "  plus one check's own chain of round trips (measured alone): no order does better.",
        f"target median under half the last: {'met' if ours['median_vs_last'] < 0.5 else 'NOT met'}"
        f" ({ours['median_vs_last']:.2f}; ideal {ours['ideal_median_vs_last']:.2f})",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_burst", description=__doc__)
    parser.add_argument("--checks", type=int, default=200, help="full checks started at once")
    parser.add_argument("--delay-ms", type=float, default=100.0, help="added to every answer")
    parser.add_argument("--repeat", type=int, default=3, help="bursts per mode (median)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.checks < 1 or args.repeat < 1 or args.delay_ms < 0:
        parser.error("--checks and --repeat must be at least 1, --delay-ms at least 0")
    return report(lambda: measure(args.checks, args.delay_ms, args.repeat), render, args.json)


if __name__ == "__main__":
    sys.exit(main())
