"""View counts for the inbox tabs, and the typing signal other agents see."""

from __future__ import annotations

from core import actions
from core.types import InboundMessage
from inbox.keys import RUNTIME
from tests.inbox.conftest import Client, eventually, login_as


async def test_counts_per_view(client: Client) -> None:
    """Mine counts my open conversations; pending, bot, my teams and all count active ones."""
    rt = client.app[RUNTIME]
    headers = await login_as(client, "sara")
    me = (await (await client.get("/api/v1/me", headers=headers)).json())["id"]
    first = await actions.do_ingest(rt, InboundMessage("memory", "a", "a-1", "hi", "A"))
    await actions.do_ingest(rt, InboundMessage("memory", "b", "b-1", "hi", "B"))

    async def both_pending() -> dict[str, int] | None:
        counts = await (await client.get("/api/v1/inbox/counts", headers=headers)).json()
        return counts if counts["pending"] == 2 else None

    assert await eventually(both_pending) == {
        "mine": 0,
        "teams": 0,
        "pending": 2,
        "bot": 0,
        "all": 2,
    }
    await actions.do_assign(rt, first.conversation_id, me, agent_id=me)
    counts = await (await client.get("/api/v1/inbox/counts", headers=headers)).json()
    assert counts == {"mine": 1, "teams": 0, "pending": 1, "bot": 0, "all": 2}


async def test_typing_reaches_other_agents_live(client: Client) -> None:
    """POST typing pushes agent.typing with who and where to every agent's socket."""
    rt = client.app[RUNTIME]
    sara = await login_as(client, "sara")
    omar = await login_as(client, "omar")
    r = await actions.do_ingest(rt, InboundMessage("memory", "a", "a-1", "hi", "A"))
    ws = await client.ws_connect("/api/v1/ws", headers=omar)
    assert (await ws.receive_json())["event"] == "hello"
    resp = await client.post(
        f"/api/v1/conversations/{r.conversation_id}/typing", json={"mode": "note"}, headers=sara
    )
    assert resp.status == 200
    while True:
        event = await ws.receive_json(timeout=5)
        if event["event"] == "agent.typing":
            break
    assert event["data"]["conversation_id"] == r.conversation_id
    assert event["data"]["agent_name"] == "Sara" and event["data"]["mode"] == "note"
    await ws.close()
    bad = await client.post(
        f"/api/v1/conversations/{r.conversation_id}/typing", json={"mode": "x"}, headers=sara
    )
    assert bad.status == 422
