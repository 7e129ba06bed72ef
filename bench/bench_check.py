"""How long one full check takes, counted in DNS round trips, against a slow DNS server.

Why round trips: on a real network the time of a check is set by how many answers it
must wait for one after another, not by CPU. The test DNS server (tests/support) adds
the same delay to every answer, so dividing a check's wall time by the time of one
lookup (R, measured in the same run) gives the length of its critical path. Ours should
be about 2-3 (list answers then the TXT of listings; PTR then its A; SPF record then its
include, all at once); a checker that asks zone after zone pays about one per zone.

With a domain the check also reads DMARC (the RFC 9989 walk, all names at once, then
alignment with the SPF result) and DKIM (about 20 common selectors at once, one of them a
CNAME). What that adds is the full check with the domain minus the same check of the
address alone, in R, from the same run.

pydnsbl is measured on the same zones and the same server for comparison. Its checker
builds an aiodns resolver from /etc/resolv.conf, which must never be asked: that
resolver is closed unused and replaced by one bound to the test server on loopback
(with its own resolv.conf), and the run aborts unless the server's question log shows
pydnsbl's questions arrived there.

Run: `python -m bench.bench_check [--json] [--delay-ms 100] [--repeat 5] [--zones N]`.
Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from bench.common import BenchmarkError, report
from bench.pydnsbl_loopback import NotLoopback, loopback_checker, loopback_resolv_conf
from handlers.catalogue import Zone, builtin
from handlers.check import full_check
from handlers.dkim import DkimResult
from handlers.dmarc import DmarcResult
from handlers.dns.resolver import Resolver
from handlers.dnsbl import DnsblResult, check_dnsbl, query_name
from handlers.ptr import PtrResult, reverse_name
from handlers.report import Report
from handlers.settings import Settings
from handlers.spf import SpfResult
from tests.support.dns_server import DnsServer
from tests.support.mail_auth import DKIM_KEY_2048

T = TypeVar("T")

TARGET_IP = "51.158.10.22"
#: Checked (untimed) to fill the self-test cache of a resolver before a "warm" run.
PRIMING_IP = "51.158.10.23"
DOMAIN = "example-mail.net"
PTR_NAME = "mail.example-mail.net"
SPF_INCLUDE = "_spf.shop-example.de"
#: The name one round trip (R) and pydnsbl's resolver check ask for.
PROBE_NAME = "probe.example-mail.net"
PROBE_ADDRESS = "51.158.10.99"
#: Where the Microsoft-style CNAME at selector1._domainkey.DOMAIN leads.
DKIM_TARGET = "selector1-example-mail-net._domainkey.examplemail.onmicrosoft.com"

#: zone -> (code, TXT reason): two reputation listings and a policy (PBL) listing on ZEN.
LISTINGS: dict[str, tuple[str, str]] = {
    "zen.spamhaus.org": ("127.0.0.10", f"https://www.spamhaus.org/query/ip/{TARGET_IP}"),
    "bl.spamcop.net": ("127.0.0.2", f"Blocked - see https://www.spamcop.net/bl.shtml?{TARGET_IP}"),
    "b.barracudacentral.org": (
        "127.0.0.2",
        f"http://www.barracudanetworks.com/reputation/?pr=1&ip={TARGET_IP}",
    ),
}


# ---- zone data -------------------------------------------------------------------------------


def positive_code(zone: Zone) -> str:
    """An answer the zone documents as a listing, for its RFC 5782 positive test point."""
    candidates = ["127.0.0.2", *(c.replace("*", "10") for c in zone.codes)]
    for code in candidates:
        if zone.code(code) is not None and code not in zone.error_codes:
            return code
    raise BenchmarkError(f"{zone.zone}: no documented listing code to serve")


def serve(server: DnsServer, zones: Sequence[Zone]) -> None:
    """Zone data for one address: three listings with reasons, PTR -> A, SPF with an include."""
    for zone in zones:
        if zone.selftest:
            server.add(query_name("127.0.0.2", zone.zone), "A", positive_code(zone))
        if zone.zone in LISTINGS:
            code, reason = LISTINGS[zone.zone]
            server.add(query_name(TARGET_IP, zone.zone), "A", code)
            server.add(query_name(TARGET_IP, zone.zone), "TXT", reason)
    server.add(reverse_name(TARGET_IP), "PTR", PTR_NAME + ".")
    server.add(PTR_NAME, "A", TARGET_IP)
    server.add(DOMAIN, "TXT", f"v=spf1 include:{SPF_INCLUDE} -all")
    server.add(SPF_INCLUDE, "TXT", "v=spf1 ip4:51.158.10.0/24 -all")
    server.add(PROBE_NAME, "A", PROBE_ADDRESS)
    server.add(f"_dmarc.{DOMAIN}", "TXT", f"v=DMARC1; p=reject; rua=mailto:dmarc@{DOMAIN}")
    server.add(f"selector1._domainkey.{DOMAIN}", "CNAME", f"{DKIM_TARGET}.")
    server.add(DKIM_TARGET, "TXT", f"v=DKIM1; k=rsa; p={DKIM_KEY_2048}")


def ipv4_zones(zone_limit: int = 0) -> tuple[Zone, ...]:
    """The catalogue zones asked about an IPv4 address (the first `zone_limit`, if given)."""
    zones = tuple(z for z in builtin() if z.ipv4)
    return zones[:zone_limit] if zone_limit > 0 else zones


# ---- checking that what was measured is right ---------------------------------------------------


def expected_listed(zones: Sequence[Zone]) -> set[str]:
    return {z.zone for z in zones if z.zone in LISTINGS}


def verify_dnsbl(result: object, zones: Sequence[Zone]) -> None:
    if not isinstance(result, DnsblResult):
        raise BenchmarkError(f"dnsbl: expected a DnsblResult, got {type(result).__name__}")
    listed = {item.zone: item.txt for item in result.listed}
    if set(listed) != expected_listed(zones):
        raise BenchmarkError(f"dnsbl: listed on {sorted(listed)}, expected {LISTINGS.keys()}")
    for zone, txt in listed.items():
        if txt != LISTINGS[zone][1]:
            raise BenchmarkError(f"dnsbl: {zone} TXT reason {txt!r} was not fetched")
    blocklists = {z.zone for z in zones if z.kind != "allow"}
    if set(result.clean) != blocklists - set(listed) or result.unavailable:
        raise BenchmarkError(f"dnsbl: unexpected clean/unavailable: {result.unavailable}")


def verify_report(report: Report, zones: Sequence[Zone]) -> None:
    verify_dnsbl(report.checks["dnsbl"], zones)
    ptr = report.checks["ptr"]
    if not (isinstance(ptr, PtrResult) and ptr.names == [PTR_NAME] and ptr.forward_confirmed):
        raise BenchmarkError(f"ptr: not the forward-confirmed {PTR_NAME}: {ptr}")
    spf = report.checks["spf"]
    if not (isinstance(spf, SpfResult) and spf.result == "pass"):
        raise BenchmarkError(f"spf: expected pass through the include, got {spf}")
    dmarc = report.checks.get("dmarc")
    if not (isinstance(dmarc, DmarcResult) and dmarc.policy == "reject" and dmarc.spf_aligned):
        raise BenchmarkError(f"dmarc: expected p=reject with SPF aligned, got {dmarc}")
    dkim = report.checks.get("dkim")
    if not (isinstance(dkim, DkimResult) and [k.cname for k in dkim.selectors] == [DKIM_TARGET]):
        raise BenchmarkError(f"dkim: expected the key behind selector1's CNAME, got {dkim}")


# ---- what is measured -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    ms: float
    #: Questions our resolver sent (None for pydnsbl) and questions the server received.
    sent: int | None
    logged: int


@dataclass(frozen=True)
class Measure:
    """One measurement repeated: wall times, their median, and the median in round trips."""

    label: str
    samples_ms: tuple[float, ...]
    median_ms: float
    round_trips: float
    questions_sent: tuple[int | None, ...]
    questions_logged: tuple[int, ...]
    #: Median with no delay added: the CPU and loopback cost (with a delay, part of it
    #: overlaps the waiting, so it is context, not something to subtract).
    floor_ms: float | None = None


@dataclass(frozen=True)
class Figures:
    ip: str
    zones: int
    delay_ms: float
    repeat: int
    round_trip_ms: float
    measures: dict[str, Measure]
    #: ours / pydnsbl for the blocklist part, by our self-test cache state ("cold", "warm").
    ratios: dict[str, float] = field(default_factory=dict)
    #: (full check with the domain - the same check of the address alone) / R, warm.
    domain_added_round_trips: float | None = None
    pydnsbl_version: str | None = None
    #: The machine's CPUs and 1-minute load when the run started (other work skews the figures).
    cpus: int = 0
    load_average: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Bench:
    """The runs, each against a fresh resolver so no answer for the target is cached."""

    def __init__(self, server: DnsServer, zones: Sequence[Zone]) -> None:
        self.server = server
        self.zones = tuple(zones)
        self.address = (server.host, server.port)
        self.settings = Settings(catalogue=self.zones, nameservers=(self.address,))

    def resolver(self) -> Resolver:
        return Resolver([self.address])

    def logged(self) -> int:
        return len(self.server.questions())

    async def timed(
        self, run: Callable[[], Awaitable[T]], sent: Callable[[], int | None]
    ) -> tuple[Sample, T]:
        before_sent, before_logged = sent(), self.logged()
        start = time.perf_counter()
        value = await run()
        ms = (time.perf_counter() - start) * 1000
        after_sent = sent()
        delta = None if after_sent is None or before_sent is None else after_sent - before_sent
        return Sample(ms, delta, self.logged() - before_logged), value

    async def round_trip(self) -> Sample:
        resolver = self.resolver()
        sample, answer = await self.timed(
            lambda: resolver.lookup(PROBE_NAME, "A"), lambda: resolver.questions_sent
        )
        if answer.records != (PROBE_ADDRESS,):
            raise BenchmarkError(f"round trip: unexpected answer {answer}")
        return sample

    async def warm(self) -> Resolver:
        """A fresh resolver whose self-test cache is filled by checking another address."""
        resolver = self.resolver()
        await check_dnsbl(PRIMING_IP, resolver, self.settings)
        return resolver

    async def full(self, *, warm: bool) -> Sample:
        resolver = await self.warm() if warm else self.resolver()
        sample, report = await self.timed(
            lambda: full_check(TARGET_IP, DOMAIN, resolver, self.settings),
            lambda: resolver.questions_sent,
        )
        verify_report(report, self.zones)
        return sample

    async def address_only(self) -> Sample:
        """The full check without a domain (blocklists and PTR): the baseline of what a domain adds."""
        resolver = await self.warm()
        sample, report = await self.timed(
            lambda: full_check(TARGET_IP, None, resolver, self.settings),
            lambda: resolver.questions_sent,
        )
        verify_dnsbl(report.checks["dnsbl"], self.zones)
        if "dmarc" in report.checks or "spf" not in report.checks:
            raise BenchmarkError(f"address only: unexpected checks {sorted(report.checks)}")
        return sample

    async def blocklists(self, *, warm: bool) -> Sample:
        resolver = await self.warm() if warm else self.resolver()
        sample, result = await self.timed(
            lambda: check_dnsbl(TARGET_IP, resolver, self.settings),
            lambda: resolver.questions_sent,
        )
        verify_dnsbl(result, self.zones)
        return sample

    async def one_by_one(self) -> Sample:
        """A naive checker on our resolver: each zone's A, then TXT if listed, zone by zone."""
        resolver = self.resolver()

        async def run() -> dict[str, tuple[str, ...]]:
            listed: dict[str, tuple[str, ...]] = {}
            for zone in self.zones:
                name = query_name(TARGET_IP, zone.zone)
                if (await resolver.lookup(name, "A")).outcome == "answer":
                    listed[zone.zone] = (await resolver.lookup(name, "TXT")).records
            return listed

        sample, listed = await self.timed(run, lambda: resolver.questions_sent)
        if set(listed) != expected_listed(self.zones):
            raise BenchmarkError(f"one by one: listed on {sorted(listed)}")
        return sample

    async def pydnsbl(self, resolv_conf: Path) -> Sample:
        """pydnsbl's checker with its resolver swapped for one bound to the test server."""
        host, port = self.address
        try:
            checker, resolver = await loopback_checker(
                [z.zone for z in self.zones], host, port, 2.0, resolv_conf
            )
        except NotLoopback as exc:
            raise BenchmarkError(str(exc)) from None
        try:
            before = self.logged()
            probe = await resolver.query(PROBE_NAME, "A")
            asked = [q.name for q in self.server.questions()[before:]]
            if [r.host for r in probe] != [PROBE_ADDRESS] or asked != [PROBE_NAME]:
                raise BenchmarkError("pydnsbl's resolver does not ask the test server: aborting")
            start = self.logged()
            sample, result = await self.timed(lambda: checker.check_async(TARGET_IP), lambda: None)
            arrived = {(q.name, q.rdtype) for q in self.server.questions()[start:]}
            wanted = {(query_name(TARGET_IP, z.zone), "A") for z in self.zones}
            if not wanted <= arrived:
                raise BenchmarkError(
                    "pydnsbl's questions did not all reach the test server: aborting"
                )
            if result.failed_providers or set(result.detected_by) != expected_listed(self.zones):
                raise BenchmarkError(f"pydnsbl: unexpected result {result!r}")
            return sample
        finally:
            await resolver.close()


