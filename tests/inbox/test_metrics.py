"""Supervisor metrics: computed from stored conversations, messages, activity and CSAT."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from core import actions
from core.csat import do_record_csat
from core.errors import Invalid
from core.models import Conversation
from core.types import InboundMessage, Role, Sentiment, SentimentLabel
from inbox.app import create_app
from inbox.endpoints.metrics import MetricsQuery, percentile, period
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
