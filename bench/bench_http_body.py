"""Memory of `python -m bot` under oversized unsigned POSTs to /slack/events.

Starts the bot in HTTP mode (fake Slack, test DNS server), reads its resident set from
/proc before, then sends `--mib` MiB unsigned bodies (declared with Content-Length, and
chunked), `--parallel` at once, and reads the resident set and its peak again. The
baseline is the same process's RSS before the first body.

Run: `python -m bench.bench_http_body [--mib 100] [--parallel 4]`. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.support.dns_server import DnsServer
from tests.support.fake_slack import FakeSlack
from tests.support.slack_app import BotProcess, bot_env

MIB = 1024 * 1024


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident set of `pid` in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def send(port: int, mib: int, chunked: bool) -> str:
    def body() -> Iterator[bytes]:
        for _ in range(mib):
            yield b"x" * MIB

    headers = {"Content-Type": "application/json"}
    if not chunked:
        headers["Content-Length"] = str(mib * MIB)
    try:
        with httpx.Client(timeout=120) as client:
            response = client.post(
                f"http://127.0.0.1:{port}/slack/events", content=body(), headers=headers
            )
        return str(response.status_code)
    except httpx.HTTPError as exc:  # the server may close the connection on a refused body
        return type(exc).__name__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack, DnsServer() as dns:
        bot = BotProcess(bot_env(slack.api_url, dns, Path(tmp)), Path(tmp) / "bot.log").start()
        try:
            assert bot.proc is not None
            pid = bot.proc.pid
            before, _ = rss_mib(pid)
            print(f"bot RSS before: {before:.0f} MiB")
            for chunked in (False, True):
                with ThreadPoolExecutor(args.parallel) as pool:
                    jobs = [
                        pool.submit(send, bot.port, args.mib, chunked) for _ in range(args.parallel)
                    ]
                    answers = [job.result() for job in jobs]
                now, peak = rss_mib(pid)
                kind = "chunked" if chunked else "with Content-Length"
                print(
                    f"{args.parallel} x {args.mib} MiB unsigned, {kind}: answers {answers}; "
                    f"RSS {now:.0f} MiB, peak {peak:.0f} MiB "
                    f"(peak {peak / before:.2f}x the baseline)"
                )
        finally:
            bot.stop()


if __name__ == "__main__":
    main()
