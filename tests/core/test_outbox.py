"""The outbox: every event subscribers may receive is stored in the transaction that made it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import actions
from core import events as ev
from core.accounts import do_create_agent
from core.bus import InProcessBus
from core.db import in_transaction
from core.errors import ConflictError
from core.events import Event
from core.outbox import deliverable, plain_payload
from core.reads import do_mark_read
from core.runtime import Runtime
from core.teams import do_add_team_member, do_create_team, do_delete_team, do_update_team
from core.types import DeliveryStatus, InboundMessage, Priority, Role, Sentiment, SentimentLabel
from core.visitors import do_record_contact
from core.webhook_models import OutboxEvent
from core.webhooks import do_create_subscription


class RecordingBus(InProcessBus):
    """The in-process bus, keeping a copy of everything published."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[Event] = []

    async def publish(self, event: Event) -> None:
        """Keep the event, then fan it out."""
        self.published.append(event)
        await super().publish(event)

    async def listen(self) -> AsyncIterator[Event]:
        """Listeners are not needed here."""
        raise NotImplementedError
        yield  # pragma: no cover


async def staged(rt: Runtime) -> list[OutboxEvent]:
    """The outbox, oldest first."""
    async with rt.sessions() as session:
        rows = await session.execute(select(OutboxEvent).order_by(OutboxEvent.id))
        return list(rows.scalars().all())


def key(name: str, payload: object) -> str:
    """An event's name and payload as one comparable string."""
    return json.dumps([name, payload], sort_keys=True, ensure_ascii=False)


async def test_every_public_event_the_actions_publish_is_in_the_outbox(rt: Runtime) -> None:
    """Across the actions, the outbox holds exactly the public events published live."""
    bus = RecordingBus()
    rt = Runtime(sessions=rt.sessions, bus=bus, settings=rt.settings)
    sub = await do_create_subscription(rt, "https://crm.example/hook", ["*"])
    agent = await do_create_agent(rt.sessions, "sara", "Sara", "password123", Role.SUPERVISOR)
    first = await actions.do_ingest(rt, InboundMessage("telegram", "42", "tg-1", "مرحبا"))
    await actions.do_ingest(rt, InboundMessage("telegram", "42", "tg-1", "مرحبا!", edited=True))
    other = await actions.do_ingest(rt, InboundMessage("webchat", "shop:v1", "w-1", "hi"))
    conv = first.conversation_id
    mood = Sentiment(SentimentLabel.ANGRY, {"angry": 0.9, "neutral": 0.1}, 0.9, True, "test")
    await actions.do_record_sentiment(rt, first.message_id, mood)
    await actions.do_raise_alert(rt, conv, "anger", "an angry customer")
    await actions.do_escalate(rt, conv, "anger", priority=Priority.HIGH)
    team = await do_create_team(rt, "Billing")
    await do_update_team(rt, team.id, description="money")
    await do_add_team_member(rt, team.id, agent.id)
    await actions.do_assign_team(rt, conv, team.id, agent_id=agent.id)
    reply = await actions.do_reply(rt, conv, "أهلاً", agent_id=agent.id)
    await actions.do_note(rt, conv, agent.id, "a private note")
    await actions.do_mark_delivery(rt, reply.id, DeliveryStatus.SENT, external_id="42:7")
    await do_mark_read(rt, agent.id, conv)
    await actions.do_set_labels(rt, conv, ["vip"], agent_id=agent.id)
    await do_delete_team(rt, team.id, agent_id=agent.id)
    await actions.do_resolve(rt, conv, agent_id=agent.id)
    await do_record_contact(rt, "webchat", "shop:v1", "v1@example.com")
    await actions.do_merge_customers(rt, other.customer_id, first.customer_id, agent_id=agent.id)
    await actions.do_update_customer(rt, first.customer_id, {"language": "en"}, agent_id=agent.id)

    public = [e for e in bus.published if deliverable(e)]
    names = {e.name for e in public}
    assert {ev.CUSTOMER_MERGED, ev.CONVERSATION_READ, ev.TEAM_DELETED, ev.ALERT_RAISED} <= names
    assert ev.CUSTOMER_UPDATED in names
    assert any(e.private for e in bus.published)  # the note was published, live only
    rows = await staged(rt)
    assert Counter(key(r.event, r.payload) for r in rows) == Counter(
        key(e.name, plain_payload(e)) for e in public
    )
    assert all(r.subscription_ids == [sub.id] for r in rows)
    assert len({r.event_id for r in rows}) == len(rows)


async def test_nothing_is_staged_while_no_subscription_wants_the_event(rt: Runtime) -> None:
    """No subscriptions, or only ones for other events: the outbox stays empty."""
    await actions.do_ingest(rt, InboundMessage("telegram", "42", "tg-1", "hello"))
    assert await staged(rt) == []
    await do_create_subscription(rt, "https://crm.example/hook", ["conversation.resolved"])
    result = await actions.do_ingest(rt, InboundMessage("telegram", "43", "tg-2", "hello"))
    assert await staged(rt) == []
    await actions.do_resolve(rt, result.conversation_id, agent_id=None)
    assert [r.event for r in await staged(rt)] == [ev.CONVERSATION_RESOLVED]


async def test_a_refused_action_stages_nothing(rt: Runtime) -> None:
    """The outbox row is part of the transaction: an action that rolls back leaves none."""
    await do_create_subscription(rt, "https://crm.example/hook", ["*"])
    result = await actions.do_ingest(rt, InboundMessage("telegram", "42", "tg-1", "hello"))
    await actions.do_resolve(rt, result.conversation_id, agent_id=None)
    before = len(await staged(rt))
    with pytest.raises(ConflictError):
        await actions.do_reply(rt, result.conversation_id, "too late")
    assert len(await staged(rt)) == before


async def test_a_retried_transaction_stages_its_events_once(rt: Runtime) -> None:
    """A transaction lost to a race and run again stages the second attempt's events only."""
    await do_create_subscription(rt, "https://crm.example/hook", ["*"])
    out: list[Event] = []
    attempts: list[int] = []

    async def work(session: AsyncSession) -> None:
        attempts.append(1)
        out.append(Event(ev.TEAM_UPDATED, {"id": 1, "attempt": len(attempts)}))
        if len(attempts) == 1:
            raise IntegrityError("INSERT", {}, Exception("lost a race"))

    await in_transaction(rt.sessions, work, events=out)
    (row,) = await staged(rt)
    assert row.payload == {"id": 1, "attempt": 2}
