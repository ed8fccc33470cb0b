"""The supervisor's alert feed, acknowledging alerts, and the team's load."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core import actions
from core.models import Conversation, Message, utcnow
from core.types import InboundMessage, Role
from inbox.app import create_app
from inbox.keys import RUNTIME
from tests.conftest import make_settings
from tests.inbox.conftest import Client, eventually, login_as


@pytest.fixture
async def any_client(aiohttp_client: Callable[..., Awaitable[Client]], database_url: str) -> Client:
    """The service on SQLite and on PostgreSQL (the feed filters on JSON, which differs)."""
    return await aiohttp_client(create_app(make_settings(database_url), migrate=False))


async def _pending(client: Client, sender: str) -> int:
    """A conversation the routing step has put in the human queue."""
    rt = client.app[RUNTIME]
    r = await actions.do_ingest(rt, InboundMessage("telegram", sender, f"{sender}-1", "hi", sender))

    async def escalated() -> bool:
        async with rt.sessions() as session:
            conv = await session.get(Conversation, r.conversation_id)
            return conv is not None and conv.status == "pending"

    await eventually(escalated)
    return r.conversation_id


async def test_feed_lists_alerts_and_long_waits(any_client: Client) -> None:
    """Anger alerts come newest first, no_bot hand-offs stay out; old waits are SLA breaches."""
    client = any_client
    rt = client.app[RUNTIME]
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    calm = await _pending(client, "calm")
    angry = await _pending(client, "angry")
    await actions.do_raise_alert(rt, angry, "anger", "Angry customer", anger=0.93)
    async with rt.sessions() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == calm)
            .values(waiting_since=utcnow() - timedelta(minutes=40))
        )

    data = await (await client.get("/api/v1/alerts", headers=headers)).json()
    kinds = [(a["kind"], a["conversation_id"]) for a in data["alerts"]]
    # With no bot every conversation is escalated `no_bot`: the normal path, not an alert.
    assert kinds == [("anger", angry)]
    assert data["alerts"][0]["customer_name"] == "angry"
    assert [(w["kind"], w["conversation_id"]) for w in data["waiting"]] == [("sla_breach", calm)]
    assert data["waiting"][0]["waiting_seconds"] >= 40 * 60

    alert_id = data["alerts"][0]["id"]
    resp = await client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=headers)
    assert resp.status == 200
    me = await (await client.get("/api/v1/me", headers=headers)).json()
    data = await (await client.get("/api/v1/alerts", headers=headers)).json()
    assert data["alerts"][0]["acknowledged_by"] == me["id"]


async def test_only_alerts_can_be_acknowledged(client: Client) -> None:
    """Acknowledging a message or an activity line outside the feed is a 404; agents get 403."""
    rt = client.app[RUNTIME]
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    r = await actions.do_ingest(rt, InboundMessage("memory", "u", "u-1", "hello", "U"))
    resp = await client.post(f"/api/v1/alerts/{r.message_id}/acknowledge", headers=headers)
    assert resp.status == 404
    await _pending(client, "u")
    await actions.do_resolve(rt, r.conversation_id, agent_id=None)
    async with rt.sessions() as session:
        resolved_line = (
            await session.execute(
                select(Message.id).where(Message.meta["action"].as_string() == "resolved")
            )
        ).scalar_one()
    resp = await client.post(f"/api/v1/alerts/{resolved_line}/acknowledge", headers=headers)
    assert resp.status == 404
    agent = await login_as(client, "sara")
    assert (await client.get("/api/v1/alerts", headers=agent)).status == 403
    assert (await client.get("/api/v1/team", headers=agent)).status == 403


async def test_team_shows_online_agents_and_open_load(client: Client) -> None:
    """An agent with an open socket is online; open conversations count as load."""
    rt = client.app[RUNTIME]
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    sara_headers = await login_as(client, "sara")
    sara = (await (await client.get("/api/v1/me", headers=sara_headers)).json())["id"]
    conv = await _pending(client, "x")
    await actions.do_assign(rt, conv, sara, agent_id=sara)
    ws = await client.ws_connect("/api/v1/ws", headers=sara_headers)
    await ws.receive_json()
    team = {a["login"]: a for a in await (await client.get("/api/v1/team", headers=headers)).json()}
    assert team["sara"]["online"] is True and team["sara"]["open"] == 1
    assert team["huda"]["online"] is False and team["huda"]["open"] == 0
    await ws.close()


async def test_a_bot_handoff_shows_once(db_client: Client) -> None:
    """The bot's escalation and its handoff alert are one feed entry, with the reason."""
    # No pipeline steps: the default routing would race this test with its own `no_bot` handoff.
    client = db_client
    rt = client.app[RUNTIME]
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    r = await actions.do_ingest(rt, InboundMessage("memory", "h", "h-1", "agent please", "H"))
    await actions.do_escalate(rt, r.conversation_id, "customer_request", detail="bot")
    await actions.do_raise_alert(
        rt, r.conversation_id, "handoff", "bot handed over", reason="customer_request"
    )
    data = await (await client.get("/api/v1/alerts", headers=headers)).json()
    mine = [a for a in data["alerts"] if a["conversation_id"] == r.conversation_id]
    assert [(a["kind"], a["reason"]) for a in mine] == [("handoff", "customer_request")]
    # Acknowledging the escalation line acknowledges the one entry both lines make.
    escalation = min([mine[0]["id"], *mine[0]["twin_ids"]])
    resp = await client.post(f"/api/v1/alerts/{escalation}/acknowledge", headers=headers)
    assert resp.status == 200
    data = await (await client.get("/api/v1/alerts", headers=headers)).json()
    assert [a["acknowledged_by"] is not None for a in data["alerts"]] == [True]


