"""Start-up: `smtpcheck bl IP` against `python -c pass`, interleaved in one run.

Run as a Nagios/Icinga check every minute, the terminal command's cost is mostly the
interpreter starting and importing modules, so the figure that matters is its wall time
as a multiple of an empty interpreter's, measured side by side (the machine's load
moves both). The DNS server is the test server in a process of its own on 127.0.0.1
with no delay, serving the catalogue's RFC 5782 test points, so what is left is start-up
and CPU. Each run is checked: exit code 0 and a clean verdict.

Also shown, for where the time goes: the import of `bot.terminal.cli` alone, and the
store (SQLAlchemy + Alembic), which the command must not pay for without a database.

Run: `python -m bench.bench_startup [--runs 15] [--json]`. Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.bench_scale import ServerProcess, ipv4_zones, records
from bench.common import BenchmarkError, report

#: A public-looking address the test server lists nowhere.
ADDRESS = "51.158.10.22"
#: The target of the issue: `smtpcheck bl IP` under this many `python -c pass`.
TARGET = 8.0


def smtpcheck_argv() -> list[str]:
    """The console script beside this interpreter, as an operator's cron job runs it."""
    script = Path(sys.executable).with_name("smtpcheck")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from bot.terminal.cli import main; sys.exit(main())"]


def _timed(
    argv: Sequence[str], env: dict[str, str]
) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    return time.perf_counter() - start, done


@dataclass
class Figures:
    runs: int
    median_ms: dict[str, float] = field(default_factory=dict)
    samples_ms: dict[str, list[float]] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def measure(runs: int) -> Figures:
    server = ServerProcess(0.0)
    try:
        server.call("add", records(ipv4_zones()))
        host, port = server.address
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SMTPCHECK_", "SLACK_", "SPAMHAUS_"))
        }
        env["SMTPCHECK_NAMESERVERS"] = f"{host}:{port}"
        commands: dict[str, list[str]] = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "smtpcheck bl IP": [*smtpcheck_argv(), "bl", ADDRESS],
            "import bot.terminal.cli": [sys.executable, "-c", "import bot.terminal.cli"],
            "import bot.store": [sys.executable, "-c", "import bot.store"],
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):  # interleaved: a burst of load hits every command alike
            for name, argv in commands.items():
                seconds, done = _timed(argv, env)
                if done.returncode != 0:
                    raise BenchmarkError(f"{name}: exit {done.returncode}: {done.stderr[-500:]}")
                if name == "smtpcheck bl IP" and "clean" not in done.stdout.lower():
                    raise BenchmarkError(f"{name}: not the clean report expected: {done.stdout}")
                samples[name].append(seconds * 1000)
    finally:
        server.stop()
    figures = Figures(runs=runs, load_average=os.getloadavg())
    for name, values in samples.items():
        figures.samples_ms[name] = [round(v, 1) for v in values]
        figures.median_ms[name] = round(statistics.median(values), 1)
    empty = figures.median_ms["python -c pass"]
    for name in commands:
        if name != "python -c pass":
            figures.ratios[name] = round(figures.median_ms[name] / empty, 2)
    return figures


def render(f: Figures) -> str:
    empty = f.median_ms["python -c pass"]
    lines = [
        f"start-up, medians of {f.runs} interleaved runs (load average "
        f"{', '.join(f'{x:.1f}' for x in f.load_average)} on {os.cpu_count()} cores):",
        f"  {'command':<26} {'ms':>8} {'x python -c pass':>17}",
        f"  {'python -c pass':<26} {empty:8.1f} {1:17.2f}",
    ]
    for name, ratio in f.ratios.items():
        lines.append(f"  {name:<26} {f.median_ms[name]:8.1f} {ratio:17.2f}")
    ratio = f.ratios["smtpcheck bl IP"]
    lines.append(
        f"target `smtpcheck bl IP` under {TARGET:g}x: {'met' if ratio < TARGET else 'NOT met'}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (median)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return report(lambda: measure(args.runs), render, args.json)


if __name__ == "__main__":
    sys.exit(main())
