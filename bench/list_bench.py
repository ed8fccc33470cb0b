"""How fast the inbox's first page is with 50,000 conversations and 1,000,000 messages.

Builds a throwaway PostgreSQL database (generate_series, no row-by-row inserts), runs the real
service in-process and times the first page of every inbox view through the real endpoint
code, then prints medians, p95s and the EXPLAIN (ANALYZE) plan of each view's query.

    .venv/bin/python bench/list_bench.py [--keep] [--runs 40]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust), as the tests do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event

from core.accounts import do_create_agent
from core.db import make_engine, make_sessions
from core.migrate import upgrade
from core.settings import Settings
from inbox.app import create_app
from inbox.keys import ENGINE, RUNTIME

HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
ADMIN = f"postgresql://postgres@{HOST}:5432/postgres"
CONVERSATIONS = 50_000
MESSAGES = 1_000_000
AGENTS = 20
BUDGET_MS = 150.0
PAGE = 30  # what the inbox asks for

VIEWS: dict[str, dict[str, str]] = {
    "mine": {"assignee": "me", "status": "open"},
    "unassigned/pending (oldest waiting first)": {"status": "pending", "sort": "waiting"},
    "bot": {"status": "bot"},
    "all": {},
    "resolved": {"status": "resolved"},
    "pending + telegram + angry": {
        "status": "pending",
        "channel": "telegram",
        "sentiment": "angry",
    },
    "all + label vip": {"label": "vip"},
    "all + language ar": {"language": "ar"},
    "my teams (active)": {"team": "mine", "active": "true"},
    "one team": {"team": "3"},
}
TEAMS = 5

FILL = f"""
INSERT INTO agents (login, display_name, role, password_hash, language, active, created_at)
SELECT 'agent' || g, 'Agent ' || g, 'agent', 'x', 'en', true, now()
FROM generate_series(1, {AGENTS}) g;

INSERT INTO customers (id, display_name, language, attributes, created_at, last_seen_at)
SELECT g, 'Customer ' || g, CASE WHEN g % 3 = 0 THEN 'en' ELSE 'ar' END, '{{}}'::jsonb,
       now() - interval '120 days', now()
FROM generate_series(1, {CONVERSATIONS}) g;
SELECT setval('customers_id_seq', {CONVERSATIONS});

INSERT INTO identities (customer_id, channel, external_id, profile, blocked, created_at,
                        last_seen_at)
SELECT g, (ARRAY['telegram','email','webchat','whatsapp'])[1 + g % 4], 'ext-' || g, '{{}}',
       false, now(), now()
FROM generate_series(1, {CONVERSATIONS}) g;

INSERT INTO teams (id, name, description, created_at)
SELECT g, 'Team ' || g, '', now() FROM generate_series(1, {TEAMS}) g;
SELECT setval('teams_id_seq', {TEAMS});
-- The bench agent (id 1) is in teams 1 and 2; every agent is in one team.
INSERT INTO team_members (team_id, agent_id, created_at)
SELECT 1 + (a % {TEAMS}), a, now() FROM generate_series(2, {AGENTS} + 1) a
UNION ALL SELECT t, 1, now() FROM generate_series(1, 2) t;

-- 70% resolved, 12% open, 8% pending, 10% with the bot; last activity over 90 days.
INSERT INTO conversations (id, customer_id, status, assignee_id, team_id, priority,
    escalation_reason,
    language, last_channel, labels, bot_state, preview, sentiment, waiting_since,
    first_response_at, resolved_at, last_message_at, created_at, updated_at)