async def repeated(times: int, run: Callable[[], Awaitable[Sample]]) -> list[Sample]:
    return [await run() for _ in range(times)]


def summarise(
    label: str,
    samples: Sequence[Sample],
    round_trip_ms: float,
    floor: Sequence[Sample] = (),
) -> Measure:
    median = statistics.median(s.ms for s in samples)
    floor_ms = statistics.median(s.ms for s in floor) if floor else None
    return Measure(
        label=label,
        samples_ms=tuple(round(s.ms, 2) for s in samples),
        median_ms=round(median, 2),
        round_trips=round(median / round_trip_ms, 2),
        questions_sent=tuple(s.sent for s in samples),
        questions_logged=tuple(s.logged for s in samples),
        floor_ms=None if floor_ms is None else round(floor_ms, 2),
    )


async def measure(
    *, delay_ms: float = 100.0, repeat: int = 5, zone_limit: int = 0, with_pydnsbl: bool = True
) -> Figures:
    """Start the slow test server, run every measurement `repeat` times, return the medians.

    With a delay, every measurement is then repeated with no delay added, to show how much
    of it is CPU (the floor) rather than waiting.
    """
    zones = ipv4_zones(zone_limit)
    load = os.getloadavg()[0]
    with DnsServer(delay=delay_ms / 1000) as server, tempfile.TemporaryDirectory() as tmp:
        serve(server, zones)
        resolv_conf = loopback_resolv_conf(Path(tmp))
        bench = Bench(server, zones)
        await bench.full(warm=False)  # untimed: imports, threads and sockets warm up first
        runs: dict[str, tuple[str, Callable[[], Awaitable[Sample]]]] = {
            "round_trip": ("one DNS round trip (R)", bench.round_trip),
            "full_cold": (
                "full check, fresh resolver (self-test included)",
                lambda: bench.full(warm=False),
            ),
            "full_warm": ("full check, self-test cached", lambda: bench.full(warm=True)),
            "address_only_warm": ("same, address only (no DMARC/DKIM)", bench.address_only),
            "blocklists_cold": (
                "blocklists, ours, fresh resolver",
                lambda: bench.blocklists(warm=False),
            ),
            "blocklists_warm": (
                "blocklists, ours, self-test cached",
                lambda: bench.blocklists(warm=True),
            ),
            "one_by_one": ("blocklists, one zone at a time", bench.one_by_one),
        }
        version = None
        if with_pydnsbl:
            version = metadata.version("pydnsbl")
            runs["pydnsbl"] = (f"blocklists, pydnsbl {version}", lambda: bench.pydnsbl(resolv_conf))
        samples = {key: await repeated(repeat, run) for key, (_, run) in runs.items()}
        floors: dict[str, list[Sample]] = {}
        if delay_ms:
            server.delay = 0.0
            floors = {key: await repeated(repeat, run) for key, (_, run) in runs.items()}
    round_trip_ms = statistics.median(s.ms for s in samples["round_trip"])
    measures = {
        key: summarise(label, samples[key], round_trip_ms, floors.get(key, ()))
        for key, (label, _) in runs.items()
    }
    ratios = {}
    if "pydnsbl" in measures:
        theirs = measures["pydnsbl"].median_ms
        ratios = {
            state: round(measures[f"blocklists_{state}"].median_ms / theirs, 2)
            for state in ("cold", "warm")
        }
    added = (
        measures["full_warm"].median_ms - measures["address_only_warm"].median_ms
    ) / round_trip_ms
    return Figures(
        domain_added_round_trips=round(added, 2),
        ip=TARGET_IP,
        zones=len(zones),
        delay_ms=delay_ms,
        repeat=repeat,
        round_trip_ms=round(round_trip_ms, 2),
        measures=measures,
        ratios=ratios,
        pydnsbl_version=version,
        cpus=os.cpu_count() or 0,
        load_average=round(load, 2),
    )


