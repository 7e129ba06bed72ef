"""Memory: the bot's resident size after many distinct checks on one resolver reaches a plateau.

The Slack bot keeps one resolver for its lifetime. Every distinct check asks about names
nobody asks again (an address's blocklist questions, its PTR, a domain's SPF, DMARC and
DKIM), so a cache that only drops an answer when its question comes back, or a record of
every name ever sent, grows with every check. Here one process runs N distinct full checks
(a new address and a new mail domain each, ten at a time) on one resolver, as the bot does,
and reads its resident size (after a garbage collection) after `--at` checks and after all
of them. The same run is made twice, each in a fresh process: with the resolver's bounded
cache (the default `dns_cache_size`) and, as the baseline, with a cache too large to ever
evict (what the resolver did before it was bounded, minus the names it kept).

The test DNS server (tests/support) answers on 127.0.0.1 from a process of its own, so its
memory is not counted. Run: `python -m bench.bench_memory [--checks 1000] [--at 100] [--json]`.
Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import multiprocessing.connection
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from bench.bench_scale import Address, ServerProcess
from bench.common import BenchmarkError
from handlers.catalogue import builtin
from handlers.dns.resolver import DEFAULT_CACHE_SIZE
from handlers.settings import Settings

#: Checks run at once, as a busy bot does.
BATCH = 10
#: A cache this large never evicts within a run: the baseline.
UNBOUNDED = 10**9
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def address(n: int) -> str:
    """The n-th distinct public test address (51.158.0.0/16 and on)."""
    return f"51.{158 + n // 65536}.{n // 256 % 256}.{n % 256}"


def rss_mb() -> float:
    """Resident size now (not the peak), after a full garbage collection."""
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_MB


@dataclass
class Run:
    """One child's figures: resident size after `at` and after all checks, cache entries."""

    cache_size: int
    checks: int
    at: int
    rss_start_mb: float
    rss_at_mb: float
    rss_end_mb: float
    cached_at: int
    cached_end: int
    questions: int
    seconds: float

    @property
    def growth_mb(self) -> float:
        """Resident size gained between `at` checks and the end."""
        return self.rss_end_mb - self.rss_at_mb


async def _checks(server: Address, checks: int, at: int, cache_size: int, zones: int) -> Run:
    import time

    from bot.config import make_resolver
    from handlers.check import full_check

    settings = Settings(
        catalogue=builtin()[:zones] if zones else builtin(),
        nameservers=(server,),
        timeout=5.0,
        dns_cache_size=cache_size,
    )
    resolver = make_resolver(settings)
    started = time.perf_counter()
    try:
        await full_check(address(0), "warm-up.example-mail.net", resolver, settings)
        start = rss_mb()
        at_mb, cached_at = start, resolver.cached
        for first in range(1, checks + 1, BATCH):
            batch = range(first, min(first + BATCH, checks + 1))
            reports = await asyncio.gather(
                *(
                    full_check(address(n), f"d{n}.example-mail.net", resolver, settings)
                    for n in batch
                )
            )
            for report in reports:
                if "dnsbl" not in report.checks:
                    raise BenchmarkError(f"a check without blocklists: {report.to_json()}")
            if batch[-1] == at:
                at_mb, cached_at = rss_mb(), resolver.cached
        return Run(
            cache_size=cache_size,
            checks=checks,
            at=at,
            rss_start_mb=start,
            rss_at_mb=at_mb,
            rss_end_mb=rss_mb(),
            cached_at=cached_at,
            cached_end=resolver.cached,
            questions=resolver.questions_sent,
            seconds=time.perf_counter() - started,
        )
    finally:
        resolver.close()


def _child_main(conn: multiprocessing.connection.Connection, args: tuple[Any, ...]) -> None:
    try:
        conn.send(("ok", asdict(asyncio.run(_checks(*args)))))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


def run_child(server: ServerProcess, checks: int, at: int, cache_size: int, zones: int) -> Run:
    """One run in a fresh process, so its resident size is its own."""
    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    process = ctx.Process(
        target=_child_main, args=(child, (server.address, checks, at, cache_size, zones))
    )
    process.start()
    try:
        status, value = conn.recv()
    finally:
        process.join(30)
    if status != "ok":
        raise BenchmarkError(value)
    return Run(**value)


@dataclass
class Figures:
    bounded: Run
    unbounded: Run

    def to_json(self) -> dict[str, Any]:
        return {
            "bounded": {**asdict(self.bounded), "growth_mb": self.bounded.growth_mb},
            "unbounded": {**asdict(self.unbounded), "growth_mb": self.unbounded.growth_mb},
        }


def measure(checks: int, at: int, zones: int = 0, cache_size: int = DEFAULT_CACHE_SIZE) -> Figures:
    if not 0 < at < checks or at % BATCH:
        raise BenchmarkError(f"--at must be a multiple of {BATCH} below --checks")
    server = ServerProcess(0.0)
    try:
        bounded = run_child(server, checks, at, cache_size, zones)
        unbounded = run_child(server, checks, at, UNBOUNDED, zones)
    finally:
        server.stop()
    if bounded.cached_end > cache_size:
        raise BenchmarkError(f"the cache holds {bounded.cached_end} answers, over {cache_size}")
    return Figures(bounded, replace(unbounded, cache_size=0))


def render(f: Figures) -> str:
    b, u = f.bounded, f.unbounded
    rows = [
        ("", f"bounded cache ({b.cache_size:,})", "baseline (never evicts)"),
        ("resident MB at start", f"{b.rss_start_mb:.1f}", f"{u.rss_start_mb:.1f}"),
        (f"resident MB after {b.at:,} checks", f"{b.rss_at_mb:.1f}", f"{u.rss_at_mb:.1f}"),
        (f"resident MB after {b.checks:,} checks", f"{b.rss_end_mb:.1f}", f"{u.rss_end_mb:.1f}"),
        (
            f"growth from {b.at:,} to {b.checks:,} (MB)",
            f"{b.growth_mb:+.1f}",
            f"{u.growth_mb:+.1f}",
        ),
        ("answers cached at the end", f"{b.cached_end:,}", f"{u.cached_end:,}"),
        ("questions sent", f"{b.questions:,}", f"{u.questions:,}"),
        ("seconds", f"{b.seconds:.1f}", f"{u.seconds:.1f}"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{r[0]:<{width}}  {r[1]:>24}  {r[2]:>24}" for r in rows]
    ratio = b.growth_mb / u.growth_mb if u.growth_mb > 0 else float("nan")
    plateau = "yes" if b.growth_mb < 10 else "NO"
    lines.append(
        f"\nplateau (growth under 10 MB): {plateau}; bounded growth / baseline growth = {ratio:.2f}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--at", type=int, default=100)
    parser.add_argument("--zones", type=int, default=0, help="first N catalogue zones (0: all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = measure(args.checks, args.at, args.zones)
    print(json.dumps(figures.to_json(), indent=2) if args.json else render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
