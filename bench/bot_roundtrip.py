"""Bot round trip inside the product: customer message in → bot reply stored and sent.

    .venv/bin/python bench/bot_roundtrip.py [-n 60]

Starts its own Rasa + action server (bot/serve.sh on free loopback ports), the service as
`make run` configures it (sentiment scoring, then the bot) on a throwaway SQLite database, and the
in-memory channel. For each message it measures the time from `receive()` until the bot's reply
has been handed to the channel, and how much of that was the Rasa HTTP call. Sequential: latency,
not throughput. Untimed messages (the warm-ups, and the "hi" that creates the customer before an
order question) are left out of every figure, the Rasa call's included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from bot.step import BotRouting  # noqa: E402
from connectors.memory import MemoryConnector  # noqa: E402
from core.db import in_transaction  # noqa: E402
from core.models import Order  # noqa: E402
from core.settings import Settings  # noqa: E402
from inbox.app import create_app  # noqa: E402
from inbox.keys import CONNECTORS, RUNTIME  # noqa: E402

TOKEN = "bench-bot-token"
TEXTS = [
    ("السلام عليكم", False),
    ("hello", False),
    ("متى تفتحون؟", False),
    ("what are your opening hours?", False),
    ("كم يأخذ الشحن للرياض؟", False),
    ("which payment methods do you accept", False),
    ("وين طلبي رقم A-10234؟", True),
    ("where is my order A-10234", True),
]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(n: int, warmup: int) -> None:
    """Serve the app, send ``warmup`` untimed then ``n`` timed messages, print the figures."""
    port, rasa_port, actions_port = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        RASA_PORT=str(rasa_port),
        ACTIONS_PORT=str(actions_port),
        RASA_RUN=str(ROOT / ".rasa" / "run-bench"),
        TAWASUL_API_URL=f"http://127.0.0.1:{port}",
        TAWASUL_BOT_TOKEN=TOKEN,
    )
    serve = str(ROOT / "bot" / "serve.sh")
    await asyncio.to_thread(subprocess.run, [serve, "up"], env=env, check=True, timeout=300)
    tmp = tempfile.mkdtemp()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{tmp}/bench.sqlite3",
        bot_enabled=True,
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        rasa_timeout_seconds=20,
        bot_token=TOKEN,
    )
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        rt = app[RUNTIME]
        channel = app[CONNECTORS]["memory"]
        assert isinstance(channel, MemoryConnector)
        step = next(s for s in rt.steps if isinstance(s, BotRouting))
        rasa_times: list[float] = []
        original = step.client.reply

        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                rasa_times.append(time.perf_counter() - start)

        step.client.reply = timed  # type: ignore[method-assign]
        for i in range(warmup):
            # First calls load TensorFlow graphs and open connections; not what a customer sees.
            before = len(channel.sent)
            await channel.receive(f"warmup-{i}", f"warmup-{i}", TEXTS[i % len(TEXTS)][0])
            await _wait_sent(channel, before + 1)
        totals: list[float] = []
        shares: list[float] = []
        rasa: list[float] = []  # Rasa calls of the timed messages only
        for i in range(n):
            text, needs_order = TEXTS[i % len(TEXTS)]
            sender = f"bench-{i}"
            if needs_order:
                # The customer must exist and own the order before asking about it.
                first = await channel.receive(sender, f"{sender}-0", "hi")
                await _wait_sent(channel, len(channel.sent) + 1)

                async def add(
                    session: Any, customer_id: int = first.customer_id, i: int = i
                ) -> None:
                    session.add(
                        Order(
                            number=f"A-{10234 + i}",
                            customer_id=customer_id,
                            status="shipped",
                            total=Decimal("10.00"),
                            currency="SAR",
                            items=[],
                        )
                    )

                await in_transaction(rt.sessions, add)
                text = text.replace("A-10234", f"A-{10234 + i}")
            before_sent, before_rasa = len(channel.sent), len(rasa_times)
            start = time.perf_counter()
            await channel.receive(sender, f"{sender}-1", text)
            await _wait_sent(channel, before_sent + 1)
            total = time.perf_counter() - start
            totals.append(total)
            rasa.extend(rasa_times[before_rasa:])
            shares.append(sum(rasa_times[before_rasa:]) / total)
        print(
            f"bot round trip over {n} messages after {warmup} warm-ups "
            "(message in → bot reply handed to the channel)"
        )
        print(
            f"  round trip  median {statistics.median(totals) * 1000:7.1f} ms   "
            f"p95 {percentile(totals, 95) * 1000:7.1f} ms"
        )
        print(
            f"  Rasa call   median {statistics.median(rasa) * 1000:7.1f} ms   "
            f"p95 {percentile(rasa, 95) * 1000:7.1f} ms"
        )
        print(f"  Rasa share  median {statistics.median(shares) * 100:5.1f} %")
    finally:
        await runner.cleanup()
        await asyncio.to_thread(subprocess.run, [serve, "down"], env=env, check=False, timeout=60)


async def _wait_sent(channel: MemoryConnector, count: int, within: float = 60) -> None:
    """Poll until the channel has handed out ``count`` messages."""
    deadline = time.perf_counter() + within
    while len(channel.sent) < count:
        if time.perf_counter() > deadline:
            raise TimeoutError("no bot reply in time")
        await asyncio.sleep(0.001)


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=60, help="timed messages")
    parser.add_argument("--warmup", type=int, default=5, help="untimed messages first")
    args = parser.parse_args()
    asyncio.run(run(args.n, args.warmup))


if __name__ == "__main__":
    main()
