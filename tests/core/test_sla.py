"""SLA breaches: one persisted alert per customer wait, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from core import actions
from core.accounts import do_create_agent
from core.bus import InProcessBus
from core.db import make_engine, make_sessions
from core.models import Conversation, Message, utcnow
from core.runtime import Runtime
from core.sla import check_sla
from core.types import InboundMessage, Role
from tests.conftest import make_settings

MINUTE = timedelta(minutes=1)


async def _alerts(rt: Runtime, conversation_id: int | None = None) -> list[dict[str, object]]:
    """The `sla_breach` alert lines' meta, oldest first."""
    async with rt.sessions() as session:
        query = select(Message.meta).where(Message.meta["alert"].as_string() == "sla_breach")
        if conversation_id is not None:
            query = query.where(Message.conversation_id == conversation_id)
        return list((await session.execute(query.order_by(Message.id))).scalars().all())


async def _waiting_since(rt: Runtime, conversation_id: int) -> object:
    async with rt.sessions() as session:
        conv = await session.get(Conversation, conversation_id)
    assert conv is not None and conv.waiting_since is not None
    return conv.waiting_since


async def _queued(rt: Runtime, sender: str) -> int:
    """A conversation escalated to the queue now."""
    r = await actions.do_ingest(rt, InboundMessage("memory", sender, f"{sender}-1", "hello"))
    await actions.do_escalate(rt, r.conversation_id, "customer_request")
    return r.conversation_id


async def test_a_queue_wait_past_its_limit_raises_one_alert(rt: Runtime) -> None:
    """Past SLA_FIRST_RESPONSE_MINUTES a pending conversation alerts, once however often checked."""
    conv = await _queued(rt, "q")
    now = utcnow()
    assert await check_sla(rt, now + 14 * MINUTE) == 0
    assert await check_sla(rt, now + 16 * MINUTE) == 1
    assert await check_sla(rt, now + 17 * MINUTE) == 0
    assert await check_sla(rt, now + 60 * MINUTE) == 0
    [meta] = await _alerts(rt, conv)
    assert meta["scope"] == "queue" and meta["limit_seconds"] == 15 * 60
    assert meta["escalation_reason"] == "customer_request"
    assert meta["waited_seconds"] >= 16 * 60  # type: ignore[operator]

    # Assigning it does not end the customer's wait: the same wait, no second alert.
    sara = await do_create_agent(rt.sessions, "sara", "Sara", "password123", Role.AGENT)
    await actions.do_assign(rt, conv, sara.id, agent_id=sara.id)
    assert await check_sla(rt, now + 90 * MINUTE) == 0


async def test_a_customer_waiting_for_the_assigned_agent_alerts_once_per_wait(
    rt: Runtime,
) -> None:
    """Open conversations alert past SLA_WAIT_MINUTES; an agent reply ends the wait."""
    sara = await do_create_agent(rt.sessions, "sara", "Sara", "password123", Role.AGENT)
    conv = await _queued(rt, "o")
    await actions.do_assign(rt, conv, sara.id, agent_id=sara.id)
    await actions.do_reply(rt, conv, "Hello, looking into it", agent_id=sara.id)
    assert await check_sla(rt, utcnow() + 60 * MINUTE) == 0  # nobody is waiting

    await actions.do_ingest(rt, InboundMessage("memory", "o", "o-2", "any news?"))
    since = await _waiting_since(rt, conv)
    assert await check_sla(rt, utcnow() + 16 * MINUTE) == 1
    [meta] = await _alerts(rt, conv)
    assert meta["scope"] == "reply" and meta["assignee_id"] == sara.id
    assert meta["waiting_since"] == since.isoformat()  # type: ignore[attr-defined]

    # Answered, then the customer writes again: a new wait, a new alert.
    await actions.do_reply(rt, conv, "It ships today", agent_id=sara.id)
    assert await check_sla(rt, utcnow() + 60 * MINUTE) == 0
    await actions.do_ingest(rt, InboundMessage("memory", "o", "o-3", "still nothing"))
    assert await check_sla(rt, utcnow() + 16 * MINUTE) == 1
    assert [m["scope"] for m in await _alerts(rt, conv)] == ["reply", "reply"]


async def test_thresholds_come_from_the_settings(sessions: object, database_url: str) -> None:
    """SLA_FIRST_RESPONSE_MINUTES and SLA_WAIT_MINUTES set the limits."""
    settings = make_settings(database_url, sla_first_response_minutes=2, sla_wait_minutes=30)
    rt = Runtime(sessions=sessions, bus=InProcessBus(), settings=settings)  # type: ignore[arg-type]
    conv = await _queued(rt, "s")
    assert await check_sla(rt, utcnow() + 1 * MINUTE) == 0
    assert await check_sla(rt, utcnow() + 3 * MINUTE) == 1
    [meta] = await _alerts(rt, conv)
    assert meta["limit_seconds"] == 120


async def test_processes_checking_at_once_raise_it_once(rt: Runtime, database_url: str) -> None:
    """Three processes (own engines) checking together, then a restart: still one alert each."""
    convs = [await _queued(rt, f"p{n}") for n in range(3)]
    engines = [make_engine(database_url) for _ in range(3)]
    others = [
        Runtime(sessions=make_sessions(e), bus=InProcessBus(), settings=rt.settings)
        for e in engines
    ]
    later = utcnow() + 20 * MINUTE
    try:
        raised = await asyncio.gather(*(check_sla(o, later) for o in others))
        assert sum(raised) == 3
        restarted = Runtime(
            sessions=make_sessions(engines[0]), bus=InProcessBus(), settings=rt.settings
        )
        assert await check_sla(restarted, later + MINUTE) == 0
    finally:
        for e in engines:
            await e.dispose()
    assert sorted(m["scope"] for m in await _alerts(rt)) == ["queue"] * 3
    for conv in convs:
        assert len(await _alerts(rt, conv)) == 1
