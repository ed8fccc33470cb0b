"""Teams through the API: who may manage them, routing conversations, the "My teams" view."""

from __future__ import annotations

from typing import Any

from core import actions
from core.types import InboundMessage, Role
from inbox.keys import RUNTIME
from tests.inbox.conftest import Client, login_as
from tests.inbox.test_ws import next_event


async def _conversation(client: Client, sender: str, text: str = "وين طلبي؟") -> int:
    rt = client.app[RUNTIME]
    r = await actions.do_ingest(rt, InboundMessage("telegram", sender, f"{sender}-1", text, sender))
    await actions.do_escalate(rt, r.conversation_id, "customer_request")
    return r.conversation_id


async def _me(client: Client, headers: dict[str, str]) -> int:
    return int((await (await client.get("/api/v1/me", headers=headers)).json())["id"])


async def _list(client: Client, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    resp = await client.get("/api/v1/conversations", params=params, headers=headers)
    assert resp.status == 200, await resp.text()
    items: list[dict[str, Any]] = (await resp.json())["items"]
    return items


async def test_only_supervisors_manage_teams_and_agents_list_them(db_client: Client) -> None:
    """Agents get 403 on every change and can list; supervisors create, rename, staff, delete."""
    client = db_client
    agent = await login_as(client, "sara")
    sup = await login_as(client, "huda", Role.SUPERVISOR)
    sara_id = await _me(client, agent)

    denied = await client.post("/api/v1/teams", json={"name": "Billing"}, headers=agent)
    assert denied.status == 403
    assert (await denied.json())["error"]["code"] == "forbidden"

    resp = await client.post(
        "/api/v1/teams", json={"name": "الفوترة", "description": "الفواتير"}, headers=sup
    )
    assert resp.status == 201
    team = await resp.json()
    assert team["name"] == "الفوترة" and team["member_ids"] == []
    tid = team["id"]
    dup = await client.post("/api/v1/teams", json={"name": "الفوترة"}, headers=sup)
    assert dup.status == 409 and (await dup.json())["error"]["code"] == "team_exists"

    for method, path, body in (
        ("PATCH", f"/api/v1/teams/{tid}", {"name": "x"}),
        ("POST", f"/api/v1/teams/{tid}/members", {"agent_id": sara_id}),
        ("DELETE", f"/api/v1/teams/{tid}/members/{sara_id}", None),
        ("DELETE", f"/api/v1/teams/{tid}", None),
    ):
        resp = await client.request(method, path, json=body, headers=agent)
        assert resp.status == 403, (method, path)

    resp = await client.post(
        f"/api/v1/teams/{tid}/members", json={"agent_id": sara_id}, headers=sup
    )
    assert (await resp.json())["member_ids"] == [sara_id]
    resp = await client.patch(f"/api/v1/teams/{tid}", json={"name": "Billing"}, headers=sup)
    assert resp.status == 200 and (await resp.json())["name"] == "Billing"

    listed = await (await client.get("/api/v1/teams", headers=agent)).json()
    assert [(t["name"], t["member_ids"], t["mine"]) for t in listed] == [
        ("Billing", [sara_id], True)
    ]
    resp = await client.delete(f"/api/v1/teams/{tid}/members/{sara_id}", headers=sup)
    assert (await resp.json())["member_ids"] == []
    resp = await client.delete(f"/api/v1/teams/{tid}", headers=sup)
    assert (await resp.json()) == {"ok": True, "conversations_cleared": 0}
    assert await (await client.get("/api/v1/teams", headers=agent)).json() == []


async def test_bad_team_requests_are_json_4xx(db_client: Client) -> None:
    """Unknown teams are 404, blank names 422, unknown fields refused, all as JSON errors."""
    client = db_client
    sup = await login_as(client, "huda", Role.SUPERVISOR)
    cases = [
        ("PATCH", "/api/v1/teams/999", {"name": "x"}, 404),
        ("PATCH", "/api/v1/teams/abc", {"name": "x"}, 404),
        ("DELETE", "/api/v1/teams/999", None, 404),
        ("POST", "/api/v1/teams", {"name": "  "}, 422),
        ("POST", "/api/v1/teams", {"name": "ok", "colour": "red"}, 422),
        ("POST", "/api/v1/teams/999/members", {"agent_id": 1}, 404),
        ("POST", "/api/v1/conversations/999/team", {"team_id": None}, 404),
    ]
    for method, path, body, status in cases:
        resp = await client.request(method, path, json=body, headers=sup)
        assert resp.status == status, (method, path, await resp.text())
        error = (await resp.json())["error"]
        assert error["code"] and error["message"]


async def test_any_agent_routes_a_conversation_and_json_carries_the_team(
    db_client: Client,
) -> None:
    """An agent sets the team; list, detail and the answer carry {id, name}; assignee stays."""
    client = db_client
    agent = await login_as(client, "sara")
    sup = await login_as(client, "huda", Role.SUPERVISOR)
    team = await (await client.post("/api/v1/teams", json={"name": "الشحن"}, headers=sup)).json()
    cid = await _conversation(client, "nora")
    await client.post(f"/api/v1/conversations/{cid}/assign", json={"agent_id": None}, headers=sup)

    resp = await client.post(
        f"/api/v1/conversations/{cid}/team", json={"team_id": team["id"]}, headers=agent
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["team"] == {"id": team["id"], "name": "الشحن"}
    assert body["assignee_id"] is None and body["status"] == "pending"

    detail = await (await client.get(f"/api/v1/conversations/{cid}", headers=agent)).json()
    assert detail["conversation"]["team"] == {"id": team["id"], "name": "الشحن"}
    activity = [m for m in detail["messages"] if m["meta"].get("action") == "team"]
    assert activity[-1]["meta"]["team_name"] == "الشحن"
    [item] = await _list(client, agent, team=str(team["id"]))
    assert item["id"] == cid and item["team"] == {"id": team["id"], "name": "الشحن"}
    assert await _list(client, agent, team="none") == []

    resp = await client.post(
        f"/api/v1/conversations/{cid}/team", json={"team_id": None}, headers=agent
    )
    assert (await resp.json())["team"] is None
    assert [i["id"] for i in await _list(client, agent, team="none")] == [cid]
    bad = await client.get("/api/v1/conversations", params={"team": "x"}, headers=agent)
    assert bad.status == 422


async def test_my_teams_view_and_counts(db_client: Client) -> None:
    """ "My teams" lists active conversations of the caller's teams; counts include it."""
    client = db_client
    sara = await login_as(client, "sara")
    omar = await login_as(client, "omar")
    sup = await login_as(client, "huda", Role.SUPERVISOR)
    sara_id = await _me(client, sara)
    billing = await (
        await client.post("/api/v1/teams", json={"name": "Billing"}, headers=sup)
    ).json()
    shipping = await (
        await client.post("/api/v1/teams", json={"name": "Shipping"}, headers=sup)
    ).json()
    await client.post(
        f"/api/v1/teams/{billing['id']}/members", json={"agent_id": sara_id}, headers=sup
    )
    refund = await _conversation(client, "a", "أبغى استرجاع المبلغ")
    late = await _conversation(client, "b", "الطلب متأخر")
    resolved = await _conversation(client, "c", "فاتورة")
    await _conversation(client, "d", "no team")
    for cid, team in ((refund, billing), (late, shipping), (resolved, billing)):
        await client.post(
            f"/api/v1/conversations/{cid}/team", json={"team_id": team["id"]}, headers=sup
        )
    await client.post(f"/api/v1/conversations/{resolved}/resolve", json={}, headers=sup)

    mine = await _list(client, sara, team="mine", active="true")
    assert [i["id"] for i in mine] == [refund]
    assert {i["id"] for i in await _list(client, sara, team="mine")} == {refund, resolved}
    assert await _list(client, omar, team="mine", active="true") == []
    counts = await (await client.get("/api/v1/inbox/counts", headers=sara)).json()
    assert counts["teams"] == 1 and counts["all"] == 3
    counts = await (await client.get("/api/v1/inbox/counts", headers=omar)).json()
    assert counts["teams"] == 0


async def test_deleting_a_team_shows_on_the_timeline(db_client: Client) -> None:
    """The conversation loses its team and its timeline says the team was deleted."""
    client = db_client
    sup = await login_as(client, "huda", Role.SUPERVISOR)
    team = await (await client.post("/api/v1/teams", json={"name": "Billing"}, headers=sup)).json()
    cid = await _conversation(client, "a")
    await client.post(
        f"/api/v1/conversations/{cid}/team", json={"team_id": team["id"]}, headers=sup
    )
    resp = await client.delete(f"/api/v1/teams/{team['id']}", headers=sup)
    assert (await resp.json())["conversations_cleared"] == 1
    detail = await (await client.get(f"/api/v1/conversations/{cid}", headers=sup)).json()
    assert detail["conversation"]["team"] is None
    assert detail["messages"][-1]["meta"]["reason"] == "team_deleted"


async def test_team_routing_and_reads_are_pushed_live(client: Client) -> None:
    """The socket gets conversation.team_assigned with the team, and my conversation.read."""
    sara = await login_as(client, "sara")
    sup = await login_as(client, "huda", Role.SUPERVISOR)
    team = await (await client.post("/api/v1/teams", json={"name": "الشحن"}, headers=sup)).json()
    cid = await _conversation(client, "nora")
    ws = await client.ws_connect("/api/v1/ws", headers=sara)
    await next_event(ws, "hello")
    await client.post(
        f"/api/v1/conversations/{cid}/team", json={"team_id": team["id"]}, headers=sup
    )
    event = await next_event(ws, "conversation.team_assigned")
    assert event["data"]["id"] == cid
    assert event["data"]["team"] == {"id": team["id"], "name": "الشحن"}
    await client.post(f"/api/v1/conversations/{cid}/read", json={}, headers=sara)
    read = await next_event(ws, "conversation.read")
    assert read["data"]["conversation_id"] == cid and read["data"]["agent_id"] == await _me(
        client, sara
    )
    await ws.close()
