"""The benchmark's code path, run once with no delay and four zones, so it cannot rot.

No timing is asserted (that is what running the benchmark by hand is for): only that
every measurement ran, checked its result and came back as well-formed figures.
"""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

from bench.bench_check import (
    LISTINGS,
    BenchmarkError,
    Figures,
    ipv4_zones,
    main,
    measure,
    render_table,
    verify_dnsbl,
)
from handlers.dnsbl import DnsblResult

HAS_PYDNSBL = importlib.util.find_spec("pydnsbl") is not None
ZONES = 4  # ZEN, SpamCop and Barracuda (the listings) and one clean list
OURS = (
    "full_cold",
    "full_warm",
    "address_only_warm",
    "blocklists_cold",
    "blocklists_warm",
    "one_by_one",
)


def _well_formed(figures: Figures) -> None:
    assert figures.zones == ZONES
    assert figures.round_trip_ms > 0
    for key, item in figures.measures.items():
        assert len(item.samples_ms) == figures.repeat, key
        assert all(math.isfinite(ms) and ms > 0 for ms in item.samples_ms), key
        # round_trips is rounded to 2 decimals: a tiny median needs the absolute tolerance.
        assert item.round_trips == pytest.approx(
            item.median_ms / figures.round_trip_ms, rel=0.05, abs=0.006
        )
    for key in OURS:
        item = figures.measures[key]
        # Everything our resolver sent reached the test server, and nothing else did.
        assert item.questions_sent == item.questions_logged, key
        assert all(n is not None and n > 0 for n in item.questions_sent), key


async def test_measure_runs_every_path_and_returns_figures() -> None:
    figures = await measure(delay_ms=0, repeat=1, zone_limit=ZONES, with_pydnsbl=HAS_PYDNSBL)
    _well_formed(figures)
    expected = {"round_trip", *OURS} | ({"pydnsbl"} if HAS_PYDNSBL else set())
    assert set(figures.measures) == expected
    sent = {key: figures.measures[key].questions_sent[0] or 0 for key in OURS}
    # A cached self-test saves its two questions per zone; one-by-one asks A + TXT of listings.
    assert sent["blocklists_cold"] - sent["blocklists_warm"] == 2 * ZONES
    assert sent["one_by_one"] == ZONES + len(LISTINGS)
    assert sent["full_cold"] > sent["blocklists_cold"]
    # The domain adds SPF, the DMARC walk and the common DKIM selectors to the same check.
    assert sent["full_warm"] - sent["address_only_warm"] > 20
    assert figures.domain_added_round_trips is not None
    assert "added by the domain" in render_table(figures)
    if HAS_PYDNSBL:
        assert figures.measures["pydnsbl"].questions_logged == (ZONES,)
        assert set(figures.ratios) == {"cold", "warm"}
        assert all(r > 0 for r in figures.ratios.values())
    table = render_table(figures)
    assert "one DNS round trip (R)" in table and "full check, self-test cached" in table


async def test_measure_with_a_delay_also_measures_the_floor() -> None:
    figures = await measure(delay_ms=5, repeat=1, zone_limit=ZONES, with_pydnsbl=False)
    _well_formed(figures)
    # The round trip waits for one delayed answer at least.
    assert figures.round_trip_ms >= 5
    for key, item in figures.measures.items():
        assert item.floor_ms is not None and item.floor_ms > 0, key
    assert "floor" in render_table(figures)


def test_command_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--delay-ms", "0", "--repeat", "1", "--zones", str(ZONES), "--json", "--no-pydnsbl"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["zones"] == ZONES and data["round_trip_ms"] > 0
    assert data["measures"]["full_cold"]["median_ms"] > 0


def test_a_wrong_result_aborts_the_benchmark() -> None:
    """The benchmark refuses to time a check that did not find the listings it serves."""
    with pytest.raises(BenchmarkError):
        verify_dnsbl(DnsblResult(status="ok", summary=""), ipv4_zones(ZONES))


def test_startup_benchmark_times_each_command_against_an_empty_interpreter() -> None:
    from bench.bench_startup import measure as measure_startup
    from bench.bench_startup import render as render_startup

    figures = measure_startup(runs=1)
    assert set(figures.median_ms) == {
        "python -c pass",
        "smtpcheck bl IP",
        "import bot.terminal.cli",
        "import bot.store",
    }
    assert all(ms > 0 for ms in figures.median_ms.values())
    assert figures.ratios["smtpcheck bl IP"] == pytest.approx(
        figures.median_ms["smtpcheck bl IP"] / figures.median_ms["python -c pass"], rel=0.01
    )
    assert "x python -c pass" in render_startup(figures)


