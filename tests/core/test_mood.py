"""The sentiment step's rules: anger escalates bot conversations and alerts; a slide alerts."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import select

from core import actions
from core.bus import InProcessBus
from core.db import Sessions
from core.events import ALERT_RAISED, CONVERSATION_ESCALATED, Event
from core.models import Conversation, Message
from core.mood import SentimentStep, is_sliding
from core.notices import HANDOFF
from core.pipeline import StepContext, process_message
from core.runtime import Runtime
from core.types import (
    Author,
    ConversationStatus,
    InboundMessage,
    MessageKind,
    Priority,
    Sentiment,
    SentimentLabel,
)
from tests.conftest import make_settings

# A stand-in scorer for the rules only: the real model is tested in tests/sentiment.
MOODS = {
    "angry": {"angry": 0.9, "negative": 0.06, "neutral": 0.02, "positive": 0.02},
    "meh": {"angry": 0.1, "negative": 0.5, "neutral": 0.3, "positive": 0.1},
    "worse": {"angry": 0.2, "negative": 0.6, "neutral": 0.15, "positive": 0.05},
    "worst": {"angry": 0.3, "negative": 0.6, "neutral": 0.05, "positive": 0.05},
    "calm": {"angry": 0.01, "negative": 0.04, "neutral": 0.9, "positive": 0.05},
}


async def fake_score(text: str) -> Sentiment:
    """Score by the first word, which names the mood."""
    probs = MOODS[text.split()[0]]
    label = max(probs, key=probs.__getitem__)
    return Sentiment(SentimentLabel(label), probs, probs["angry"], probs["angry"] >= 0.5, "fake")


async def run(
    sessions: Sessions, url: str, texts: list[str], **settings: object
) -> tuple[Runtime, int, list[Event]]:
    """Ingest and process the texts in order, collecting the published events."""
    rt = Runtime(
        sessions=sessions,
        bus=InProcessBus(),
        settings=make_settings(url, **settings),
        steps=[SentimentStep(fake_score)],
    )
    events: list[Event] = []

    async def collect() -> None:
        async for event in rt.bus.listen():
            events.append(event)

    task = asyncio.create_task(collect())
    await asyncio.sleep(0)
    conversation_id = 0
    for i, text in enumerate(texts):
        result = await actions.do_ingest(rt, InboundMessage("telegram", "7", f"m{i}", text))
        await process_message(rt, result.message_id)
        conversation_id = result.conversation_id
    await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return rt, conversation_id, events


async def test_angry_arabic_message_escalates_bot_conversation(
    sessions: Sessions, database_url: str
) -> None:
    """Anger on a bot conversation: pending, reason anger, high priority, alert, score kept."""
    rt, cid, events = await run(sessions, database_url, ["angry والله ما عاد أتعامل معكم أبداً"])
    async with rt.sessions() as session:
        conv = await session.get(Conversation, cid)
        message = (
            await session.execute(select(Message).where(Message.kind == "incoming"))
        ).scalar_one()
    assert conv is not None and conv.status == ConversationStatus.PENDING
    assert conv.escalation_reason == "anger" and conv.priority == Priority.HIGH
    assert message.sentiment_label == "angry" and message.sentiment_anger == 0.9
    names = [e.name for e in events]
    assert CONVERSATION_ESCALATED in names and ALERT_RAISED in names
    alert = next(e for e in events if e.name == ALERT_RAISED)
    assert alert.audience == "supervisor" and alert.payload["kind"] == "anger"


async def test_calm_message_escalates_nothing(sessions: Sessions, database_url: str) -> None:
    """A calm message is scored and stored, and the bot keeps the conversation."""
    rt, cid, events = await run(sessions, database_url, ["calm شكراً على المساعدة"])
    async with rt.sessions() as session:
        conv = await session.get(Conversation, cid)
    assert conv is not None and conv.status == ConversationStatus.BOT
    assert ALERT_RAISED not in [e.name for e in events]


async def test_anger_on_human_conversation_raises_priority_keeps_owner(
    sessions: Sessions, database_url: str
) -> None:
    """When a human owns it, anger raises priority and alerts but does not take it away."""
    rt = Runtime(sessions=sessions, bus=InProcessBus(), settings=make_settings(database_url))
    first = await actions.do_ingest(rt, InboundMessage("telegram", "7", "m0", "calm hi"))
    await actions.do_escalate(rt, first.conversation_id, "customer_request")
    from core.accounts import do_create_agent

    agent = await do_create_agent(rt.sessions, "sara", "Sara", "password123")
    await actions.do_assign(rt, first.conversation_id, agent.id, agent_id=agent.id)
    rt.steps = [SentimentStep(fake_score)]
    second = await actions.do_ingest(rt, InboundMessage("telegram", "7", "m1", "angry NOW"))
    await process_message(rt, second.message_id)
    async with rt.sessions() as session:
        conv = await session.get(Conversation, first.conversation_id)
    assert conv is not None and conv.status == ConversationStatus.OPEN
    assert conv.assignee_id == agent.id and conv.priority == Priority.HIGH


async def test_silent_slide_alerts_once(sessions: Sessions, database_url: str) -> None:
    """Negativity that keeps rising over the window raises one slide alert."""
    _rt, _cid, events = await run(
        sessions,
        database_url,
        ["meh late again", "worse still nothing", "worst really?", "worst ok"],
    )
    slides = [e for e in events if e.name == ALERT_RAISED and e.payload["kind"] == "slide"]
    assert len(slides) == 1


def test_slide_needs_a_full_rising_window() -> None:
    """Too few scores, a dip, or a low end are not a slide."""
    assert not is_sliding([0.7, 0.8], 3, 0.6)
    assert not is_sliding([0.7, 0.6, 0.8], 3, 0.6)
    assert not is_sliding([0.1, 0.2, 0.3], 3, 0.6)
    assert is_sliding([0.5, 0.7, 0.9], 3, 0.6)


async def test_slide_alerts_again_after_the_mood_recovered(
    sessions: Sessions, database_url: str
) -> None:
    """A slide, a calm message, then a second slide: two alerts, one per slide."""
    slide = ["meh late", "worse still", "worst really?"]
    _rt, _cid, events = await run(sessions, database_url, [*slide, "calm thanks", *slide])
    slides = [e for e in events if e.name == ALERT_RAISED and e.payload["kind"] == "slide"]
    assert len(slides) == 2


async def test_anger_tells_the_customer_a_person_is_coming(
    sessions: Sessions, database_url: str
) -> None:
    """With the bot on, an angry message on a bot conversation gets the handoff line in Arabic."""
    rt, cid, _events = await run(
        sessions, database_url, ["angry والله ما عاد أتعامل معكم"], bot_enabled=True
    )
    async with rt.sessions() as session:
        out = (
            (
                await session.execute(
                    select(Message).where(
                        Message.conversation_id == cid, Message.kind == MessageKind.OUTGOING
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [(m.text, m.author) for m in out] == [(HANDOFF["ar"], Author.SYSTEM)]


async def test_anger_after_an_agent_took_over_keeps_the_agent(
    sessions: Sessions, database_url: str
) -> None:
    """The step read `bot`; an agent took over before it escalated: the agent keeps it."""
    rt = Runtime(sessions=sessions, bus=InProcessBus(), settings=make_settings(database_url))
    r = await actions.do_ingest(rt, InboundMessage("telegram", "7", "m0", "angry now!"))
    async with rt.sessions() as session:
        stale = await session.get(Conversation, r.conversation_id)
        message = await session.get(Message, r.message_id)
    assert stale is not None and message is not None
    from core.accounts import do_create_agent

    agent = await do_create_agent(rt.sessions, "sara", "Sara", "password123")
    await actions.do_assign(rt, r.conversation_id, agent.id, agent_id=agent.id)
    await SentimentStep(fake_score)(StepContext(rt, message, stale))
    async with rt.sessions() as session:
        conv = await session.get(Conversation, r.conversation_id)
    assert conv is not None and conv.status == ConversationStatus.OPEN
    assert conv.assignee_id == agent.id and conv.priority == Priority.HIGH
