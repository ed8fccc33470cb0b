"""Logging in and out, and who may call what."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import WSMsgType
from sqlalchemy import update

from core.accounts import do_update_agent, token_hash
from core.actions import do_escalate, do_ingest
from core.bus import InProcessBus
from core.models import Session, utcnow
from core.runtime import Runtime
from core.types import InboundMessage, Role
from inbox import ws as ws_module
from inbox.keys import LOGIN_THROTTLE, RUNTIME
from inbox.ws import SESSION_ENDED
from tests.inbox.conftest import Client, login_as, memory, next_event


async def test_unauthenticated_requests_get_401(client: Client) -> None:
    """Without a session every agent endpoint answers 401 with a JSON reason."""
    for method, path in [
        ("GET", "/api/v1/conversations"),
        ("GET", "/api/v1/customers/1"),
        ("POST", "/api/v1/conversations/1/resolve"),
        ("GET", "/api/v1/me"),
    ]:
        resp = await client.request(method, path)
        assert resp.status == 401, path
        assert (await resp.json())["error"]["code"] == "unauthenticated"


async def test_wrong_password_is_refused(client: Client) -> None:
    """A wrong password gets 401 and no token."""
    await login_as(client, "sara")
    resp = await client.post("/api/v1/auth/login", json={"login": "sara", "password": "nope-nope"})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "bad_credentials"


async def test_cookie_session_and_logout(client: Client) -> None:
    """Login sets an HttpOnly cookie that works; logout ends the session."""
    headers = await login_as(client, "sara")
    resp = await client.get("/api/v1/me", headers=headers)
    assert (await resp.json())["login"] == "sara"
    resp = await client.post(
        "/api/v1/auth/login", json={"login": "sara", "password": "password123"}
    )
    cookie = resp.cookies["tawasul_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert (await client.get("/api/v1/me")).status == 200  # the cookie jar carries it
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status == 200
    assert (await client.get("/api/v1/me", headers=headers)).status == 401


async def test_agent_cannot_call_admin_endpoints(client: Client) -> None:
    """An agent gets 403 on create-agent and merge; a supervisor may merge; an admin may create."""
    agent = await login_as(client, "sara")
    new = {"login": "newbie", "display_name": "New", "password": "password123"}
    resp = await client.post("/api/v1/agents", json=new, headers=agent)
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"
    resp = await client.post("/api/v1/customers/1/merge", json={"source_id": 2}, headers=agent)
    assert resp.status == 403
    admin = await login_as(client, "root", Role.ADMIN)
    resp = await client.post("/api/v1/agents", json=new, headers=admin)
    assert resp.status == 201 and (await resp.json())["role"] == "agent"
    resp = await client.post("/api/v1/agents", json=new, headers=admin)
    assert resp.status == 409


async def test_agent_may_only_assign_to_self(client: Client) -> None:
    """Agents take conversations themselves; assigning others needs a supervisor (403)."""
    agent = await login_as(client, "sara")
    await memory(client).receive("c1", "in-1", "hello")
    resp = await client.post(
        "/api/v1/conversations/1/assign", json={"agent_id": 999}, headers=agent
    )
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"


async def test_agents_take_free_conversations_but_not_a_colleagues(client: Client) -> None:
    """Agents take free conversations and drop their own; a colleague's needs a supervisor."""
    rt = client.app[RUNTIME]
    sara = await login_as(client, "sara")
    omar = await login_as(client, "omar")
    huda = await login_as(client, "huda", Role.SUPERVISOR)
    ids = {}
    for login, headers in (("sara", sara), ("omar", omar)):
        ids[login] = (await (await client.get("/api/v1/me", headers=headers)).json())["id"]
    pending = await do_ingest(rt, InboundMessage("memory", "c1", "in-1", "hello"))
    await do_escalate(rt, pending.conversation_id, "customer_request")
    bot = await do_ingest(rt, InboundMessage("memory", "c2", "in-2", "hi bot"))

    async def assign(conv: int, who: int | None, headers: dict[str, str]) -> tuple[int, Any]:
        resp = await client.post(
            f"/api/v1/conversations/{conv}/assign", json={"agent_id": who}, headers=headers
        )
        return resp.status, await resp.json()

    # Free conversations: an agent takes them, and may drop their own.
    status, body = await assign(bot.conversation_id, ids["omar"], omar)
    assert (status, body["assignee_id"]) == (200, ids["omar"])
    status, body = await assign(pending.conversation_id, ids["sara"], sara)
    assert (status, body["assignee_id"]) == (200, ids["sara"])
    # Omar can neither take Sara's conversation nor return it to the queue.
    for who in (ids["omar"], None):
        status, body = await assign(pending.conversation_id, who, omar)
        assert status == 403 and body["error"]["code"] == "forbidden"
        assert "Sara owns this conversation" in body["error"]["message"]
        assert "supervisor" in body["error"]["message"]
    conv = await (
        await client.get(f"/api/v1/conversations/{pending.conversation_id}", headers=sara)
    ).json()
    assert conv["conversation"]["assignee_id"] == ids["sara"]
    # Sara drops her own; a supervisor moves Omar's to Sara.
    status, body = await assign(pending.conversation_id, None, sara)
    assert (status, body["status"], body["assignee_id"]) == (200, "pending", None)
    status, body = await assign(bot.conversation_id, ids["sara"], huda)
    assert (status, body["assignee_id"]) == (200, ids["sara"])