def test_scale_benchmark_runs_both_checkers_at_one_cap_and_a_wider_range() -> None:
    from bench.bench_scale import measure as measure_scale
    from bench.bench_scale import render as render_scale

    figures = measure_scale(
        1,
        1,
        HAS_PYDNSBL,
        cap=50,
        network="51.158.10.0/28",
        wide_network="51.158.10.0/26",
    )
    ours = figures.range_ours
    assert ours["cap"] == 50 and ours["addresses"] == 16 and ours["txt_questions"] == 0
    if HAS_PYDNSBL:
        assert figures.range_pydnsbl["cap"] == 50
        assert figures.ratios["ours_vs_pydnsbl"] > 0
    assert figures.range_wide["addresses"] == 64
    assert figures.ratios["wide_vs_bound"] > 0 and figures.range_wide["peak_rss_mb"] > 0
    text = render_scale(figures)
    assert "caps: ours 50" in text and "51.158.10.0/26 (64 addresses" in text


def test_burst_benchmark_times_each_report_in_both_modes() -> None:
    from bench.bench_burst import MODES
    from bench.bench_burst import measure as measure_burst
    from bench.bench_burst import render as render_burst

    figures = measure_burst(checks=6, delay_ms=1, repeat=1, zone_limit=3)
    assert set(figures.modes) == set(MODES)
    for mode in figures.modes.values():
        assert 0 < mode["median_s"] <= mode["last_s"]
        assert mode["alone_s"] > 0 and 0 < mode["ideal_median_vs_last"] <= 1
        assert mode["questions"] > 6 * 3
    text = render_burst(figures)
    assert "median/last" in text and "ideal" in text


def test_the_memory_benchmark_runs_both_caches() -> None:
    """bench_memory's whole path (server process, two child runs, table), tiny and untimed."""
    from bench.bench_memory import measure as measure_memory
    from bench.bench_memory import render as render_memory

    figures = measure_memory(checks=30, at=10, zones=2, cache_size=50)
    for run in (figures.bounded, figures.unbounded):
        assert run.checks == 30 and run.at == 10
        assert run.rss_start_mb > 0 and run.rss_at_mb > 0 and run.rss_end_mb > 0
        assert run.questions > 30  # every check asked its own questions
    assert figures.bounded.cached_end <= 50 < figures.unbounded.cached_end
    assert "plateau" in render_memory(figures)


def test_monitor_benchmark_runs_one_and_two_replicas() -> None:
    from bench.bench_monitor import measure as measure_monitor
    from bench.bench_monitor import render as render_monitor

    figures = measure_monitor("51.158.8.0/25", delay_ms=1, repeat=1)
    assert set(figures.median_seconds) == {"1", "2"}
    assert figures.runs["1"][0]["chunks_by_replica"] == [2]
    assert sum(figures.runs["2"][0]["chunks_by_replica"]) == 2
    assert figures.ratio_two_vs_one > 0
    assert "two replicas" in render_monitor(figures)


def test_bounce_benchmark_times_hostile_pastes_against_prose() -> None:
    """bench_bounce's whole path on two inputs, once, untimed: figures well formed."""
    from bench.bench_bounce import measure as measure_bounce
    from bench.bench_bounce import render as render_bounce

    figures = measure_bounce(repeat=1, names=["brackets", "rbl"])
    assert figures.prose_ms > 0 and set(figures.inputs) == {"brackets", "rbl"}
    for item in figures.inputs.values():
        assert item["ms"] > 0 and item["scan_ms"] > 0
        assert item["x_prose"] == pytest.approx(item["ms"] / figures.prose_ms, rel=0.05, abs=0.01)
    assert figures.worst in figures.inputs
    assert "x prose" in render_bounce(figures)


def test_the_slack_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """bench_slack end to end, with two commands a burst and one report each way."""
    from bench import bench_slack

    bench_slack.main(["--burst", "2", "--delay-ms", "0", "--reports", "1", "--slack-ms", "5"])
    out = capsys.readouterr().out
    assert "ack latency, 2 slash commands at once:" in out
    for name in bench_slack.BURSTS:
        assert f"  {name}:" in out
    assert "command to posted report" in out and "difference:" in out
