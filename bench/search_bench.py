"""How search behaves on 1,000,000 messages: timings and the plan of each message query.

Builds the list benchmark's throwaway PostgreSQL database (every message says "…عن الطلب
A-<conversation>…"), adds a few rare Arabic messages, then times GET /api/v1/search and prints
the EXPLAIN (ANALYZE, BUFFERS) of the exact message query each search ran.

    .venv/bin/python -m bench.search_bench [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event

from bench.list_bench import build, scratch_database
from core.settings import Settings
from inbox.app import create_app
from inbox.keys import ENGINE, RUNTIME

# Old messages (the lowest ids), so a newest-first walk would have to read the whole table:
# 40 rare ones, and one in every 100 of the oldest 200,000 with a word of middling frequency.
RARE = [
    """UPDATE messages SET text = CASE WHEN id % 2 = 0 THEN 'أبغى استرجاع المبلغ للفاتورة'
                                      ELSE 'وين فاتورتي؟' END
       WHERE id <= 40""",
    """UPDATE messages SET text = 'متى توصل الشحنة رقم ' || id
       WHERE id > 40 AND id <= 200000 AND id % 100 = 0""",
    "VACUUM ANALYZE messages",
]

SEARCHES = [
    ("common word, article (q=الطلب)", "الطلب"),
    ("common word, bare (q=طلب)", "طلب"),
    ("rare token (q=A-4242)", "A-4242"),
    ("rare Arabic word by prefix (q=فاتوره → فاتورتي, للفاتورة)", "فاتوره"),
    ("two rare words (q=استرجاع المبلغ)", "استرجاع المبلغ"),
    ("2,000 old hits (q=شحنه → الشحنة)", "شحنه"),
    ("nothing (q=زرافة)", "زرافة"),
]


async def measure(url: str, runs: int) -> None:
    """Time each search through the real app and print its message query's plan."""
    settings = Settings(_env_file=None, database_url=url, channels="memory")  # type: ignore[call-arg]
    app = create_app(settings, migrate=False, workers=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        resp = await client.post(
            "/api/v1/auth/login", json={"login": "bench", "password": "bench-password"}
        )
        headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        captured: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
            if statement.startswith("EXPLAIN"):
                return
            if "FROM messages JOIN customers" in statement or statement.startswith("SET LOCAL"):
                captured.append((statement, params))

        event.listen(app[ENGINE].sync_engine, "before_cursor_execute", capture)
        for name, q in SEARCHES:
            timings, hits = [], 0
            for _ in range(runs):
                captured.clear()
                started = time.perf_counter()
                resp = await client.get("/api/v1/search", params={"q": q}, headers=headers)
                body = await resp.json()
                timings.append((time.perf_counter() - started) * 1000)
                hits = len(body["messages"])
            print(
                f"\n{name}: median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms"
            )
            print(f"  {hits} messages on the page")
            # Each message query of the last run, replayed under the settings it ran with.
            async with app[RUNTIME].sessions() as session:
                conn = await session.connection()
                for statement, params in list(captured):
                    if statement.startswith("SET LOCAL"):
                        await conn.exec_driver_sql(statement)
                        continue
                    rows = await conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params
                    )
                    print("\n".join(f"    {r[0]}" for r in rows))
    finally:
        await client.close()


async def main() -> int:
    """Build, measure, drop."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    async with scratch_database(args.keep) as url:
        size, took = await build(url)
        conn = await asyncpg.connect(url.replace("+asyncpg", ""))
        for statement in RARE:
            await conn.execute(statement)
        await conn.close()
        print(f"data: {size}, 40 rare and 2,000 middling old messages (made in {took})")
        await measure(url, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
