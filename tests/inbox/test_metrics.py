"""Supervisor metrics: computed from stored conversations, messages, activity and CSAT."""

from __future__ import annotations

import csv
import io
import math
import random
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from core import actions
from core.csat import do_record_csat
from core.db import Sessions
from core.errors import Invalid
from core.inbox_tables import CsatRating
from core.models import Agent, Conversation, Customer, Message
from core.types import InboundMessage, Role, Sentiment, SentimentLabel
from inbox.app import create_app
from inbox.endpoints.metrics import SENTIMENTS, MetricsQuery, compute_metrics, percentile, period
from inbox.keys import RUNTIME
from tests.conftest import make_settings
from tests.inbox.conftest import Client, eventually, login_as


def test_percentile_is_nearest_rank() -> None:
    """Median and p90 of ten values pick the 5th and 9th; no values gives None."""
    values = [float(v) for v in range(10, 110, 10)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.9) == 90.0
    assert percentile([], 0.5) is None


def test_a_period_is_at_most_a_year() -> None:
    """366 days (a leap year) is allowed; one more day is refused, not clipped."""
    year = MetricsQuery(start=date(2024, 1, 1), end=date(2024, 12, 31))
    assert period(year) == (date(2024, 1, 1), date(2024, 12, 31))
    with pytest.raises(Invalid, match="367 days"):
        period(MetricsQuery(start=date(2024, 1, 1), end=date(2025, 1, 1)))
    with pytest.raises(Invalid):  # an open start counts from today
        period(MetricsQuery(start=date(2020, 1, 1)), today=date(2024, 1, 1))


async def test_too_long_a_period_is_a_422_with_the_reason(client: Client) -> None:
    """The API answers 422 `period_too_long` and says the limit."""
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    resp = await client.get("/api/v1/metrics?start=2024-01-01&end=2025-06-30", headers=headers)
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["code"] == "period_too_long" and "at most 366 days" in error["message"]
    resp = await client.get("/api/v1/metrics.csv?start=2024-01-01&end=2025-06-30", headers=headers)
    assert resp.status == 422


async def _settle(client: Client, conversation_id: int) -> None:
    """Wait until the routing step has escalated the new conversation (no bot: no_bot)."""

    async def pending() -> bool:
        async with client.app[RUNTIME].sessions() as session:
            conv = await session.get(Conversation, conversation_id)
            return conv is not None and conv.status == "pending"

    await eventually(pending)


@pytest.fixture
async def any_client(aiohttp_client: Callable[..., Awaitable[Client]], database_url: str) -> Client:
    """The service with its default steps on SQLite and on PostgreSQL (days are SQL there)."""
    return await aiohttp_client(create_app(make_settings(database_url), migrate=False))


