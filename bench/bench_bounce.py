"""The bounce explainer on one-megabyte hostile pastes, against plain prose in the same run.

A pasted bounce is untrusted text. Each hostile input (tests/support/hostile_pastes.py:
runs of the characters the address, code and host patterns start on, real bounce lines
repeated to a megabyte) is explained and its time given as a multiple of two baselines
measured alongside it, interleaved so a burst of load hits all alike:

- **prose**: `explain_bounce` on a megabyte of ordinary prose, nothing in it to match;
- **scan**: one linear `re` pass (`\\S+`) over the part of the same input the explainer
  reads (its first MAX_SCAN characters): the floor of looking at the text at all.

A regex that backtracks shows as a ratio in the hundreds or more; the target is every
hostile input under TARGET x prose. Each result is checked well formed before anything
is timed. Nothing here touches the network.

Run: `python -m bench.bench_bounce [--repeat 7] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from bench.common import BenchmarkError, report
from handlers.bounce import MAX_SCAN, BounceResult, explain_bounce
from tests.support.hostile_pastes import HOSTILE, PROSE

#: Every hostile input within this many times the prose baseline.
TARGET = 10.0
_WORD = re.compile(r"\S+")


def _check(name: str, result: BounceResult) -> None:
    if not result.summary or len(result.ips) > 20:
        raise BenchmarkError(f"{name}: not a well-formed result: {result.to_json()}")
    json.dumps(result.to_json())


def _scan(text: str) -> int:
    return sum(1 for _ in _WORD.finditer(text, 0, MAX_SCAN))


def _ms(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


@dataclass
class Figures:
    repeat: int
    prose_ms: float = 0.0
    #: Per hostile input: median ms, its own linear scan's median ms, and both ratios.
    inputs: dict[str, dict[str, float]] = field(default_factory=dict)
    worst: str = ""
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def measure(repeat: int, names: Sequence[str] | None = None) -> Figures:
    chosen = list(names) if names is not None else list(HOSTILE)
    _check("prose", explain_bounce(PROSE))
    for name in chosen:
        _check(name, explain_bounce(HOSTILE[name]))
    prose: list[float] = []
    explained: dict[str, list[float]] = {name: [] for name in chosen}
    scanned: dict[str, list[float]] = {name: [] for name in chosen}
    for _ in range(repeat):  # interleaved: the machine's load moves every figure alike
        prose.append(_ms(partial(explain_bounce, PROSE)))
        for name in chosen:
            text = HOSTILE[name]
            explained[name].append(_ms(partial(explain_bounce, text)))
            scanned[name].append(_ms(partial(_scan, text)))
    figures = Figures(repeat=repeat, load_average=os.getloadavg())
    figures.prose_ms = round(statistics.median(prose), 2)
    for name in chosen:
        ms = statistics.median(explained[name])
        scan = statistics.median(scanned[name])
        figures.inputs[name] = {
            "ms": round(ms, 2),
            "scan_ms": round(scan, 2),
            "x_prose": round(ms / statistics.median(prose), 2),
            "x_scan": round(ms / scan, 1),
        }
    figures.worst = max(chosen, key=lambda n: figures.inputs[n]["x_prose"])
    return figures


def render(f: Figures) -> str:
    lines = [
        f"explain_bounce on 1 MB pastes, medians of {f.repeat} interleaved runs (load average "
        f"{', '.join(f'{x:.1f}' for x in f.load_average)} on {os.cpu_count()} cores):",
        f"  baseline, 1 MB of prose: {f.prose_ms:.2f} ms",
        f"  {'input':<10} {'ms':>9} {'x prose':>8} {'scan ms':>9} {'x scan':>8}",
    ]
    for name, item in f.inputs.items():
        lines.append(
            f"  {name:<10} {item['ms']:9.2f} {item['x_prose']:8.2f} "
            f"{item['scan_ms']:9.2f} {item['x_scan']:8.1f}"
        )
    worst = f.inputs[f.worst]["x_prose"]
    lines.append(
        f"worst: {f.worst} at {worst:.2f}x prose; target every input under {TARGET:g}x: "
        f"{'met' if worst < TARGET else 'NOT met'}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_bounce", description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="runs of each input (median)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return report(lambda: measure(args.repeat), render, args.json)


if __name__ == "__main__":
    sys.exit(main())
