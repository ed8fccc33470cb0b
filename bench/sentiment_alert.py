"""Angry message in → supervisor alert on the WebSocket, end to end (median, p95).

    .venv/bin/python bench/sentiment_alert.py [-n 40] [--burst 20]

Runs the real service (bundled e5 scorer, in-process bus, throwaway SQLite) on loopback, logs a
supervisor's WebSocket in, and times each held-out angry message from the channel handing it to
the pipeline until the `alert.raised` event reaches the socket. Then the same for a burst of
messages sent at once (micro-batching at work).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import ClientSession, web  # noqa: E402

from connectors.memory import MemoryConnector  # noqa: E402
from core.accounts import do_create_agent  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.types import Role  # noqa: E402
from inbox.app import create_app  # noqa: E402
from inbox.keys import CONNECTORS, RUNTIME  # noqa: E402


def angry_texts() -> list[str]:
    """Held-out messages labelled angry, both languages."""
    rows = [
        json.loads(line)
        for line in (ROOT / "sentiment" / "data" / "heldout.jsonl").read_text().splitlines()
        if line.strip()
    ]
    return [r["text"] for r in rows if r["label"] == "angry"]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


async def run(n: int, burst: int) -> None:
    """Serve, connect a supervisor, and time alerts."""
    tmp = tempfile.mkdtemp()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{tmp}/bench.sqlite3",
        sentiment_enabled=True,
    )
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    await do_create_agent(app[RUNTIME].sessions, "boss", "Boss", "password123", Role.SUPERVISOR)
    channel = app[CONNECTORS]["memory"]
    assert isinstance(channel, MemoryConnector)
    texts = angry_texts()
    arrived: dict[int, float] = {}
    async with ClientSession() as http:
        login = await http.post(
            f"{base}/api/v1/auth/login", json={"login": "boss", "password": "password123"}
        )
        token = (await login.json())["token"]
        ws = await http.ws_connect(f"{base}/api/v1/ws?token={token}")

        async def listen() -> None:
            async for msg in ws:
                event = json.loads(msg.data)
                if event["event"] == "alert.raised" and event["data"]["kind"] == "anger":
                    arrived[event["data"]["conversation"]["id"]] = time.perf_counter()

        listener = asyncio.create_task(listen())
        await channel.receive("warmup", "w-0", texts[0])  # loads the model into memory
        await asyncio.sleep(2)
        sequential: list[float] = []
        missed = 0
        for i in range(n):
            start = time.perf_counter()
            result = await channel.receive(f"s-{i}", f"s-{i}", texts[i % len(texts)])
            deadline = start + 5
            # Polling at 1 ms: the alert can land before receive() returns the conversation id.
            while result.conversation_id not in arrived and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            if result.conversation_id in arrived:
                sequential.append(arrived[result.conversation_id] - start)
            else:
                missed += 1
        start = time.perf_counter()
        results = await asyncio.gather(
            *(channel.receive(f"b-{i}", f"b-{i}", texts[i % len(texts)]) for i in range(burst))
        )
        ids = {r.conversation_id for r in results}
        deadline = start + 30
        while not ids <= arrived.keys() and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        burst_times = [arrived[c] - start for c in ids if c in arrived]
        listener.cancel()
        await ws.close()
    await runner.cleanup()
    print("angry message → supervisor alert on the WebSocket (bundled e5 scorer, SQLite)")
    if sequential:
        print(
            f"  one at a time ({len(sequential)}): "
            f"median {statistics.median(sequential) * 1000:.0f} ms"
            f"   p95 {percentile(sequential, 95) * 1000:.0f} ms   (no alert: {missed}; "
            "a few held-out angry messages score below the threshold)"
        )
    if burst_times:
        print(
            f"  burst of {burst} at once: median {statistics.median(burst_times) * 1000:.0f} ms"
            f"   p95 {percentile(burst_times, 95) * 1000:.0f} ms   last "
            f"{max(burst_times) * 1000:.0f} ms   (alerted {len(burst_times)}/{burst})"
        )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=40)
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.n, args.burst))


if __name__ == "__main__":
    main()
