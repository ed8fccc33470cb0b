"""An agent's day through the API: list, open, reply on the customer's channel, note, move."""

from __future__ import annotations

from typing import Any

from core.actions import do_ingest, do_set_labels
from core.models import Message
from core.types import InboundMessage, Role
from inbox.keys import RUNTIME
from tests.inbox.conftest import Client, eventually, login_as, memory


async def pending_item(client: Client, headers: dict[str, str]) -> dict[str, Any]:
    """The first pending conversation, once the pipeline has routed it."""

    async def check() -> Any:
        resp = await client.get(
            "/api/v1/conversations?status=pending&sort=waiting", headers=headers
        )
        items = (await resp.json())["items"]
        return items[0] if items else None

    item: dict[str, Any] = await eventually(check)
    return item


async def test_inbound_message_reaches_pending_queue_and_reply_goes_out(client: Client) -> None:
    """A customer message lands in pending (no bot), the reply leaves once on its channel."""
    headers = await login_as(client, "sara")
    await memory(client).receive("cust-ar", "in-1", "وين طلبي؟", name="نورة")
    item = await pending_item(client, headers)
    assert item["customer"]["display_name"] == "نورة" and item["escalation_reason"] == "no_bot"
    cid = item["id"]
    resp = await client.post(
        f"/api/v1/conversations/{cid}/reply", json={"text": "طلبك في الطريق"}, headers=headers
    )
    assert resp.status == 201
    sent = await eventually(lambda: _sent(client))
    assert [(m.recipient_id, m.text, m.reply_to_external_id) for m in sent] == [
        ("cust-ar", "طلبك في الطريق", "in-1")
    ]

    async def delivered() -> Any:
        resp = await client.get(f"/api/v1/conversations/{cid}", headers=headers)
        body = await resp.json()
        out = [m for m in body["messages"] if m["kind"] == "outgoing"]
        return out if out and out[0]["delivery_status"] == "sent" else None

    out = await eventually(delivered)
    assert out[0]["channel_message_id"].startswith("mem-out-")
    body = await (await client.get(f"/api/v1/conversations/{cid}", headers=headers)).json()
    assert body["conversation"]["status"] == "open"
    assert body["conversation"]["assignee_id"] is not None


async def _sent(client: Client) -> list[Any]:
    return list(memory(client).sent)


async def test_private_note_never_leaves(client: Client) -> None:
    """A note is on the timeline and never handed to the channel."""
    headers = await login_as(client, "sara")
    await memory(client).receive("c1", "in-1", "hello")
    item = await pending_item(client, headers)
    resp = await client.post(
        f"/api/v1/conversations/{item['id']}/notes", json={"text": "VIP"}, headers=headers
    )
    assert resp.status == 201 and (await resp.json())["kind"] == "note"
    body = await (await client.get(f"/api/v1/conversations/{item['id']}", headers=headers)).json()
    assert [m["text"] for m in body["messages"] if m["kind"] == "note"] == ["VIP"]
    assert list(memory(client).sent) == []


async def test_failed_delivery_is_retried_then_marked_failed(client: Client) -> None:
    """A channel that keeps failing: the reply is retried and ends visibly failed, not lost."""
    headers = await login_as(client, "sara")
    await memory(client).receive("c1", "in-1", "hello")
    item = await pending_item(client, headers)
    memory(client).fail_next = [ConnectionError("down")] * 10
    await client.post(
        f"/api/v1/conversations/{item['id']}/reply", json={"text": "hi"}, headers=headers
    )

    async def failed() -> Any:
        async with client.app[RUNTIME].sessions() as session:
            from sqlalchemy import select

            row = (
                await session.execute(select(Message).where(Message.kind == "outgoing"))
            ).scalar_one()
        return row if row.delivery_status == "failed" else None

    row = await eventually(failed)
    assert "ConnectionError" in (row.delivery_error or "")
    assert list(memory(client).sent) == []


