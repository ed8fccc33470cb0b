"""Canned responses: supervisors keep them, agents get them filled in for a conversation."""

from __future__ import annotations

from core import actions
from core.canned import render
from core.types import InboundMessage, Role
from inbox.keys import RUNTIME
from tests.inbox.conftest import Client, login_as


def test_render_fills_known_variables_only() -> None:
    """Known ``{{a.b}}`` variables are filled; unknown or empty ones stay as written."""
    text = "Hi {{customer.name}}, I'm {{ agent.name }}. {{customer.phone}} {{order.x}}"
    out = render(text, {"customer": {"name": "نورة", "phone": None}, "agent": {"name": "Sara"}})
    assert out == "Hi نورة, I'm Sara. {{customer.phone}} {{order.x}}"


async def test_save_list_render_and_delete(client: Client) -> None:
    """A saved /refund response comes back rendered for the conversation's customer."""
    rt = client.app[RUNTIME]
    sup = await login_as(client, "huda", Role.SUPERVISOR)
    agent = await login_as(client, "sara")
    body = {
        "shortcut": "/Refund",
        "title": "Refund started",
        "text": "أهلًا {{customer.name}}، بدأنا إجراءات الاسترجاع. {{agent.name}}",
    }
    resp = await client.post("/api/v1/canned-responses", json=body, headers=sup)
    assert resp.status == 201
    saved = await resp.json()
    assert saved["shortcut"] == "refund"
    assert (await client.post("/api/v1/canned-responses", json=body, headers=agent)).status == 403

    r = await actions.do_ingest(rt, InboundMessage("memory", "n", "n-1", "وين فلوسي", "نورة"))
    resp = await client.get(
        "/api/v1/canned-responses", params={"conversation_id": r.conversation_id}, headers=agent
    )
    [item] = await resp.json()
    assert item["rendered"] == "أهلًا نورة، بدأنا إجراءات الاسترجاع. Sara"

    # Saving the same shortcut again replaces the text.
    body["text"] = "Refund is on its way, {{customer.name}}"
    await client.post("/api/v1/canned-responses", json=body, headers=sup)
    items = await (await client.get("/api/v1/canned-responses", headers=agent)).json()
    assert [i["text"] for i in items] == ["Refund is on its way, {{customer.name}}"]

    resp = await client.delete(f"/api/v1/canned-responses/{saved['id']}", headers=sup)
    assert resp.status == 200
    assert await (await client.get("/api/v1/canned-responses", headers=agent)).json() == []
    resp = await client.delete(f"/api/v1/canned-responses/{saved['id']}", headers=sup)
    assert resp.status == 404


async def test_bad_shortcut_is_refused(client: Client) -> None:
    """Shortcuts are short slugs; spaces or markup are a 422."""
    sup = await login_as(client, "huda", Role.SUPERVISOR)
    resp = await client.post(
        "/api/v1/canned-responses",
        json={"shortcut": "<b> x", "title": "t", "text": "x"},
        headers=sup,
    )
    assert resp.status == 422
