"""Logging in and out, and who may call what."""

from __future__ import annotations

from typing import Any

from core.actions import do_escalate, do_ingest
from core.types import InboundMessage, Role
from inbox.keys import RUNTIME
from tests.inbox.conftest import Client, login_as, memory


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