SELECT g, g, st,
       CASE WHEN st = 'open' OR (st = 'resolved' AND r2 < 0.6) THEN 1 + (g % ({AGENTS} + 1))
       END,
       CASE WHEN g % 6 = 0 THEN NULL ELSE 1 + g % {TEAMS} END,
       'normal',
       CASE WHEN st IN ('pending', 'open') THEN
            (ARRAY['customer_request','low_confidence','bot_unavailable','anger'])[1 + g % 4]
       END,
       CASE WHEN g % 3 = 0 THEN 'en' ELSE 'ar' END,
       (ARRAY['telegram','email','webchat','whatsapp'])[1 + g % 4],
       CASE WHEN g % 50 = 0 THEN '["vip"]'::jsonb WHEN g % 7 = 0 THEN '["refund"]'::jsonb
            ELSE '[]'::jsonb END,
       '{{}}', 'preview of conversation ' || g,
       (ARRAY['angry','negative','neutral','positive','neutral'])[1 + (g / 7) % 5],
       CASE WHEN st = 'pending' THEN t END,
       CASE WHEN st IN ('open', 'resolved') THEN t - interval '2 hours' END,
       CASE WHEN st = 'resolved' THEN t END,
       t, t - interval '3 hours', t
FROM (
    SELECT g, r2, now() - random() * interval '90 days' AS t,
           CASE WHEN r < 0.70 THEN 'resolved' WHEN r < 0.82 THEN 'open'
                WHEN r < 0.90 THEN 'pending' ELSE 'bot' END AS st
    FROM (SELECT g, random() AS r, random() AS r2 FROM generate_series(1, {CONVERSATIONS}) g) x
) s;
SELECT setval('conversations_id_seq', {CONVERSATIONS});

-- Twenty timeline entries per conversation, alternating in and out.
INSERT INTO messages (customer_id, conversation_id, kind, author, channel, channel_message_id,
    text, attachments, meta, language, delivery_status, delivery_attempts, sentiment_label,
    pipeline_state, pipeline_steps, pipeline_attempts, created_at)
SELECT c, c,
       CASE WHEN g % 2 = 0 THEN 'incoming' ELSE 'outgoing' END,
       CASE WHEN g % 2 = 0 THEN 'customer' ELSE 'agent' END,
       (ARRAY['telegram','email','webchat','whatsapp'])[1 + c % 4],
       'bench-' || g,
       'رسالة رقم ' || g || ' عن الطلب A-' || c || ' message text',
       '[]', '{{}}', 'ar',
       CASE WHEN g % 2 = 1 THEN 'sent' END, 0,
       CASE WHEN g % 2 = 0 THEN (ARRAY['angry','negative','neutral','positive'])[1 + g % 4] END,
       'done', '[]', 0,
       now() - (g % 1000) * interval '1 hour'
FROM (SELECT g, 1 + (g % {CONVERSATIONS}) AS c FROM generate_series(1, {MESSAGES}) g) s;
SELECT setval('messages_id_seq', {MESSAGES});