# ---- output -----------------------------------------------------------------------------------


def _questions(measure: Measure) -> str:
    def span(values: Sequence[int | None]) -> str:
        known = [v for v in values if v is not None]
        if not known:
            return "-"
        low, high = min(known), max(known)
        return str(low) if low == high else f"{low}-{high}"

    return f"{span(measure.questions_sent)} / {span(measure.questions_logged)}"


def _spread(measure: Measure) -> str:
    return f"{min(measure.samples_ms):.0f}-{max(measure.samples_ms):.0f}"


def render_table(figures: Figures) -> str:
    lines = [
        f"smtpcheck full check of {figures.ip}: {figures.zones} blocklist zones + PTR + SPF "
        f"with one include + DMARC + DKIM at ~20 selectors; {figures.delay_ms:g} ms added to every answer; "
        f"median of {figures.repeat}; {figures.cpus} CPUs, load {figures.load_average:g}",
        "",
        f"{'':48} {'ms':>8} {'in R':>6} {'min-max ms':>11} {'floor ms':>9}   questions sent / seen",
    ]
    for measure in figures.measures.values():
        lines.append(
            f"{measure.label:48} {measure.median_ms:8.1f} {measure.round_trips:6.2f}"
            f" {_spread(measure):>11} {'-' if measure.floor_ms is None else f'{measure.floor_ms:.1f}':>9}"
            f"   {_questions(measure)}"
        )
    if figures.domain_added_round_trips is not None:
        lines.append("")
        lines.append(
            f"{'added by the domain (SPF, DMARC, DKIM), in R':48} "
            f"{figures.domain_added_round_trips:8.2f}"
        )
    if figures.ratios:
        lines.append("")
        for state, ratio in figures.ratios.items():
            cache = "fresh resolver" if state == "cold" else "self-test cached"
            lines.append(f"{'ratio ours/pydnsbl, blocklists, ' + cache:48} {ratio:8.2f}")
    if figures.delay_ms:
        lines += [
            "",
            "in R: median / R (the wall time in round trips).",
            "floor: median of the same run with no delay added: CPU and loopback cost, which",
            "with a delay partly overlaps the waiting.",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_check", description=__doc__)
    parser.add_argument("--delay-ms", type=float, default=100.0, help="added to every answer")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement")
    parser.add_argument("--zones", type=int, default=0, help="only the first N zones (0: all)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-pydnsbl", action="store_true", help="skip the pydnsbl comparison")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.delay_ms < 0 or not math.isfinite(args.delay_ms):
        parser.error("--repeat must be at least 1 and --delay-ms a number >= 0")
    with_pydnsbl = not args.no_pydnsbl
    if with_pydnsbl:
        try:
            metadata.version("pydnsbl")
        except metadata.PackageNotFoundError:
            parser.error("pydnsbl is not installed: pip install -e '.[bench]' (or --no-pydnsbl)")
    return report(
        lambda: asyncio.run(
            measure(
                delay_ms=args.delay_ms,
                repeat=args.repeat,
                zone_limit=args.zones,
                with_pydnsbl=with_pydnsbl,
            )
        ),
        render_table,
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