async def test_a_handoff_can_be_acknowledged(db_client: Client) -> None:
    """A handoff entry (the escalation line itself) is acknowledged like an alert, live."""
    client = db_client
    rt = client.app[RUNTIME]
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    me = (await (await client.get("/api/v1/me", headers=headers)).json())["id"]
    r = await actions.do_ingest(rt, InboundMessage("memory", "k", "k-1", "a person please", "K"))
    await actions.do_escalate(rt, r.conversation_id, "customer_request")
    entry = (await (await client.get("/api/v1/alerts", headers=headers)).json())["alerts"][0]
    assert (entry["kind"], entry["conversation_id"]) == ("handoff", r.conversation_id)
    ws = await client.ws_connect("/api/v1/ws", headers=headers)
    await ws.receive_json()

    resp = await client.post(f"/api/v1/alerts/{entry['id']}/acknowledge", headers=headers)
    assert resp.status == 200, await resp.text()
    event = await ws.receive_json(timeout=5)
    assert event["event"] == "alert.acknowledged" and event["data"]["id"] == entry["id"]
    await ws.close()
    entry = (await (await client.get("/api/v1/alerts", headers=headers)).json())["alerts"][0]
    assert entry["acknowledged_by"] == me


async def test_no_bot_escalations_do_not_flood_the_feed(db_client: Client) -> None:
    """`no_bot` hand-offs are left out in the query, so they cannot push real ones off the page."""
    client = db_client
    rt = client.app[RUNTIME]
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    wanted = {}
    for n, reason in enumerate(["anger", "customer_request", "low_confidence"]):
        r = await actions.do_ingest(rt, InboundMessage("memory", f"w{n}", f"w{n}-1", "hi", "W"))
        await actions.do_escalate(rt, r.conversation_id, reason)
        wanted[r.conversation_id] = reason
    for n in range(5):
        r = await actions.do_ingest(rt, InboundMessage("memory", f"n{n}", f"n{n}-1", "hi", "N"))
        await actions.do_escalate(rt, r.conversation_id, "no_bot")
    data = await (await client.get("/api/v1/alerts?limit=3", headers=headers)).json()
    got = {a["conversation_id"]: a["reason"] for a in data["alerts"]}
    assert got == wanted