-- The bench agent has read half of every third conversation (message ids of conversation c
-- are c - 1 + k * conversations).
INSERT INTO conversation_reads (agent_id, conversation_id, last_read_message_id, updated_at)
SELECT 1, g, g - 1 + 10 * {CONVERSATIONS}, now()
FROM generate_series(1, {CONVERSATIONS}) g WHERE g % 3 = 0;
"""


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


async def build(url: str) -> tuple[str, str]:
    """Migrate, create the benchmark agent (id 1, so it owns its share) and fill the tables."""
    engine = make_engine(url)
    await upgrade(engine)
    sessions = make_sessions(engine)
    await do_create_agent(sessions, "bench", "Bench Agent", "bench-password", language="en")
    await engine.dispose()
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    started = time.perf_counter()
    await conn.execute(FILL)
    await conn.execute("VACUUM ANALYZE")
    counts = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM conversations) c, (SELECT count(*) FROM messages) m"
    )
    await conn.close()
    took = time.perf_counter() - started
    return f"{counts['c']:,} conversations, {counts['m']:,} messages", f"{took:.1f}s"


async def measure(url: str, runs: int) -> list[tuple[str, float, float, str]]:
    """Time each view through the real app; return (view, median ms, p95 ms, plan)."""
    settings = Settings(_env_file=None, database_url=url, channels="memory")  # type: ignore[call-arg]
    app = create_app(settings, migrate=False, workers=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    results: list[tuple[str, float, float, str]] = []
    try:
        resp = await client.post(
            "/api/v1/auth/login", json={"login": "bench", "password": "bench-password"}
        )
        token = (await resp.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        captured: dict[str, tuple[str, Any]] = {}

        def capture(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
            if "FROM conversations JOIN customers" in statement:
                captured["list"] = (statement, params)
            elif "LEFT OUTER JOIN conversation_reads" in statement:
                captured["unread"] = (statement, params)

        engine = app[ENGINE]
        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        cases = [
            (name, "/api/v1/conversations", {**q, "limit": str(PAGE)}) for name, q in VIEWS.items()
        ]
        cases.append(("view counts (/inbox/counts)", "/api/v1/inbox/counts", {}))
        for name, path, params in cases:
            captured.clear()
            for _ in range(3):
                assert (await client.get(path, params=params, headers=headers)).status == 200
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                resp = await client.get(path, params=params, headers=headers)
                await resp.read()
                timings.append((time.perf_counter() - started) * 1000)
                assert resp.status == 200
            plan = ""
            for kind, (statement, sql_params) in sorted(captured.items()):
                async with app[RUNTIME].sessions() as session:
                    conn = await session.connection()
                    rows = await conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, sql_params
                    )
                    plan += f"    [{kind} query]\n" + "\n".join(f"    {r[0]}" for r in rows) + "\n"
            results.append((name, statistics.median(timings), percentile(timings, 0.95), plan))
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
        # Outside the list budget, for the record: opening a conversation and searching.
        extras = [
            ("open a conversation (GET /conversations/4242)", "/api/v1/conversations/4242", {}),
            (
                "customer timeline (GET /customers/4242/timeline)",
                "/api/v1/customers/4242/timeline",
                {},
            ),
            ("search, common word (q=الطلب)", "/api/v1/search", {"q": "الطلب"}),
            ("search, rare token (q=A-4242)", "/api/v1/search", {"q": "A-4242"}),
        ]
        for name, path, params in extras:
            timings = []
            for _ in range(3):
                started = time.perf_counter()
                resp = await client.get(path, params=params, headers=headers)
                await resp.read()
                timings.append((time.perf_counter() - started) * 1000)
                assert resp.status == 200, await resp.text()
            results.append((f"[info] {name}", statistics.median(timings), max(timings), ""))
    finally:
        await client.close()
    return results


@contextlib.asynccontextmanager
async def scratch_database(keep: bool = False) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for one bench run, dropped afterwards unless kept."""
    name = f"tawasul_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"postgresql+asyncpg://postgres@{HOST}:5432/{name}"
    try:
        yield url
    finally:
        if keep:
            print(f"kept {url}")
        else:
            admin = await asyncpg.connect(ADMIN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


async def drop_index(url: str, index: str) -> None:
    """Drop one index, to measure what it buys."""
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    await conn.execute(f'DROP INDEX "{index}"')
    await conn.close()
    print(f"dropped index {index}")


async def main() -> int:
    """Build, measure, report, drop."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--drop-index",
        metavar="NAME",
        help="drop an index before measuring, to see what it buys (e.g. "
        "ix_conversations_status_last_message)",
    )
    args = parser.parse_args()
    async with scratch_database(args.keep) as url:
        size, took = await build(url)
        print(f"data: {size} (generated in {took})")
        if args.drop_index:
            await drop_index(url, args.drop_index)
        results = await measure(url, args.runs)
    print(f"\nfirst page ({PAGE} rows), {args.runs} runs each, in-process HTTP round trip:")
    print(f"  {'view':<44} {'median':>9} {'p95':>9}")
    worst = 0.0
    for view, median, p95, _ in results:
        if view.startswith("[info]"):
            continue
        worst = max(worst, p95)
        print(f"  {view:<44} {median:>7.1f}ms {p95:>7.1f}ms")
    print("\nnot in the list budget (3 runs each; median, max):")
    for view, median, top, _ in results:
        if view.startswith("[info]"):
            print(f"  {view[7:]:<52} {median:>8.1f}ms {top:>8.1f}ms")
    verdict = "within" if worst <= BUDGET_MS else "OVER"
    print(f"\nworst p95 {worst:.1f} ms: {verdict} the {BUDGET_MS:.0f} ms budget")
    print("\nplans (EXPLAIN ANALYZE of the exact SQL each view ran):")
    for view, _, _, plan in results:
        if plan:
            print(f"\n  {view}\n{plan}")
    return 0 if worst <= BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