async def test_metrics_from_stored_data(any_client: Client) -> None:
    """Volume, containment, reasons, response-time percentiles, CSAT and sentiment add up."""
    client = any_client
    rt = client.app[RUNTIME]
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    sara = (await (await client.get("/api/v1/me", headers=headers)).json())["id"]
    ids = []
    for n, (channel, text) in enumerate(
        [("telegram", "وين طلبي"), ("email", "Refund please"), ("telegram", "شكرا")]
    ):
        r = await actions.do_ingest(rt, InboundMessage(channel, f"s{n}", f"m{n}", text, f"C{n}"))
        await _settle(client, r.conversation_id)
        ids.append(r)
    # 0: handed to the bot and resolved there — not contained, it was escalated (no_bot)
    # first; 1 and 2: answered by a person.
    await actions.do_hand_to_bot(rt, ids[0].conversation_id, agent_id=None)
    await actions.do_resolve(rt, ids[0].conversation_id, agent_id=None)
    for r in ids[1:]:
        await actions.do_reply(rt, r.conversation_id, "On it", agent_id=sara)
        await actions.do_resolve(rt, r.conversation_id, agent_id=sara)
    await actions.do_record_sentiment(
        rt,
        ids[1].message_id,
        Sentiment(SentimentLabel.ANGRY, {"angry": 0.9, "neutral": 0.1}, 0.9, True, "t"),
    )
    await do_record_csat(rt, ids[1].conversation_id, 5)
    await do_record_csat(rt, ids[2].conversation_id, 2)
    # Pin the timings so the percentiles are known: 60 s and 600 s to first response.
    base = datetime.now(UTC) - timedelta(hours=1)
    async with rt.sessions() as session, session.begin():
        for r, frt, res in [(ids[1], 60, 120), (ids[2], 600, 1200)]:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == r.conversation_id)
                .values(
                    created_at=base,
                    first_response_at=base + timedelta(seconds=frt),
                    resolved_at=base + timedelta(seconds=res),
                )
            )

    resp = await client.get("/api/v1/metrics", headers=headers)
    assert resp.status == 200
    data = await resp.json()
    totals = data["totals"]
    assert totals["conversations"] == 3
    today = datetime.now(UTC).date().isoformat()
    by_day = {v["day"]: v["conversations"] for v in data["volume"]}
    assert len(by_day) == 14 and sum(by_day.values()) == 3
    assert by_day[base.date().isoformat()] >= 2 and by_day[today] >= 1
    assert totals["resolved"] == 3
    assert totals["bot_contained"] == 0
    assert totals["containment_rate"] == 0.0
    assert totals["first_response_median_s"] == 60.0
    assert totals["first_response_p90_s"] == 600.0
    assert totals["resolution_p90_s"] == 1200.0
    assert totals["csat_average"] == 3.5 and totals["csat_satisfied_rate"] == 0.5
    assert data["escalations_by_reason"] == {"no_bot": 3}
    assert {"day": today, "angry": 1, "negative": 0, "neutral": 0, "positive": 0} in data[
        "sentiment_trend"
    ]
    by_channel = {row["key"]: row for row in data["breakdown"]}
    assert by_channel["telegram"]["conversations"] == 2
    assert by_channel["email"]["csat_average"] == 5.0

    resp = await client.get("/api/v1/metrics?channel=email", headers=headers)
    assert (await resp.json())["totals"]["conversations"] == 1

    resp = await client.get("/api/v1/metrics.csv?group_by=agent", headers=headers)
    assert resp.status == 200 and resp.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(await resp.text())))
    assert rows[0][2] == "agent"
    assert rows[-1][2:6] == ["total", "3", "3", "0"]
    assert "Huda" in {r[2] for r in rows[1:-1]}


async def test_metrics_are_for_supervisors(client: Client) -> None:
    """An agent gets 403 from the metrics and the CSV."""
    headers = await login_as(client, "sara")
    for path in ("/api/v1/metrics", "/api/v1/metrics.csv"):
        assert (await client.get(path, headers=headers)).status == 403


async def test_csv_cells_cannot_become_formulas(client: Client) -> None:
    """A slice named like a spreadsheet formula is quoted in the CSV."""
    rt = client.app[RUNTIME]
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    r = await actions.do_ingest(rt, InboundMessage("memory", "x", "x-1", "hi", "X"))
    async with rt.sessions() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == r.conversation_id)
            .values(language="=HYPERLINK(1)")
        )
    resp = await client.get("/api/v1/metrics.csv?group_by=language", headers=headers)
    assert "'=HYPERLINK(1)" in await resp.text()