async def test_sla_breaches_are_raised_by_the_service_and_pushed_live(
    aiohttp_client: Callable[..., Awaitable[Client]], database_url: str
) -> None:
    """With short limits the service's own check raises `sla_breach` and supervisors get it."""
    settings = make_settings(
        database_url,
        sla_first_response_minutes=0.01,  # 0.6 s in the queue
        sla_warning_minutes=0.005,
        sla_check_seconds=0.1,
    )
    client = await aiohttp_client(create_app(settings, migrate=False))
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    ws = await client.ws_connect("/api/v1/ws", headers=headers)
    await ws.receive_json()
    conv = await _pending(client, "slow")
    async with asyncio.timeout(10):
        while True:
            event = await ws.receive_json()
            if event["event"] == "alert.raised":
                break
    assert event["data"]["kind"] == "sla_breach" and event["data"]["scope"] == "queue"
    assert event["data"]["conversation"]["id"] == conv
    await asyncio.sleep(0.5)  # a few more checks: still one alert for this wait
    await ws.close()

    data = await (await client.get("/api/v1/alerts", headers=headers)).json()
    breaches = [a for a in data["alerts"] if a["kind"] == "sla_breach"]
    assert [(a["conversation_id"], a["scope"]) for a in breaches] == [(conv, "queue")]
    assert data["waiting"] == []  # the alerted wait is listed once, in the feed
    resp = await client.post(f"/api/v1/alerts/{breaches[0]['id']}/acknowledge", headers=headers)
    assert resp.status == 200

    # Once newer alerts push it off the feed's page, the wait is back in the waiting list.
    await actions.do_raise_alert(client.app[RUNTIME], conv, "anger", "angry message")
    data = await (await client.get("/api/v1/alerts?limit=1", headers=headers)).json()
    assert [a["kind"] for a in data["alerts"]] == ["anger"]
    assert [(w["conversation_id"], w["kind"]) for w in data["waiting"]] == [(conv, "sla_breach")]


async def test_waiting_list_covers_queue_and_reply_waits(db_client: Client) -> None:
    """Customers waiting past the warning show with their scope: in the queue or on an agent."""
    client = db_client
    rt = client.app[RUNTIME]
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    sara = (await (await client.get("/api/v1/me", headers=headers)).json())["id"]
    queued = await actions.do_ingest(rt, InboundMessage("memory", "a", "a-1", "hi", "A"))
    await actions.do_escalate(rt, queued.conversation_id, "customer_request")
    owned = await actions.do_ingest(rt, InboundMessage("memory", "b", "b-1", "hi", "B"))
    await actions.do_assign(rt, owned.conversation_id, sara, agent_id=sara)
    await actions.do_reply(rt, owned.conversation_id, "Hi!", agent_id=sara)
    await actions.do_ingest(rt, InboundMessage("memory", "b", "b-2", "hello?", "B"))
    answered = await actions.do_ingest(rt, InboundMessage("memory", "c", "c-1", "hi", "C"))
    await actions.do_assign(rt, answered.conversation_id, sara, agent_id=sara)
    await actions.do_reply(rt, answered.conversation_id, "Hi!", agent_id=sara)
    async with rt.sessions() as session, session.begin():
        for conv_id, minutes in ((queued.conversation_id, 7), (owned.conversation_id, 20)):
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conv_id)
                .values(waiting_since=utcnow() - timedelta(minutes=minutes))
            )
    data = await (await client.get("/api/v1/alerts", headers=headers)).json()
    assert [(w["conversation_id"], w["scope"], w["kind"]) for w in data["waiting"]] == [
        (owned.conversation_id, "reply", "sla_breach"),
        (queued.conversation_id, "queue", "long_wait"),
    ]
