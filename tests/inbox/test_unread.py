"""Unread counts kept on the server: per agent, read on open, the same in every tab."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event

from core import actions
from core.types import InboundMessage, Role
from inbox.app import create_app
from inbox.keys import ENGINE, RUNTIME
from tests.conftest import make_settings
from tests.inbox.conftest import Client, login_as


async def _say(client: Client, sender: str, mid: str, text: str) -> actions.IngestResult:
    return await actions.do_ingest(
        client.app[RUNTIME], InboundMessage("telegram", sender, mid, text, sender)
    )


async def _unread(client: Client, headers: dict[str, str]) -> dict[int, int]:
    resp = await client.get("/api/v1/conversations", headers=headers)
    items: list[dict[str, Any]] = (await resp.json())["items"]
    return {i["id"]: i["unread"] for i in items}


async def test_unread_is_per_agent_and_cleared_by_reading(db_client: Client) -> None:
    """Incoming messages count until read; another login of the same agent sees it read."""
    client = db_client
    sara = await login_as(client, "sara")
    omar = await login_as(client, "omar")
    first = await _say(client, "nora", "n1", "السلام عليكم")
    second = await _say(client, "nora", "n2", "وين طلبي؟")
    other = await _say(client, "ali", "a1", "مرحبا")
    cid = first.conversation_id
    await client.post(f"/api/v1/conversations/{cid}/reply", json={"text": "أبشر"}, headers=omar)
    assert await _unread(client, sara) == {cid: 2, other.conversation_id: 1}

    resp = await client.post(
        f"/api/v1/conversations/{cid}/read", json={"message_id": first.message_id}, headers=sara
    )
    assert resp.status == 200
    assert await resp.json() == {
        "conversation_id": cid,
        "last_read_message_id": first.message_id,
        "unread": 1,
    }
    resp = await client.post(f"/api/v1/conversations/{cid}/read", json={}, headers=sara)
    assert (await resp.json())["unread"] == 0

    # A second device of the same agent: a new login, same answer.
    again = await client.post(
        "/api/v1/auth/login", json={"login": "sara", "password": "password123"}
    )
    tab = {"Authorization": f"Bearer {(await again.json())['token']}"}
    assert await _unread(client, tab) == {cid: 0, other.conversation_id: 1}
    assert (await _unread(client, omar))[cid] == 2

    await _say(client, "nora", "n3", "؟؟")
    assert (await _unread(client, sara))[cid] == 1
    assert second.conversation_id == cid


async def test_read_refuses_foreign_messages_and_unknown_conversations(db_client: Client) -> None:
    """A message of another conversation and an unknown conversation are JSON 404s."""
    client = db_client
    sara = await login_as(client, "sara", Role.AGENT)
    one = await _say(client, "nora", "n1", "hi")
    two = await _say(client, "ali", "a1", "hi")
    resp = await client.post(
        f"/api/v1/conversations/{one.conversation_id}/read",
        json={"message_id": two.message_id},
        headers=sara,
    )
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    resp = await client.post("/api/v1/conversations/999/read", json={}, headers=sara)
    assert resp.status == 404
    resp = await client.post(
        f"/api/v1/conversations/{one.conversation_id}/read", json={"message_id": "x"}, headers=sara
    )
    assert resp.status == 422


async def test_list_with_unread_is_not_n_plus_one(
    aiohttp_client: Callable[..., Awaitable[Client]], database_url: str
) -> None:
    """The list runs the same number of queries for 2 conversations as for 12."""
    # No workers: their background queries would be counted too.
    app = create_app(make_settings(database_url), migrate=False, workers=False)
    client = await aiohttp_client(app)
    sara = await login_as(client, "sara")
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async def queries() -> int:
        statements.clear()
        event.listen(client.app[ENGINE].sync_engine, "before_cursor_execute", count)
        try:
            await _unread(client, sara)
        finally:
            event.remove(client.app[ENGINE].sync_engine, "before_cursor_execute", count)
        return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])

    for i in range(2):
        await _say(client, f"c{i}", f"m{i}", "مرحبا")
    few = await queries()
    for i in range(2, 12):
        await _say(client, f"c{i}", f"m{i}", "مرحبا")
    assert await queries() == few
