"""The agents' WebSocket: every event they may see, live."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref

from aiohttp import WSMsgType, web

from core.accounts import agent_for_token
from core.bus import Bus
from core.events import Event
from core.models import Agent
from core.types import Role
from inbox.auth import request_token
from inbox.errors import http_error
from inbox.keys import RUNTIME, SOCKET_AGENT, SOCKETS

log = logging.getLogger(__name__)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Authenticate (cookie, bearer or ``?token=``), then stream events until closed."""
    token = request_token(request) or request.query.get("token")
    agent = await agent_for_token(request.app[RUNTIME].sessions, token) if token else None
    if agent is None:
        raise http_error(web.HTTPUnauthorized, "unauthenticated", "log in first")
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)
    await ws.prepare(request)
    ws[SOCKET_AGENT] = agent
    request.app[SOCKETS].add(ws)
    await ws.send_str(json.dumps({"event": "hello", "data": {"agent_id": agent.id}}))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == "ping":
                await ws.send_str('{"event": "pong"}')
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        request.app[SOCKETS].discard(ws)
    return ws


def may_see(agent: Agent, event: Event) -> bool:
    """Whether an agent's role is enough for the event's audience."""
    return Role(agent.role).allows(event.audience)


async def fan_out(app: web.Application, bus: Bus) -> None:
    """Forward every bus event to the sockets allowed to see it; survive bus outages."""
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[SOCKETS]
    while True:
        try:
            async for event in bus.listen():
                raw = event.to_json()
                for ws in list(sockets):
                    agent = ws.get(SOCKET_AGENT)
                    if ws.closed or agent is None or not may_see(agent, event):
                        continue
                    with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
                        await ws.send_str(raw)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event fan-out lost the bus; reconnecting")
            await asyncio.sleep(1)