async def _token(client: Client, login: str, password: str = "password123") -> str:
    """A fresh session token (a second device logging in)."""
    resp = await client.post("/api/v1/auth/login", json={"login": login, "password": password})
    assert resp.status == 200, await resp.text()
    token: str = (await resp.json())["token"]
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _closed_with(ws: Any, within: float = 5.0) -> int | None:
    """Wait for the server to close the socket; its close code."""
    async with asyncio.timeout(within):
        while True:
            msg = await ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
                code: int | None = ws.close_code
                return code


async def _still_open(ws: Any) -> bool:
    """Whether the socket still answers a ping."""
    await ws.send_str("ping")
    return (await next_event(ws, "pong")) is not None


async def test_logout_closes_that_sessions_socket_only(client: Client) -> None:
    """Logging out closes the session's live socket (4401); another device stays connected."""
    await login_as(client, "sara")
    laptop, phone = await _token(client, "sara"), await _token(client, "sara")
    ws_laptop = await client.ws_connect("/api/v1/ws", headers=_bearer(laptop))
    ws_phone = await client.ws_connect("/api/v1/ws", headers=_bearer(phone))
    await next_event(ws_laptop, "hello")
    await next_event(ws_phone, "hello")
    assert (await client.post("/api/v1/auth/logout", headers=_bearer(laptop))).status == 200
    assert await _closed_with(ws_laptop) == SESSION_ENDED
    assert await _still_open(ws_phone)
    await ws_phone.close()


async def test_socket_closes_when_its_session_expires(client: Client) -> None:
    """A socket does not outlive its session's expiry."""
    await login_as(client, "sara")
    token = await _token(client, "sara")
    async with client.app[RUNTIME].sessions() as session:
        await session.execute(
            update(Session)
            .where(Session.token_hash == token_hash(token))
            .values(expires_at=utcnow() + timedelta(seconds=0.5))
        )
        await session.commit()
    ws = await client.ws_connect("/api/v1/ws", headers=_bearer(token))
    await next_event(ws, "hello")
    assert await _closed_with(ws, within=3) == SESSION_ENDED