async def test_containment_counts_only_what_the_bot_closed_alone(db_client: Client) -> None:
    """Escalated-then-returned conversations are not contained; folded ones are not resolved."""
    client = db_client
    rt = client.app[RUNTIME]
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    sara = (await (await client.get("/api/v1/me", headers=headers)).json())["id"]

    async def conversation(sender: str) -> int:
        r = await actions.do_ingest(rt, InboundMessage("memory", sender, f"{sender}-1", "hi"))
        return r.conversation_id

    contained = await conversation("bot-only")
    await actions.do_resolve(rt, contained, agent_id=None)
    bounced = await conversation("bounced")  # escalated, handed back, closed by the bot
    await actions.do_escalate(rt, bounced, "customer_request")
    await actions.do_hand_to_bot(rt, bounced, agent_id=None)
    await actions.do_resolve(rt, bounced, agent_id=None)
    helped = await conversation("helped")
    await actions.do_reply(rt, helped, "On it", agent_id=sara)
    await actions.do_resolve(rt, helped, agent_id=sara)
    # Two identities of one person, each with an active conversation: the merge folds one.
    twin_a = await actions.do_ingest(rt, InboundMessage("memory", "twin-a", "ta-1", "hi"))
    twin_b = await actions.do_ingest(rt, InboundMessage("email", "twin@b", "tb-1", "hi"))
    await actions.do_merge_customers(rt, twin_a.customer_id, twin_b.customer_id, agent_id=sara)

    totals = (await (await client.get("/api/v1/metrics", headers=headers)).json())["totals"]
    assert totals["conversations"] == 5
    assert totals["resolved"] == 3  # the folded conversation is not a resolution
    assert totals["bot_contained"] == 1
    assert totals["containment_rate"] == round(1 / 3, 4)
    assert totals["escalations"] == 1


async def test_a_conversation_closed_by_erasure_is_not_contained(db_client: Client) -> None:
    """Erasing a customer closes their bot conversation; the bot did not contain it."""
    from core.erasure import do_erase_customer

    client = db_client
    rt = client.app[RUNTIME]
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    r = await actions.do_ingest(rt, InboundMessage("memory", "gone", "gone-1", "hi"))
    await do_erase_customer(rt, r.customer_id, agent_id=None, reason="customer asked")
    totals = (await (await client.get("/api/v1/metrics", headers=headers)).json())["totals"]
    assert totals["resolved"] == 1 and totals["bot_contained"] == 0


# A seeded dataset and a slow, obviously-correct reference: the figures recomputed in Python
# from the rows as written, straight from docs/ui.md's definitions, compared with the endpoint's
# SQL on both databases for many periods, filters and groupings.

SEED_DAY = date(2026, 3, 15)
CHANNELS = ("telegram", "email", "webchat", None, "")
LANGUAGES = ("ar", "en", None, "")
REASONS = ("customer_request", "low_confidence", "anger", "no_bot", None)


@dataclass
class Seeded:
    """What was written: agents' names, conversations, messages and CSAT scores, as plain data."""

    agents: dict[int, str]
    conversations: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    csat: dict[int, int]


def _moment(rng: random.Random, days_back: int) -> datetime:
    """A UTC instant within ``days_back`` days before the end of SEED_DAY, to the microsecond."""
    end = datetime.combine(SEED_DAY + timedelta(days=1), time.min, UTC)
    if rng.random() < 0.08:  # exactly on a midnight: the day boundaries must agree
        return end - timedelta(days=rng.randint(1, days_back))
    return end - timedelta(microseconds=rng.randint(1, days_back * 86_400_000_000))


def _seed_data(rng: random.Random) -> Seeded:
    """Random but reproducible rows, with every edge the figures distinguish."""
    # Two agents share a display name: the breakdown is by name, so they are one slice.
    agents = {1: "Amal", 2: "Badr", 3: "Amal", 4: "Dina"}
    conversations: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    csat: dict[int, int] = {}
    for cid in range(1, 501):
        created = _moment(rng, rng.choice([2, 20, 100, 400]))
        status = rng.choice(["resolved", "resolved", "resolved", "open", "pending", "bot"])
        # Durations drawn from a small set so the percentiles meet ties.
        frt = rng.choice([None, None, 0, 30, 60, 60, 600, 3600.5, -5, 86_400 * 3 + 0.25])
        res = rng.choice([60, 600, 600, 7200, 90_000.125])
        conversations.append(
            {
                "id": cid,
                "status": status,
                "assignee_id": rng.choice([None, None, 1, 2, 3, 4]),
                "language": rng.choice(LANGUAGES),
                "last_channel": rng.choice(CHANNELS),
                "created_at": created,
                "first_response_at": None if frt is None else created + timedelta(seconds=frt),
                # A few resolved ones lack resolved_at (not a resolution); others keep a stale one.
                "resolved_at": (
                    created + timedelta(seconds=res)
                    if (status == "resolved" and rng.random() < 0.95) or rng.random() < 0.05
                    else None
                ),
            }
        )
        if rng.random() < 0.3:
            csat[cid] = rng.randint(1, 5)
        for _ in range(rng.randint(0, 7)):
            kind = rng.choice(["incoming", "incoming", "outgoing", "note", "activity"])
            meta: dict[str, Any] = {}
            label = None
            if kind == "incoming":
                label = rng.choice([*SENTIMENTS, None, "mixed"])
            elif kind == "activity" or rng.random() < 0.1:  # a note may carry an action too
                action = rng.choice(
                    [
                        "escalated",
                        "escalated",
                        "assigned",
                        "taken_over",
                        "merged_into",
                        "erased",
                        "resolved",
                    ]
                )
                if action != "resolved" or rng.random() < 0.5:
                    meta["action"] = action
                if action == "escalated" and (reason := rng.choice(REASONS)) is not None:
                    meta["reason"] = reason
            else:
                label = rng.choice([*SENTIMENTS, None])  # outgoing: never counted
            messages.append(
                {
                    "conversation_id": cid if rng.random() < 0.97 else None,
                    "kind": kind,
                    "meta": meta,
                    "sentiment_label": label,
                    "created_at": _moment(rng, 420),
                }
            )
    return Seeded(agents, conversations, messages, csat)


