"""How fast the supervisor's metrics are with 50,000 conversations and 1,000,000 messages.

Builds the list bench's throwaway PostgreSQL database (bench/list_bench.py: 50k conversations
over 90 days, 1M messages) plus what metrics read: escalation, assignment and merge activity
lines and CSAT ratings. Then runs the real service in-process and times ``GET /api/v1/metrics``
over several periods and filters, and prints medians, p95s and the EXPLAIN (ANALYZE) of every
statement one request ran (14 days unless --plan-days).

    .venv/bin/python bench/metrics_bench.py [--runs 20] [--keep] [--drop-index NAME]
        [--database NAME] [--plan-days N]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust), as the tests do.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT.parent), str(ROOT)]  # this checkout's packages, then list_bench

import asyncpg  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from list_bench import HOST, build, drop_index, percentile, scratch_database  # noqa: E402
from sqlalchemy import event  # noqa: E402

from core.accounts import do_create_agent  # noqa: E402
from core.db import make_engine, make_sessions  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.types import Role  # noqa: E402
from inbox.app import create_app  # noqa: E402
from inbox.keys import ENGINE, RUNTIME  # noqa: E402

# What the metrics read beyond conversations and messages: every conversation that reached a
# person has an escalation line (reasons spread, a fifth of them no_bot), the ones with an
# assignee an assignment line, one in 500 was folded by a merge, and a fifth of the resolved
# ones have a CSAT score. Activity lines sit on the conversation's own timeline.
ACTIVITY = """
INSERT INTO messages (customer_id, conversation_id, kind, author, text, attachments, meta,
    delivery_attempts, pipeline_steps, pipeline_attempts, created_at)
SELECT c.customer_id, c.id, 'activity', 'system', 'Escalated to a human', '[]',
       jsonb_build_object('action', 'escalated', 'reason',
           (ARRAY['customer_request','low_confidence','bot_unavailable','anger','no_bot'])
           [1 + c.id % 5]),
       0, '[]', 0, c.created_at + interval '1 minute'
FROM conversations c WHERE c.status IN ('pending', 'open') OR c.assignee_id IS NOT NULL;

INSERT INTO messages (customer_id, conversation_id, kind, author, text, attachments, meta,
    delivery_attempts, pipeline_steps, pipeline_attempts, created_at)
SELECT c.customer_id, c.id, 'activity', 'system', 'Assigned', '[]',
       jsonb_build_object('action', 'assigned', 'assignee_id', c.assignee_id),
       0, '[]', 0, c.created_at + interval '2 minutes'
FROM conversations c WHERE c.assignee_id IS NOT NULL;

INSERT INTO messages (customer_id, conversation_id, kind, author, text, attachments, meta,
    delivery_attempts, pipeline_steps, pipeline_attempts, created_at)
SELECT c.customer_id, c.id, 'activity', 'system', 'Merged', '[]',
       jsonb_build_object('action', 'merged_into', 'target_conversation_id', c.id + 1),
       0, '[]', 0, c.created_at + interval '3 minutes'
FROM conversations c WHERE c.status = 'resolved' AND c.id % 500 = 0;

