"""Scale: a /24 over the whole catalogue, many engineers at once, memory and CPU, in one run.

Every figure is measured against the test DNS server (tests/support) on 127.0.0.1, run in
a process of its own so its CPU is not ours, with 100 ms added to every answer (0 ms for
the CPU figure). Each measurement runs in a fresh child process, so peak memory and CPU
time belong to that run alone.

- /24: ours vs pydnsbl (same zones, same server, the same concurrency cap: 200 by
  default, pydnsbl's own default) vs the theoretical bound, questions / cap x R (R: one
  round trip, measured in the same run).
- /20 (ours): wall time against the same bound, and peak resident memory, to show that a
  range's memory stays flat (a bounded window of addresses in flight).
- 20 concurrent full checks of one address on one resolver: questions sent, in sets of
  what one check asks, and wall time against one check.
- Peak resident memory (ru_maxrss) of the child that ran our /24.
- Questions per CPU-second (time.process_time of the child) on a 0 ms server.

pydnsbl builds an aiodns resolver from /etc/resolv.conf, whose server must never be asked:
that resolver is closed unused and replaced by one bound to 127.0.0.1 and the test port
before any question, and the run aborts unless the server's question log shows the probe
question, and then every blocklist question, arrived there.

Run: `python -m bench.bench_scale [--delay-ms 100] [--repeat 3] [--json]`. Nothing here
leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import multiprocessing
import multiprocessing.connection
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import BenchmarkError
from bench.common import report as print_figures
from bench.pydnsbl_loopback import NotLoopback, loopback_checker, loopback_resolv_conf
from handlers.catalogue import Zone, builtin
from handlers.dnsbl import SelfTestCache, query_name
from handlers.ptr import reverse_name
from handlers.settings import Settings

NETWORK = "51.158.10.0/24"
#: address -> zones that list it (reputation code 127.0.0.2, with a TXT reason).
LISTED: dict[str, tuple[str, ...]] = {
    "51.158.10.7": ("zen.spamhaus.org", "bl.spamcop.net"),
    "51.158.10.25": ("b.barracudacentral.org",),
    "51.158.10.99": ("bl.spamcop.net",),
    "51.158.10.130": ("zen.spamhaus.org",),
    "51.158.10.201": ("b.barracudacentral.org", "bl.spamcop.net"),
    "51.158.10.250": ("zen.spamhaus.org",),
}
FULL_IP = "51.158.12.22"
#: Every listed address of the zone data (the full-check address is listed on ZEN).
LISTED_ALL: dict[str, tuple[str, ...]] = {**LISTED, FULL_IP: ("zen.spamhaus.org",)}
DOMAIN = "example-mail.net"
PTR_NAME = "mail.example-mail.net"
SPF_INCLUDE = "_spf.shop-example.de"
PROBE_NAME = "probe.example-mail.net"
PROBE_ADDRESS = "51.158.12.99"
ENGINEERS = 20
#: The concurrency cap both checkers run at: pydnsbl's default.
CAP = 200
#: The terminal's widest range, around the /24 and the full-check address.
WIDE_NETWORK = "51.158.0.0/20"
#: Seconds a question may take, for both checkers: pydnsbl's default (5 s), because a
#: CPU-bound server on a small machine can be slower than our usual 2 s.
TIMEOUT = 5.0

Address = tuple[str, int]
Record = tuple[str, str, tuple[str, ...]]


# ---- zone data ------------------------------------------------------------------------------


def ipv4_zones() -> tuple[Zone, ...]:
    return tuple(z for z in builtin() if z.ipv4)


def _positive_code(zone: Zone) -> str:
    for code in ["127.0.0.2", *(c.replace("*", "10") for c in zone.codes)]:
        if zone.code(code) is not None and code not in zone.error_codes:
            return code
    raise BenchmarkError(f"{zone.zone}: no documented listing code to serve")


def records(zones: Sequence[Zone]) -> list[Record]:
    """Test points of every list, six listed addresses in the /24, and one full-check address."""
    out: list[Record] = []
    for zone in zones:
        if zone.selftest:
            out.append((query_name("127.0.0.2", zone.zone), "A", (_positive_code(zone),)))
    known = {z.zone for z in zones}
    for ip, listing in LISTED.items():
        for zone_name in listing:
            if zone_name in known:
                out.append((query_name(ip, zone_name), "A", ("127.0.0.2",)))
                out.append((query_name(ip, zone_name), "TXT", (f"listed: see {zone_name}",)))
    out += [
        (query_name(FULL_IP, "zen.spamhaus.org"), "A", ("127.0.0.2",)),
        (query_name(FULL_IP, "zen.spamhaus.org"), "TXT", ("https://www.spamhaus.org/sbl/",)),
        (reverse_name(FULL_IP), "PTR", (PTR_NAME + ".",)),
        (PTR_NAME, "A", (FULL_IP,)),
        (DOMAIN, "TXT", (f"v=spf1 include:{SPF_INCLUDE} -all",)),
        (SPF_INCLUDE, "TXT", ("v=spf1 ip4:51.158.12.0/24 -all",)),
        (PROBE_NAME, "A", (PROBE_ADDRESS,)),
    ]
    return out


# ---- the DNS server in a process of its own ---------------------------------------------------


def _server_main(conn: multiprocessing.connection.Connection, delay: float) -> None:
    from tests.support.dns_server import DnsServer

    server = DnsServer(delay=delay)
    conn.send(server.start())
    while True:
        op, arg = conn.recv()
        reply: Any = None
        if op == "add":
            for name, rdtype, values in arg:
                server.add(name, rdtype, *values)
        elif op == "delay":
            server.delay = arg
        elif op == "count":
            reply = len(server.log)
        elif op == "cpu":
            reply = time.process_time()
        elif op == "since":
            reply = [(q.name, q.rdtype) for q in server.questions()[arg:]]
        elif op == "stop":
            server.stop()
            conn.send(None)
            return
        conn.send(reply)


class ServerProcess:
    """tests.support.dns_server.DnsServer in a child process, driven over a pipe."""

    def __init__(self, delay: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_server_main, args=(child, delay), daemon=True)
        self._process.start()
        host, port = self._conn.recv()
        if not ipaddress.ip_address(host).is_loopback:
            raise BenchmarkError(f"the test DNS server must be on loopback, not {host}")
        self.address: Address = (host, port)

    def call(self, op: str, arg: Any = None) -> Any:
        self._conn.send((op, arg))
        return self._conn.recv()

    def count(self) -> int:
        return int(self.call("count"))

    def since(self, start: int) -> list[tuple[str, str]]:
        return [tuple(q) for q in self.call("since", start)]  # type: ignore[misc]

    def stop(self) -> None:
        self.call("stop")
        self._process.join(5)


# ---- the measured runs, each in a child process -------------------------------------------------


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _round_trip(address: Address) -> float:
    import dns.asyncresolver  # imported on the first question otherwise: not a round trip

    from handlers.dns.resolver import Resolver

    del dns
    resolver = Resolver([address], timeout=TIMEOUT)
    start = time.perf_counter()
    answer = await resolver.lookup(PROBE_NAME, "A")
    if answer.records != (PROBE_ADDRESS,):
        raise BenchmarkError(f"round trip: unexpected answer {answer}")
    return time.perf_counter() - start


async def _ours_range(address: Address, network: str, cap: int) -> dict[str, Any]:
    from bot.config import make_resolver
    from handlers.ranges import TERMINAL_MIN_PREFIX, check_range

    settings = Settings(
        catalogue=ipv4_zones(), nameservers=(address,), timeout=TIMEOUT, max_in_flight=cap
    )
    resolver = make_resolver(settings)
    rss_before = _rss_mb()
    cpu, start = time.process_time(), time.perf_counter()
    result = await check_range(
        network, resolver, settings, cache=SelfTestCache(), min_prefix=TERMINAL_MIN_PREFIX
    )
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    listed = {row.address: set(row.lists) for row in result.rows if row.lists}
    names = {z.zone: z.name for z in settings.catalogue}
    net = ipaddress.ip_network(network)
    expected = {
        ip: {names[z] for z in zones}
        for ip, zones in LISTED_ALL.items()
        if ipaddress.ip_address(ip) in net
    }
    wrong = {ip for ip in expected.keys() | listed.keys() if listed.get(ip) != expected.get(ip)}
    unchecked = {row.address for row in result.rows if row.unavailable}
    if wrong - unchecked or result.addresses != net.num_addresses:
        raise BenchmarkError(f"ours: wrong result: {result.summary}; listed {listed}")
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "questions": resolver.questions_sent,
        "txt_questions": resolver.sent_by_type["TXT"],
        "addresses": result.addresses,
        "cap": settings.max_in_flight,
        "per_list_rate": settings.per_list_rate,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _rss_mb(),
        "summary": result.summary,
        "failed": sum(len(row.unavailable) for row in result.rows),
    }


async def _pydnsbl_range(
    address: Address,
    conn: multiprocessing.connection.Connection,
    resolv_conf: str,
    network: str,
    cap: int,
) -> dict[str, Any]:
    host, port = address
    zones = ipv4_zones()
    try:
        checker, resolver = await loopback_checker(
            [z.zone for z in zones], host, port, TIMEOUT, resolv_conf, concurrency=cap
        )
    except NotLoopback as exc:
        raise BenchmarkError(str(exc)) from None
    try:
        probe = await resolver.query(PROBE_NAME, "A")
        conn.send(("probed", [r.host for r in probe]))
        if conn.recv() != "go":
            raise BenchmarkError("pydnsbl's resolver does not ask the test server: aborting")
        ips = [str(ip) for ip in ipaddress.ip_network(network)]
        cpu, start = time.process_time(), time.perf_counter()
        results = await asyncio.gather(*(checker.check_async(ip) for ip in ips))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        await resolver.close()
    listed = {r.addr: set(r.detected_by) for r in results if r.detected_by}
    failed = sum(len(r.failed_providers) for r in results)
    net = ipaddress.ip_network(network)
    expected = {ip: set(z) for ip, z in LISTED.items() if ipaddress.ip_address(ip) in net}
    shaky = {r.addr for r in results if r.failed_providers}
    wrong = {ip for ip in expected.keys() | listed.keys() if listed.get(ip) != expected.get(ip)}
    if wrong - shaky:
        raise BenchmarkError(f"pydnsbl: wrong result ({failed} failed questions)")
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "questions": len(ips) * len(zones),
        "cap": cap,
        "peak_rss_mb": _rss_mb(),
        "version": metadata.version("pydnsbl"),
        "failed": failed,
    }


async def _many_full(address: Address) -> dict[str, Any]:
    from handlers.check import full_check
    from handlers.dns.resolver import Resolver
    from handlers.report import Report

    settings = Settings(catalogue=ipv4_zones(), nameservers=(address,), timeout=TIMEOUT)

    def verify(report: Report) -> None:
        if report.verdict != "fail" or report.checks["spf"].status != "ok":
            raise BenchmarkError(f"full check: unexpected report {report.to_json()['checks']}")

    one = Resolver([address], timeout=TIMEOUT)
    start = time.perf_counter()
    verify(await full_check(FULL_IP, DOMAIN, one, settings))
    one_seconds = time.perf_counter() - start
    shared = Resolver([address], timeout=TIMEOUT)
    start = time.perf_counter()
    reports = await asyncio.gather(
        *(full_check(FULL_IP, DOMAIN, shared, settings) for _ in range(ENGINEERS))
    )
    many_seconds = time.perf_counter() - start
    for report in reports:
        verify(report)
    return {
        "one_questions": one.questions_sent,
        "one_seconds": one_seconds,
        "many_questions": shared.questions_sent,
        "many_seconds": many_seconds,
        # Questions the shared resolver sent beyond one check's: each was asked twice.
        "many_duplicates": max(0, shared.questions_sent - one.questions_sent),
    }


def _child_main(
    conn: multiprocessing.connection.Connection,
    kind: str,
    address: Address,
    extra: str,
    network: str,
    cap: int,
) -> None:
    try:
        if kind == "round_trip":
            value: Any = asyncio.run(_round_trip(address))
        elif kind == "ours_range":
            value = asyncio.run(_ours_range(address, network, cap))
        elif kind == "pydnsbl_range":
            value = asyncio.run(_pydnsbl_range(address, conn, extra, network, cap))
        elif kind == "many_full":
            value = asyncio.run(_many_full(address))
        else:
            raise BenchmarkError(f"unknown run {kind}")
        conn.send(("ok", value))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


def run_child(
    server: ServerProcess,
    kind: str,
    extra: str = "",
    network: str = NETWORK,
    cap: int = CAP,
) -> tuple[Any, list[tuple[str, str]]]:
    """Run one measurement in a fresh process; its value and the questions the server got."""
    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    start, server_cpu = server.count(), server.call("cpu")
    process = ctx.Process(
        target=_child_main, args=(child, kind, server.address, extra, network, cap)
    )
    process.start()
    try:
        while True:
            message = conn.recv()
            if message[0] == "probed":  # pydnsbl's resolver asked its probe: did it reach us?
                asked = server.since(start)
                ok = message[1] == [PROBE_ADDRESS] and asked == [(PROBE_NAME, "A")]
                conn.send("go" if ok else "abort")
                continue
            status, value = message
            break
    finally:
        process.join(30)
    if status != "ok":
        raise BenchmarkError(f"{kind}: {value}")
    if isinstance(value, dict):
        value["server_cpu_seconds"] = server.call("cpu") - server_cpu
    return value, server.since(start)


# ---- the whole run ------------------------------------------------------------------------------


@dataclass
class Figures:
    delay_ms: float
    lists: int
    addresses: int
    round_trip_ms: float
    range_ours: dict[str, Any] = field(default_factory=dict)
    range_pydnsbl: dict[str, Any] = field(default_factory=dict)
    bound_seconds: float = 0.0
    ratios: dict[str, float] = field(default_factory=dict)
    sharing: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, Any] = field(default_factory=dict)
    range_wide: dict[str, Any] = field(default_factory=dict)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _median_run(
    server: ServerProcess,
    kind: str,
    repeat: int,
    extra: str = "",
    network: str = NETWORK,
    cap: int = CAP,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    runs = [run_child(server, kind, extra, network, cap) for _ in range(repeat)]
    runs.sort(key=lambda r: r[0]["seconds"])
    value, asked = runs[len(runs) // 2]
    value["samples_seconds"] = [round(r[0]["seconds"], 3) for r in runs]
    value["peak_rss_mb"] = max(r[0]["peak_rss_mb"] for r in runs)
    return value, asked


def _verify_ours_traffic(
    run: dict[str, Any], asked: list[tuple[str, str]], zones: Sequence[Zone], network: str
) -> None:
    """Every question the server got was one of ours, and (nearly) all of ours got there.

    A CPU-bound server drops some datagrams (they count as timeouts) and a late answer is
    asked again (a retransmission the server logs twice): so distinct questions are
    counted, and each must be an address of the range or a test point under our zones.
    """
    points = [str(ip) for ip in ipaddress.ip_network(network)] + ["127.0.0.1", "127.0.0.2"]
    wanted = {(query_name(ip, z.zone), "A") for ip in points for z in zones}
    distinct = set(asked)
    if not distinct <= wanted or len(distinct) < 0.9 * run["questions"]:
        raise BenchmarkError(
            f"ours: sent {run['questions']} but the server saw {len(distinct)} distinct, "
            f"{len(distinct - wanted)} not ours"
        )


def _verify_pydnsbl_traffic(
    asked: list[tuple[str, str]], zones: Sequence[Zone], network: str = NETWORK
) -> None:
    """Every question the server got was pydnsbl's, and (nearly) all of them got there.

    The probe already showed its resolver asks the test server; a busy server may drop
    a few datagrams (pydnsbl counts those as failed), so 90% must arrive, not all.
    """
    wanted = {
        (query_name(str(ip), z.zone), "A") for ip in ipaddress.ip_network(network) for z in zones
    }
    arrived = set(asked) - {(PROBE_NAME, "A")}
    if not arrived <= wanted or len(arrived) < 0.9 * len(wanted):
        raise BenchmarkError("pydnsbl's questions did not reach the test server: aborting")


def measure(
    delay_ms: float,
    repeat: int,
    with_pydnsbl: bool,
    *,
    cap: int = CAP,
    network: str = NETWORK,
    wide_network: str | None = WIDE_NETWORK,
) -> Figures:
    """Every figure, in one run: both checkers at the same cap `cap`."""
    zones = ipv4_zones()
    server = ServerProcess(delay_ms / 1000)
    try:
        server.call("add", records(zones))
        with tempfile.TemporaryDirectory() as tmp:
            resolv_conf = loopback_resolv_conf(Path(tmp))
            round_trips = [run_child(server, "round_trip")[0] for _ in range(5)]
            figures = Figures(
                delay_ms=delay_ms,
                lists=sum(1 for z in zones if z.kind != "allow"),
                addresses=ipaddress.ip_network(network).num_addresses,
                round_trip_ms=round(statistics.median(round_trips) * 1000, 2),
                load_average=os.getloadavg(),
            )
            ours, asked = _median_run(server, "ours_range", repeat, network=network, cap=cap)
            _verify_ours_traffic(ours, asked, zones, network)
            figures.range_ours = ours
            r = figures.round_trip_ms / 1000
            figures.bound_seconds = ours["questions"] / ours["cap"] * r
            figures.ratios["ours_vs_bound"] = ours["seconds"] / figures.bound_seconds
            if with_pydnsbl:
                theirs, asked = _median_run(
                    server, "pydnsbl_range", repeat, str(resolv_conf), network, cap
                )
                _verify_pydnsbl_traffic(asked, zones, network)
                theirs["bound_seconds"] = theirs["questions"] / theirs["cap"] * r
                figures.range_pydnsbl = theirs
                figures.ratios["pydnsbl_vs_bound"] = theirs["seconds"] / figures.bound_seconds
                figures.ratios["ours_vs_pydnsbl"] = ours["seconds"] / theirs["seconds"]
            if wide_network is not None:
                wide, asked = run_child(server, "ours_range", "", wide_network, cap)
                _verify_ours_traffic(wide, asked, zones, wide_network)
                wide["bound_seconds"] = wide["questions"] / wide["cap"] * r
                wide["network"] = wide_network
                figures.range_wide = wide
                figures.ratios["wide_vs_bound"] = wide["seconds"] / wide["bound_seconds"]
            sharing, asked = run_child(server, "many_full")
            if len(asked) > sharing["one_questions"] + sharing["many_questions"]:
                raise BenchmarkError("sharing: the server saw other questions than were sent")
            sharing["sets"] = sharing["many_questions"] / sharing["one_questions"]
            sharing["time_vs_one"] = sharing["many_seconds"] / sharing["one_seconds"]
            figures.sharing = sharing
            server.call("delay", 0.0)
            cpu_ours, _ = run_child(server, "ours_range", "", network, cap)
            figures.cpu["ours_questions_per_cpu_second"] = (
                cpu_ours["questions"] / cpu_ours["cpu_seconds"]
            )
            figures.cpu["ours_seconds"] = cpu_ours["seconds"]
            if with_pydnsbl:
                cpu_theirs, asked = run_child(
                    server, "pydnsbl_range", str(resolv_conf), network, cap
                )
                _verify_pydnsbl_traffic(asked, zones, network)
                figures.cpu["pydnsbl_questions_per_cpu_second"] = (
                    cpu_theirs["questions"] / cpu_theirs["cpu_seconds"]
                )
                figures.cpu["pydnsbl_seconds"] = cpu_theirs["seconds"]
                figures.ratios["cpu_ours_vs_pydnsbl"] = (
                    figures.cpu["ours_questions_per_cpu_second"]
                    / figures.cpu["pydnsbl_questions_per_cpu_second"]
                )
    finally:
        server.stop()
    return figures


# ---- output -------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def render(f: Figures) -> str:
    ours, theirs, share, cpu = f.range_ours, f.range_pydnsbl, f.sharing, f.cpu
    bound = f.bound_seconds
    lines = [
        f"smtpcheck scale benchmark: test DNS server in its own process on 127.0.0.1, "
        f"{f.delay_ms:g} ms added to every answer; load average "
        f"{', '.join(f'{x:.1f}' for x in f.load_average)} on {os.cpu_count()} cores",
        f"one round trip R = {f.round_trip_ms:.1f} ms; {f.lists} blocklists (+ allow-lists) for "
        f"IPv4; caps: ours {ours['cap']} questions in flight"
        + (f", pydnsbl {theirs['cap']}" if theirs else "")
        + f"; our per-list rate {ours['per_list_rate']:g}/s",
        "",
        f"/{32 - (f.addresses - 1).bit_length()} ({f.addresses} addresses), median of "
        f"{len(ours['samples_seconds'])}:"
        f"{'seconds':>17} {'questions':>10} {'x bound':>8} {'x pydnsbl':>10}",
        f"  {'theoretical bound (questions / cap x R)':<44} {bound:7.2f} {ours['questions']:>10}"
        f" {1:8.2f}",
    ]
    vs_theirs = f"{f.ratios['ours_vs_pydnsbl']:10.2f}" if theirs else ""
    lines.append(
        f"  {'smtpcheck':<44} {ours['seconds']:7.2f} {ours['questions']:>10}"
        f" {f.ratios['ours_vs_bound']:8.2f}{vs_theirs}"
    )
    if theirs:
        label = f"pydnsbl {theirs['version']} (concurrency {theirs['cap']})"
        lines.append(
            f"  {label:<44} {theirs['seconds']:7.2f} {theirs['questions']:>10}"
            f" {f.ratios['pydnsbl_vs_bound']:8.2f} {1:9.2f}"
        )
        lines.append(
            f"  (pydnsbl's own bound at its concurrency: {theirs['bound_seconds']:.2f} s; it asks "
            "no RFC 5782 self-test; neither asks TXT reasons in a range: "
            f"ours sent {ours['txt_questions']} TXT)"
        )
    lines += [
        f"  samples, s: ours {ours['samples_seconds']}"
        + (f", pydnsbl {theirs['samples_seconds']}" if theirs else ""),
        f"  ours: {ours['summary']}",
        "  where the time went, wall / client CPU / DNS server CPU (s): "
        + "; ".join(
            f"{name} {run['seconds']:.2f} / {run['cpu_seconds']:.2f} / {run['server_cpu_seconds']:.2f}"
            for name, run in (("ours", ours), ("pydnsbl", theirs))
            if run
        ),
        "  list answers missing (timeouts; a busy server drops datagrams): "
        + "; ".join(
            f"{name} {run['failed']}" for name, run in (("ours", ours), ("pydnsbl", theirs)) if run
        ),
        f"  target within 1.05x of the bound: {_verdict(f.ratios['ours_vs_bound'] <= 1.05)}"
        + (
            f"; no slower than pydnsbl at the same cap: "
            f"{_verdict(f.ratios['ours_vs_pydnsbl'] <= 1.0)}"
            if theirs
            else ""
        ),
        "",
        f"peak RSS of the process that ran our range: {ours['peak_rss_mb']:.0f} MB "
        f"(of which interpreter and imports before the run: {ours['rss_before_mb']:.0f} MB)",
        "",
    ]
    wide = f.range_wide
    if wide:
        lines += [
            f"{wide['network']} ({wide['addresses']} addresses, ours, one run): "
            f"{wide['seconds']:.2f} s for {wide['questions']} questions; bound "
            f"{wide['bound_seconds']:.2f} s = {f.ratios['wide_vs_bound']:.2f}x; "
            f"peak RSS {wide['peak_rss_mb']:.0f} MB; missing answers {wide['failed']}",
            f"  where the time went, wall / client CPU / DNS server CPU (s): "
            f"{wide['seconds']:.2f} / {wide['cpu_seconds']:.2f} / {wide['server_cpu_seconds']:.2f}",
            f"  targets: within 1.1x of the bound {_verdict(f.ratios['wide_vs_bound'] <= 1.1)}; "
            f"under 150 MB {_verdict(wide['peak_rss_mb'] < 150)}",
            "",
        ]
    lines += [
        f"{ENGINEERS} concurrent full checks of {FULL_IP} (blocklists, PTR, SPF) on one resolver:",
        f"  one check: {share['one_questions']} questions, {share['one_seconds']:.2f} s",
        f"  {ENGINEERS} at once: {share['many_questions']} questions = {share['sets']:.2f} set(s), "
        f"{share['many_duplicates']} asked twice; {share['many_seconds']:.2f} s = "
        f"{share['time_vs_one']:.2f}x one check; target one set: {_verdict(share['sets'] == 1)}",
        "",
        "CPU, 0 ms server, the /24 (client process only; the server runs in another):",
        f"  smtpcheck: {cpu['ours_questions_per_cpu_second']:,.0f} questions per CPU-second"
        f" (wall {cpu['ours_seconds']:.2f} s)",
    ]
    if theirs:
        lines += [
            f"  pydnsbl:   {cpu['pydnsbl_questions_per_cpu_second']:,.0f} questions per CPU-second"
            f" (wall {cpu['pydnsbl_seconds']:.2f} s)",
            f"  ratio ours/pydnsbl: {f.ratios['cpu_ours_vs_pydnsbl']:.2f}",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_scale", description=__doc__)
    parser.add_argument("--delay-ms", type=float, default=100.0, help="added to every answer")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each /24 (median)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-pydnsbl", action="store_true", help="skip the pydnsbl comparison")
    parser.add_argument("--cap", type=int, default=CAP, help="questions in flight, both checkers")
    parser.add_argument("--no-wide", action="store_true", help=f"skip the {WIDE_NETWORK} run")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.delay_ms <= 0:
        parser.error("--repeat must be at least 1 and --delay-ms more than 0")
    with_pydnsbl = not args.no_pydnsbl
    if with_pydnsbl:
        try:
            metadata.version("pydnsbl")
        except metadata.PackageNotFoundError:
            parser.error("pydnsbl is not installed: pip install -e '.[bench]' (or --no-pydnsbl)")
    return print_figures(
        lambda: measure(
            args.delay_ms,
            args.repeat,
            with_pydnsbl,
            cap=args.cap,
            wide_network=None if args.no_wide else WIDE_NETWORK,
        ),
        render,
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