async def _write(sessions: Sessions, data: Seeded) -> None:
    """Insert the seeded rows as they are (no actions: the timestamps are the point)."""
    async with sessions() as session, session.begin():
        session.add_all(
            Agent(id=i, login=f"a{i}", display_name=n, password_hash="x")
            for i, n in data.agents.items()
        )
        session.add_all(Customer(id=c["id"]) for c in data.conversations)
        await session.flush()
        session.add_all(Conversation(customer_id=c["id"], **c) for c in data.conversations)
        await session.flush()
        session.add_all(
            Message(customer_id=m["conversation_id"] or 1, author="customer", **m)
            for m in data.messages
        )
        session.add_all(
            CsatRating(conversation_id=c, customer_id=c, score=s) for c, s in data.csat.items()
        )


def _nearest_rank(values: list[float], p: float) -> float | None:
    """The value at rank ceil(p·n) of the sorted values."""
    if not values:
        return None
    return sorted(values)[math.ceil(p * len(values)) - 1]


def _reference(data: Seeded, query: MetricsQuery) -> dict[str, Any]:
    """The metrics recomputed one conversation and one message at a time."""
    start, end = sorted([query.start or SEED_DAY, query.end or SEED_DAY])
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    picked = [
        c
        for c in data.conversations
        if start <= c["created_at"].date() <= end
        and (not query.channel or c["last_channel"] == query.channel)
        and (query.agent_id is None or c["assignee_id"] == query.agent_id)
        and (not query.language or c["language"] == query.language)
    ]
    ids = {c["id"] for c in picked}

    def actions_of(cid: int) -> list[str | None]:
        return [
            m["meta"].get("action")
            for m in data.messages
            if m["conversation_id"] == cid and m["kind"] == "activity"
        ]

    def slice_of(c: dict[str, Any]) -> str:
        value = {
            "channel": c["last_channel"],
            "agent": data.agents.get(c["assignee_id"]) if c["assignee_id"] else None,
            "language": c["language"],
        }[query.group_by]
        return value or "—"

    def figures(group: list[dict[str, Any]]) -> dict[str, Any]:
        resolved = contained = escalations = 0
        first_response: list[float] = []
        resolution: list[float] = []
        for c in group:
            acts = actions_of(c["id"])
            escalations += acts.count("escalated")
            is_resolved = (
                c["status"] == "resolved"
                and c["resolved_at"] is not None
                and "merged_into" not in acts
            )
            resolved += is_resolved
            contained += (
                is_resolved
                and "escalated" not in acts
                and "assigned" not in acts
                and "taken_over" not in acts
                and "erased" not in acts  # closed by a data erasure, not by the bot
                and c["assignee_id"] is None
                and c["first_response_at"] is None
            )
            if c["first_response_at"] is not None:
                first_response.append((c["first_response_at"] - c["created_at"]).total_seconds())
            if is_resolved:
                resolution.append((c["resolved_at"] - c["created_at"]).total_seconds())
        scores = [data.csat[c["id"]] for c in group if c["id"] in data.csat]
        return {
            "conversations": len(group),
            "resolved": resolved,
            "bot_contained": contained,
            "containment_rate": round(contained / resolved, 4) if resolved else None,
            "escalations": escalations,
            "first_response_median_s": _nearest_rank(first_response, 0.5),
            "first_response_p90_s": _nearest_rank(first_response, 0.9),
            "resolution_median_s": _nearest_rank(resolution, 0.5),
            "resolution_p90_s": _nearest_rank(resolution, 0.9),
            "csat_count": len(scores),
            "csat_average": round(sum(scores) / len(scores), 2) if scores else None,
            "csat_satisfied_rate": (
                round(sum(s >= 4 for s in scores) / len(scores), 4) if scores else None
            ),
        }

    slices: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in picked:
        slices[slice_of(c)].append(c)
    reasons = Counter(
        m["meta"].get("reason", "unknown")
        for m in data.messages
        if m["conversation_id"] in ids
        and m["kind"] == "activity"
        and m["meta"].get("action") == "escalated"
    )
    moods = Counter(
        (m["created_at"].date(), m["sentiment_label"])
        for m in data.messages
        if m["conversation_id"] in ids and m["kind"] == "incoming"
    )
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "filters": {
            "channel": query.channel,
            "agent_id": query.agent_id,
            "language": query.language,
        },
        "group_by": query.group_by,
        "totals": figures(picked),
        "volume": [
            {
                "day": d.isoformat(),
                "conversations": sum(c["created_at"].date() == d for c in picked),
            }
            for d in days
        ],
        "escalations_by_reason": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "sentiment_trend": [
            {"day": d.isoformat(), **{s: moods[d, s] for s in SENTIMENTS}} for d in days
        ],
        "breakdown": [{"key": k, **figures(g)} for k, g in slices.items()],
        "csat_collected": any(c["id"] in data.csat for c in picked),
    }


