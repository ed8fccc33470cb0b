"""The agents' WebSocket: every event they may see, live."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from datetime import datetime

from aiohttp import WSMsgType, web

from core import events as ev
from core.accounts import live_session
from core.bus import Bus
from core.events import Event
from core.models import Agent, utcnow
from core.types import Role
from inbox.auth import request_token
from inbox.errors import http_error
from inbox.keys import RUNTIME, SOCKET_AGENT, SOCKET_SESSION, SOCKETS

log = logging.getLogger(__name__)

# The close code a page reads as "log in again" (4000–4999 are the application's own).
SESSION_ENDED = 4401
# How often a socket re-reads its session from the database, whatever the bus said.
RECHECK_SECONDS = 60.0
_closing: set[asyncio.Task[None]] = set()


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Authenticate (cookie, bearer or ``?token=``), then stream events until closed."""
    # The socket lives only as long as its session: logout, a password reset or deactivation
    # close it at once (`session.revoked` through the bus), expiry when it comes, and a
    # re-check every RECHECK_SECONDS catches changes made where no bus reaches (the CLI).
    token = request_token(request) or request.query.get("token")
    found = await live_session(request.app[RUNTIME].sessions, token) if token else None
    if found is None or token is None:
        raise http_error(web.HTTPUnauthorized, "unauthenticated", "log in first")
    agent, session_id, expires_at = found
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)
    await ws.prepare(request)
    ws[SOCKET_AGENT] = agent
    ws[SOCKET_SESSION] = session_id
    request.app[SOCKETS].add(ws)
    watch = asyncio.create_task(_watch_session(request.app, ws, token, expires_at))
    await ws.send_str(json.dumps({"event": "hello", "data": {"agent_id": agent.id}}))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == "ping":
                await ws.send_str('{"event": "pong"}')
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        watch.cancel()
        request.app[SOCKETS].discard(ws)
    return ws


async def close_ended(ws: web.WebSocketResponse) -> None:
    """Close a socket whose session ended; the page goes back to the login form."""
    with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
        await ws.close(code=SESSION_ENDED, message=b"session ended")


async def _watch_session(
    app: web.Application, ws: web.WebSocketResponse, token: str, expires_at: datetime
) -> None:
    """Close the socket when its session expires or stops being valid."""
    while not ws.closed:
        left = (expires_at - utcnow()).total_seconds()
        await asyncio.sleep(max(0.0, min(left, RECHECK_SECONDS)))
        try:
            found = await live_session(app[RUNTIME].sessions, token)
        except Exception:
            log.exception("could not re-check a socket's session; keeping it open")
            continue
        if found is None:
            await close_ended(ws)
            return
        agent, _, expires_at = found
        ws[SOCKET_AGENT] = agent  # picks up a changed role


def online_agent_ids(app: web.Application) -> set[int]:
    """The agents with an open socket in this process (what "online" means in the console)."""
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[SOCKETS]
    return {ws[SOCKET_AGENT].id for ws in list(sockets) if SOCKET_AGENT in ws and not ws.closed}


def may_see(agent: Agent, event: Event) -> bool:
    """Whether an agent's role is enough for the event's audience."""
    return Role(agent.role).allows(event.audience)


async def fan_out(app: web.Application, bus: Bus) -> None:
    """Forward every bus event to the sockets allowed to see it; survive bus outages."""
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[SOCKETS]
    while True:
        try:
            async for event in bus.listen():
                if event.name == ev.SESSION_REVOKED:
                    _close_revoked(sockets, event)
                    continue
                if event.name == ev.AGENT_UPDATED:
                    _refresh_agent(sockets, event)
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


def _close_revoked(sockets: weakref.WeakSet[web.WebSocketResponse], event: Event) -> None:
    """Close the sockets of the revoked sessions (in tasks: a slow client must not stall us)."""
    ended = set(event.payload.get("session_ids") or [])
    for ws in list(sockets):
        if ws.get(SOCKET_SESSION) in ended and not ws.closed:
            task = asyncio.create_task(close_ended(ws))
            _closing.add(task)
            task.add_done_callback(_closing.discard)


def _refresh_agent(sockets: weakref.WeakSet[web.WebSocketResponse], event: Event) -> None:
    """Sockets of an agent whose role changed see events for the new role from now on."""
    for ws in list(sockets):
        agent = ws.get(SOCKET_AGENT)
        if agent is not None and agent.id == event.payload.get("id"):
            agent.role = Role(event.payload["role"])
            agent.display_name = event.payload["display_name"]
