"""The WebSocket pushes events live, and only to those allowed to see them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from core.actions import do_raise_alert
from core.types import Role
from inbox.keys import RUNTIME
from tests.inbox.conftest import Client, login_as, memory, next_event


async def test_socket_needs_a_session(client: Client) -> None:
    """Without a session the upgrade is refused with 401."""
    resp = await client.get("/api/v1/ws")
    assert resp.status == 401


async def test_new_message_is_pushed_live(client: Client) -> None:
    """An agent's socket receives message.created for a customer's message as it arrives."""
    headers = await login_as(client, "sara")
    ws = await client.ws_connect("/api/v1/ws", headers=headers)
    await next_event(ws, "hello")
    await memory(client).receive("c1", "in-1", "مرحبا <script>alert(1)</script>")
    event = await next_event(ws, "message.created")
    assert event["data"]["text"] == "مرحبا <script>alert(1)</script>"
    assert event["data"]["channel"] == "memory"
    await ws.close()


async def test_alerts_reach_supervisors_not_agents(client: Client) -> None:
    """alert.raised goes to a supervisor's socket and never to an agent's."""
    agent = await login_as(client, "sara")
    supervisor = await login_as(client, "huda", Role.SUPERVISOR)
    ws_agent = await client.ws_connect("/api/v1/ws", headers=agent)
    ws_super = await client.ws_connect("/api/v1/ws", headers=supervisor)
    await next_event(ws_agent, "hello")
    await next_event(ws_super, "hello")
    result = await memory(client).receive("c1", "in-1", "!!!")
    await do_raise_alert(client.app[RUNTIME], result.conversation_id, "anger", "angry customer")
    alert = await next_event(ws_super, "alert.raised")
    assert alert["data"]["kind"] == "anger"
    # The agent sees the alert's activity line (not just the customer's message) but not the
    # supervisor alert itself.
    seen: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(0.5):
            while True:
                msg = await ws_agent.receive()
                seen.append(json.loads(msg.data))
    except TimeoutError:
        pass
    assert "alert.raised" not in [e["event"] for e in seen]
    lines = [
        e["data"]
        for e in seen
        if e["event"] == "message.created" and e["data"]["meta"].get("action") == "alert"
    ]
    assert [(m["kind"], m["meta"]["alert"]) for m in lines] == [("activity", "anger")]
    assert lines[0]["conversation_id"] == result.conversation_id
    await ws_agent.close()
    await ws_super.close()
