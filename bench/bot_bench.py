"""Latency of the running Rasa server: /model/parse and /webhooks/rest/webhook (median, p95).

    .venv/bin/python bench/bot_bench.py [-n 200] [--json out.json]

Uses RASA_URL (default http://127.0.0.1:5005), or starts bot/serve.sh for the run.
Requests are sequential: this measures latency, not throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.client import RasaClient
from bot.server import running_rasa

PARSE_TEXTS = [
    "where is my order A-10234?",
    "وين طلبي رقم ١٠٢٣٤؟",
    "how much is shipping to jeddah",
    "عايز ارجع المنتج",
    "I want to talk to a human",
    "asdkjh qwe",
]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


async def timed(n: int, call: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
    """Run `call` n times after 5 warm-up calls; return median/p95/max in milliseconds."""
    for i in range(5):
        await call(-1 - i)
    samples = []
    for i in range(n):
        start = time.perf_counter()
        await call(i)
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "n": n,
        "median_ms": statistics.median(samples),
        "p95_ms": percentile(samples, 95),
        "max_ms": max(samples),
    }


async def bench(url: str, n: int) -> dict[str, dict[str, float]]:
    """Measure the three request kinds."""
    run = uuid.uuid4().hex[:8]
    async with RasaClient(url, timeout=30) as client:
        return {
            "parse": await timed(n, lambda i: client.parse(PARSE_TEXTS[i % len(PARSE_TEXTS)])),
            "webhook greet": await timed(
                n, lambda i: client.reply(f"bench-{run}-g{i}", "hello", "en")
            ),
            "webhook order (custom action)": await timed(
                n, lambda i: client.reply(f"bench-{run}-o{i}", "where is my order A-10234", "en")
            ),
        }


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200, help="requests per kind")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    with running_rasa() as url:
        results = asyncio.run(bench(url, args.n))
    print(f"{'request':<32}{'n':>6}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
    for name, r in results.items():
        print(f"{name:<32}{r['n']:>6}{r['median_ms']:>11.1f}{r['p95_ms']:>9.1f}{r['max_ms']:>9.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