INSERT INTO csat_ratings (conversation_id, customer_id, score, created_at)
SELECT c.id, c.customer_id, 1 + c.id % 5, c.created_at + interval '4 hours'
FROM conversations c WHERE c.status = 'resolved' AND c.id % 5 = 0;
"""


def cases() -> list[tuple[str, dict[str, str]]]:
    """The periods and slices timed, as the console asks for them."""
    today = datetime.now(UTC).date()

    def days(n: int) -> dict[str, str]:
        return {"start": (today - timedelta(days=n - 1)).isoformat(), "end": today.isoformat()}

    return [
        ("last 14 days (the console's default)", days(14)),
        ("last 30 days", days(30)),
        ("last 90 days (every conversation)", days(90)),
        ("last 90 days, telegram only", {**days(90), "channel": "telegram"}),
        ("last 90 days, by agent", {**days(90), "group_by": "agent"}),
        ("last 366 days (the cap), by language", {**days(366), "group_by": "language"}),
        ("last 7 days", days(7)),
    ]


async def prepare(url: str) -> str:
    """The list bench's data, the metrics' activity lines and ratings, and a supervisor."""
    size, took = await build(url)
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    started = time.perf_counter()
    await conn.execute(ACTIVITY)
    await conn.execute("VACUUM ANALYZE")
    lines = await conn.fetchval("SELECT count(*) FROM messages WHERE kind = 'activity'")
    await conn.close()
    engine = make_engine(url)
    await do_create_agent(
        make_sessions(engine), "boss", "Boss", "bench-password", Role.SUPERVISOR, "en"
    )
    await engine.dispose()
    extra = time.perf_counter() - started
    return f"{size}, {lines:,} activity lines (generated in {took} + {extra:.1f}s)"


async def measure(
    url: str, runs: int, plan_days: int = 14
) -> tuple[list[tuple[str, float, float, int]], str]:
    """Time each case through the real app; return the timings and one request's plans."""
    settings = Settings(_env_file=None, database_url=url, channels="memory")  # type: ignore[call-arg]
    app = create_app(settings, migrate=False, workers=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    results: list[tuple[str, float, float, int]] = []
    plans = ""
    try:
        resp = await client.post(
            "/api/v1/auth/login", json={"login": "boss", "password": "bench-password"}
        )
        headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        captured: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
            captured.append((statement, params))

        engine = app[ENGINE]
        for name, params in cases():
            for _ in range(3):
                resp = await client.get("/api/v1/metrics", params=params, headers=headers)
                assert resp.status == 200, await resp.text()
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                resp = await client.get("/api/v1/metrics", params=params, headers=headers)
                data = await resp.json()
                timings.append((time.perf_counter() - started) * 1000)
            results.append(
                (
                    name,
                    statistics.median(timings),
                    percentile(timings, 0.95),
                    data["totals"]["conversations"],
                )
            )
        # The exact statements one request (by default the 14-day one) runs, EXPLAIN ANALYZEd.
        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        today = datetime.now(UTC).date()
        start = today - timedelta(days=plan_days - 1)
        await client.get(
            "/api/v1/metrics",
            params={"start": start.isoformat(), "end": today.isoformat()},
            headers=headers,
        )
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
        # The request's own settings (set_config(…, true): work_mem, custom plans) apply to
        # each EXPLAIN as they applied to the statement.
        settings_sql = [(s, p) for s, p in captured if "set_config(" in s]
        for statement, sql_params in captured:
            if any(skip in statement for skip in ("FROM sessions", "FROM agents", "set_config(")):
                continue  # the login check and the request's settings
            async with app[RUNTIME].sessions() as session:
                conn = await session.connection()
                for setting, setting_params in settings_sql:
                    await conn.exec_driver_sql(setting, setting_params)
                rows = await conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, sql_params
                )
                plan = "\n".join(f"    {r[0]}" for r in rows)
            head = " ".join(statement.split())[:160]
            plans += f"\n  {head}…\n{plan}\n"
    finally:
        await client.close()
    return results, plans


async def run(url: str, args: argparse.Namespace, *, built: bool) -> tuple[Any, str]:
    """Fill the database unless an earlier run did, drop the asked index, measure."""
    print(f"database {url.rsplit('/', 1)[1]}")
    if not built:
        print(f"data: {await prepare(url)}")
    if args.drop_index:
        await drop_index(url, args.drop_index)
    return await measure(url, args.runs, args.plan_days)


async def main() -> int:
    """Build, measure, report, drop."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--database",
        metavar="NAME",
        help="measure a database an earlier --keep run left (skips building; upgrades it)",
    )
    parser.add_argument(
        "--drop-index",
        metavar="NAME",
        help="drop an index before measuring (e.g. ix_conversations_created_at)",
    )
    parser.add_argument(
        "--plan-days",
        type=int,
        default=14,
        metavar="N",
        help="print the plans of an N-day request (default 14; 366 shows the heaviest)",
    )
    args = parser.parse_args()
    if args.database:
        url = f"postgresql+asyncpg://postgres@{HOST}:5432/{args.database}"
        engine = make_engine(url)
        await upgrade(engine)
        await engine.dispose()
        results, plans = await run(url, args, built=True)
    else:
        async with scratch_database(args.keep) as url:
            results, plans = await run(url, args, built=False)
    print(f"\nGET /api/v1/metrics, {args.runs} runs each, in-process HTTP round trip:")
    print(f"  {'period':<40} {'conversations':>13} {'median':>9} {'p95':>9}")
    for case, median, p95, n in results:
        print(f"  {case:<40} {n:>13,} {median:>7.1f}ms {p95:>7.1f}ms")
    print(f"\nplans (EXPLAIN ANALYZE of each statement a {args.plan_days}-day request ran):")
    print(plans)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