async def test_socket_rechecks_changes_made_outside_the_bus(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deactivation this process never heard of (the CLI elsewhere) still closes the socket."""
    monkeypatch.setattr(ws_module, "RECHECK_SECONDS", 0.1)
    headers = await login_as(client, "sara")
    me = await (await client.get("/api/v1/me", headers=headers)).json()
    ws = await client.ws_connect("/api/v1/ws", headers=headers)
    await next_event(ws, "hello")
    elsewhere = Runtime(
        sessions=client.app[RUNTIME].sessions,
        bus=InProcessBus(),
        settings=client.app[RUNTIME].settings,
    )
    await do_update_agent(elsewhere, me["id"], active=False)
    assert await _closed_with(ws, within=3) == SESSION_ENDED


async def test_admin_manages_agents_and_their_sessions(client: Client) -> None:
    """Admins rename, promote, deactivate and reset; deactivating or resetting ends sessions."""
    admin = await login_as(client, "root", Role.ADMIN)
    sara = await login_as(client, "sara")
    omar = await login_as(client, "omar")
    ids = {}
    for login, headers in (("root", admin), ("sara", sara), ("omar", omar)):
        ids[login] = (await (await client.get("/api/v1/me", headers=headers)).json())["id"]
    # Only admins.
    resp = await client.patch(f"/api/v1/agents/{ids['omar']}", json={"active": False}, headers=sara)
    assert resp.status == 403
    resp = await client.post(
        f"/api/v1/agents/{ids['omar']}/password", json={"password": "x" * 8}, headers=sara
    )
    assert resp.status == 403
    # Rename and promote.
    resp = await client.patch(
        f"/api/v1/agents/{ids['sara']}",
        json={"display_name": "Sara A.", "role": "supervisor"},
        headers=admin,
    )
    assert (await resp.json())["role"] == "supervisor"
    me = await (await client.get("/api/v1/me", headers=sara)).json()
    assert (me["display_name"], me["role"]) == ("Sara A.", "supervisor")
    # Deactivate: the socket closes, the token dies, logging in is refused.
    ws = await client.ws_connect("/api/v1/ws", headers=omar)
    await next_event(ws, "hello")
    resp = await client.patch(
        f"/api/v1/agents/{ids['omar']}", json={"active": False}, headers=admin
    )
    assert (await resp.json())["active"] is False
    assert await _closed_with(ws) == SESSION_ENDED
    assert (await client.get("/api/v1/me", headers=omar)).status == 401
    resp = await client.post(
        "/api/v1/auth/login", json={"login": "omar", "password": "password123"}
    )
    assert resp.status == 401
    # Reset a password: every session of that agent ends; only the new password works.
    ws = await client.ws_connect("/api/v1/ws", headers=sara)
    await next_event(ws, "hello")
    resp = await client.post(
        f"/api/v1/agents/{ids['sara']}/password", json={"password": "short"}, headers=admin
    )
    assert resp.status == 422
    resp = await client.post(
        f"/api/v1/agents/{ids['sara']}/password", json={"password": "new-password-1"}, headers=admin
    )
    assert resp.status == 200
    assert await _closed_with(ws) == SESSION_ENDED
    assert (await client.get("/api/v1/me", headers=sara)).status == 401
    resp = await client.post(
        "/api/v1/auth/login", json={"login": "sara", "password": "password123"}
    )
    assert resp.status == 401
    await _token(client, "sara", "new-password-1")
    # An admin cannot lock themselves out; unknown agents are 404.
    for change in ({"active": False}, {"role": "agent"}):
        resp = await client.patch(f"/api/v1/agents/{ids['root']}", json=change, headers=admin)
        assert resp.status == 409 and (await resp.json())["error"]["code"] == "self_lockout"
    resp = await client.patch("/api/v1/agents/999", json={"active": False}, headers=admin)
    assert resp.status == 404


async def test_agent_changes_own_password(client: Client) -> None:
    """The current password is required; this session lives on, the agent's others end."""
    here = await login_as(client, "sara")
    elsewhere = _bearer(await _token(client, "sara"))
    body = {"current_password": "wrong-one", "new_password": "new-password-1"}
    resp = await client.post("/api/v1/me/password", json=body, headers=here)
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "wrong_password"
    body = {"current_password": "password123", "new_password": "short"}
    resp = await client.post("/api/v1/me/password", json=body, headers=here)
    assert resp.status == 422
    body = {"current_password": "password123", "new_password": "new-password-1"}
    assert (await client.post("/api/v1/me/password", json=body, headers=here)).status == 200
    assert (await client.get("/api/v1/me", headers=here)).status == 200
    assert (await client.get("/api/v1/me", headers=elsewhere)).status == 401
    await _token(client, "sara", "new-password-1")


async def test_repeated_wrong_passwords_are_throttled(client: Client) -> None:
    """Five failures for a login from one address in 15 minutes: 429 with Retry-After."""
    await login_as(client, "sara")
    await login_as(client, "omar")
    now = [1000.0]
    client.app[LOGIN_THROTTLE].clock = lambda: now[0]

    async def attempt(login: str, password: str) -> Any:
        return await client.post("/api/v1/auth/login", json={"login": login, "password": password})

    for _ in range(5):
        assert (await attempt("sara", "wrong-password")).status == 401
        now[0] += 60
    refused = await attempt("SARA", "password123")  # even the right password, any case
    assert refused.status == 429
    assert (await refused.json())["error"]["code"] == "too_many_attempts"
    assert int(refused.headers["Retry-After"]) == 15 * 60 - 5 * 60
    assert (await attempt("omar", "password123")).status == 200  # another login is not affected
    now[0] += 15 * 60 - 5 * 60 + 1  # the first failure leaves the window
    assert (await attempt("sara", "password123")).status == 200
    # A success clears the count.
    for _ in range(4):
        assert (await attempt("sara", "wrong-password")).status == 401
    assert (await attempt("sara", "password123")).status == 200
    assert (await attempt("sara", "wrong-password")).status == 401
    assert (await attempt("sara", "password123")).status == 200