def _queries() -> list[MetricsQuery]:
    """Periods from one day to the cap, each filter, each grouping, a reversed range."""

    def back(n: int, **kw: Any) -> MetricsQuery:
        return MetricsQuery(start=SEED_DAY - timedelta(days=n - 1), end=SEED_DAY, **kw)

    return [
        back(1),
        back(14),
        back(30, group_by="agent"),
        back(90, group_by="language"),
        back(366),
        back(366, group_by="agent"),
        back(366, group_by="language"),
        back(120, channel="telegram"),
        back(120, channel="email", group_by="agent"),
        back(200, agent_id=1, group_by="language"),
        back(200, agent_id=3),
        back(200, language="ar", group_by="agent"),
        back(366, channel="webchat", agent_id=2, language="en"),
        MetricsQuery(start=SEED_DAY, end=SEED_DAY - timedelta(days=45), group_by="agent"),
        MetricsQuery(start=SEED_DAY - timedelta(days=700), end=SEED_DAY - timedelta(days=500)),
    ]


async def test_metrics_match_a_slow_reference(sessions: Sessions) -> None:
    """Every figure equals a one-row-at-a-time recomputation, on SQLite and PostgreSQL."""
    data = _seed_data(random.Random(20261201))
    await _write(sessions, data)
    seen = []
    for query in _queries():
        async with sessions() as session:
            got = await compute_metrics(session, query)
        want = _reference(data, query)
        # Slices are listed busiest first; the order among equally busy ones is not promised.
        counts = [row["conversations"] for row in got["breakdown"]]
        assert counts == sorted(counts, reverse=True), query
        for result in (got, want):
            result["breakdown"].sort(key=lambda row: row["key"])
        assert list(got["escalations_by_reason"].items()) == list(
            want["escalations_by_reason"].items()
        ), query
        assert got == want, query
        seen.append(want["totals"]["conversations"])
    assert seen[0] > 20 and seen[-1] == 0  # one busy day; a period before any data