async def test_assign_resolve_reopen_and_hand_to_bot(client: Client) -> None:
    """The ownership moves through the API, each answered with the new state."""
    headers = await login_as(client, "sara")
    supervisor = await login_as(client, "huda", Role.SUPERVISOR)
    me = await (await client.get("/api/v1/me", headers=headers)).json()
    await memory(client).receive("c1", "in-1", "hello")
    cid = (await pending_item(client, headers))["id"]
    base = f"/api/v1/conversations/{cid}"
    resp = await client.post(f"{base}/assign", json={"agent_id": me["id"]}, headers=headers)
    assert (await resp.json())["status"] == "open"
    mine = await (await client.get("/api/v1/conversations?assignee=me", headers=headers)).json()
    assert [c["id"] for c in mine["items"]] == [cid]
    resp = await client.post(f"{base}/assign", json={"agent_id": None}, headers=supervisor)
    assert (await resp.json())["status"] == "pending"
    assert (await (await client.post(f"{base}/hand-to-bot", headers=headers)).json())[
        "status"
    ] == "bot"
    assert (await (await client.post(f"{base}/resolve", headers=headers)).json())[
        "status"
    ] == "resolved"
    resp = await client.post(f"{base}/reply", json={"text": "late"}, headers=headers)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "resolved"
    assert (await (await client.post(f"{base}/reopen", headers=headers)).json())["status"] == "open"
    resp = await client.put(f"{base}/labels", json={"labels": ["VIP", "refund"]}, headers=headers)
    assert (await resp.json())["labels"] == ["refund", "vip"]
    labelled = await (await client.get("/api/v1/conversations?label=vip", headers=headers)).json()
    assert [c["id"] for c in labelled["items"]] == [cid]


async def test_list_pages_with_a_cursor(client: Client) -> None:
    """Keyset paging returns every conversation exactly once."""
    headers = await login_as(client, "sara")
    for i in range(5):
        await memory(client).receive(f"c{i}", f"in-{i}", "hi")
    seen: list[int] = []
    url = "/api/v1/conversations?limit=2"
    while url:
        body = await (await client.get(url, headers=headers)).json()
        seen += [c["id"] for c in body["items"]]
        url = (
            f"/api/v1/conversations?limit=2&cursor={body['next_cursor']}"
            if body["next_cursor"]
            else ""
        )
    assert sorted(seen) == [1, 2, 3, 4, 5] and len(seen) == 5


async def test_label_filter_matches_arabic_labels_exactly(db_client: Client) -> None:
    """An Arabic label filters on SQLite and PostgreSQL; wildcards and substrings never match."""
    rt = db_client.app[RUNTIME]
    headers = await login_as(db_client, "sara")
    ids = []
    for n, labels in enumerate([["عاجل", "VIP"], ["عاجلة"], ["vip_gold"], ["vipxgold"]]):
        result = await do_ingest(rt, InboundMessage("memory", f"c{n}", f"m{n}", "hi"))
        await do_set_labels(rt, result.conversation_id, labels, agent_id=None)
        ids.append(result.conversation_id)

    async def filtered(label: str) -> list[int]:
        resp = await db_client.get(
            "/api/v1/conversations", params={"label": label}, headers=headers
        )
        assert resp.status == 200, await resp.text()
        return [c["id"] for c in (await resp.json())["items"]]

    assert await filtered("عاجل") == [ids[0]]
    assert await filtered("عاجلة") == [ids[1]]
    assert await filtered(" VIP ") == [ids[0]]
    assert await filtered("vip_gold") == [ids[2]]
    assert await filtered("vip%") == []
    assert await filtered("عا") == []


async def test_timeline_pages_back_with_before(db_client: Client) -> None:
    """Opening shows the newest entries; `before` pages back to the first, each entry once."""
    rt = db_client.app[RUNTIME]
    headers = await login_as(db_client, "sara")
    first = await do_ingest(rt, InboundMessage("memory", "c1", "m0", "message 0"))
    cid = first.conversation_id
    for n in range(1, 8):
        await do_ingest(rt, InboundMessage("memory", "c1", f"m{n}", f"message {n}"))
    base = f"/api/v1/conversations/{cid}"
    opened = await (await db_client.get(base, params={"limit": 3}, headers=headers)).json()
    assert [m["text"] for m in opened["messages"]] == ["message 5", "message 6", "message 7"]
    assert opened["has_earlier"] is True
    seen = [m["id"] for m in opened["messages"]]
    earlier = True
    while earlier:
        resp = await db_client.get(
            f"{base}/messages", params={"before": seen[0], "limit": 3}, headers=headers
        )
        page = await resp.json()
        seen = [m["id"] for m in page["items"]] + seen
        earlier = page["has_earlier"]
    assert len(seen) == len(set(seen)) == 8 and seen == sorted(seen)
    everything = await (await db_client.get(base, headers=headers)).json()
    assert [m["id"] for m in everything["messages"]] == seen
    assert everything["has_earlier"] is False
    for params in ({"limit": 0}, {"limit": 501}, {"before": "x"}):
        resp = await db_client.get(f"{base}/messages", params=params, headers=headers)
        assert resp.status == 422, params
    assert (
        await db_client.get("/api/v1/conversations/999/messages", headers=headers)
    ).status == 404
