"""One customer, every channel: identities, merge, and one timeline in order."""

from __future__ import annotations

import json

from core.actions import do_ingest, do_update_customer
from core.types import InboundMessage, Role
from inbox.keys import RUNTIME
from tests.inbox.conftest import Client, login_as, next_event


async def test_two_channels_merge_into_one_timeline_in_order(client: Client) -> None:
    """A webhook identity, then an email identity merged in: one customer, one ordered timeline."""
    rt = client.app[RUNTIME]
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    a = await do_ingest(
        rt, InboundMessage("webhook", "crm-55", "w-1", "طلبي متأخر", sender_name="سلمى")
    )
    b = await do_ingest(rt, InboundMessage("email", "salma@example.com", "<e-1>", "Any update?"))
    c = await do_ingest(rt, InboundMessage("webhook", "crm-55", "w-2", "ممكن رد؟"))
    assert a.customer_id != b.customer_id
    resp = await client.post(
        f"/api/v1/customers/{a.customer_id}/merge",
        json={"source_id": b.customer_id},
        headers=headers,
    )
    assert resp.status == 200
    # The merged-away id still finds the person.
    customer = await (
        await client.get(f"/api/v1/customers/{b.customer_id}", headers=headers)
    ).json()
    assert customer["id"] == a.customer_id
    assert sorted(i["channel"] for i in customer["identities"]) == ["email", "webhook"]
    found = await (
        await client.get(
            "/api/v1/customers?channel=email&external_id=salma@example.com", headers=headers
        )
    ).json()
    assert [f["id"] for f in found] == [a.customer_id]
    timeline = await (
        await client.get(f"/api/v1/customers/{a.customer_id}/timeline", headers=headers)
    ).json()
    incoming = [(m["channel"], m["text"]) for m in timeline["items"] if m["kind"] == "incoming"]
    assert incoming == [
        ("webhook", "طلبي متأخر"),
        ("email", "Any update?"),
        ("webhook", "ممكن رد؟"),
    ]
    assert any(m["meta"].get("action") == "merged" for m in timeline["items"])
    assert c.customer_id == a.customer_id


async def test_timeline_pages_forward(client: Client) -> None:
    """The timeline pages oldest-first with a cursor, without gaps or repeats."""
    rt = client.app[RUNTIME]
    headers = await login_as(client, "sara")
    for i in range(5):
        r = await do_ingest(rt, InboundMessage("webhook", "x", f"w-{i}", f"m{i}"))
    texts: list[str] = []
    url = f"/api/v1/customers/{r.customer_id}/timeline?limit=2"
    while url:
        body = await (await client.get(url, headers=headers)).json()
        texts += [m["text"] for m in body["items"] if m["kind"] == "incoming"]
        cursor = body["next_cursor"]
        url = (
            f"/api/v1/customers/{r.customer_id}/timeline?limit=2&cursor={cursor}" if cursor else ""
        )
    assert texts == ["m0", "m1", "m2", "m3", "m4"]


async def test_search_by_name(client: Client) -> None:
    """Customers are found by part of their name."""
    rt = client.app[RUNTIME]
    headers = await login_as(client, "sara")
    await do_ingest(rt, InboundMessage("webhook", "x", "w-1", "hi", sender_name="Layla Haddad"))
    await do_ingest(rt, InboundMessage("webhook", "y", "w-2", "hi", sender_name="Omar"))
    found = await (await client.get("/api/v1/customers?q=hadd", headers=headers)).json()
    assert [f["display_name"] for f in found] == ["Layla Haddad"]


async def test_customer_search_treats_like_wildcards_as_text(db_client: Client) -> None:
    """`%`, `_` and `\\` in a query are characters to find, on SQLite and PostgreSQL."""
    rt = db_client.app[RUNTIME]
    headers = await login_as(db_client, "sara")
    names = ["Promo 50%", "Promo 500", "a_b", "axb", "back\\slash", "backslash"]
    ids = {}
    for n, name in enumerate(names):
        ids[name] = (
            await do_ingest(rt, InboundMessage("memory", f"c{n}", f"m{n}", "hi", name))
        ).customer_id

    async def found(path: str, q: str) -> list[int]:
        resp = await db_client.get(path, params={"q": q}, headers=headers)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        return sorted(c["id"] for c in (body["customers"] if path.endswith("search") else body))

    for path in ("/api/v1/customers", "/api/v1/search"):
        assert await found(path, "50%") == [ids["Promo 50%"]], path
        assert await found(path, "a_b") == [ids["a_b"]], path
        assert await found(path, "k\\s") == [ids["back\\slash"]], path


async def test_agent_edits_a_customer(db_client: Client) -> None:
    """PATCH changes the profile, merges attributes, writes a line and pushes customer.updated."""
    rt = db_client.app[RUNTIME]
    headers = await login_as(db_client, "sara")
    result = await do_ingest(
        rt, InboundMessage("memory", "c1", "m1", "hi", "noura", sender_profile={"phone": "1"})
    )
    await do_update_customer(rt, result.customer_id, {"attributes": {"plan": "free", "old": 1}})
    ws = await db_client.ws_connect("/api/v1/ws", headers=headers)
    await next_event(ws, "hello")
    url = f"/api/v1/customers/{result.customer_id}"
    patch = {
        "display_name": " نورة العتيبي ",
        "email": "Noura@Example.com",
        "phone": "+966 50 123 4567",
        "language": "ar",
        "attributes": {"plan": "gold", "old": None, "vip": True},
    }
    resp = await db_client.patch(url, json=patch, headers=headers)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["display_name"] == "نورة العتيبي" and body["email"] == "noura@example.com"
    assert body["phone"] == "+966 50 123 4567" and body["language"] == "ar"
    assert body["attributes"] == {"plan": "gold", "vip": True}
    event = await next_event(ws, "customer.updated")
    assert event["data"]["customer"]["display_name"] == "نورة العتيبي"
    fields = ["display_name", "language", "email", "phone"]
    fields += ["attributes.old", "attributes.plan", "attributes.vip"]
    assert event["data"]["fields"] == fields
    await ws.close()
    conv = await (
        await db_client.get(f"/api/v1/conversations/{result.conversation_id}", headers=headers)
    ).json()
    lines = [m for m in conv["messages"] if m["meta"].get("action") == "customer_updated"]
    assert [m["meta"]["fields"] for m in lines] == [["attributes.old", "attributes.plan"], fields]
    assert lines[-1]["agent_id"] == event["data"]["agent_id"] is not None
    # Saving the same values again changes nothing and writes no line; null clears the phone.
    assert (await db_client.patch(url, json=patch, headers=headers)).status == 200
    resp = await db_client.patch(url, json={"phone": None}, headers=headers)
    assert (await resp.json())["phone"] is None
    conv = await (
        await db_client.get(f"/api/v1/conversations/{result.conversation_id}", headers=headers)
    ).json()
    assert [m["meta"]["fields"] for m in conv["messages"] if m["kind"] == "activity"][-2:] == [
        fields,
        ["phone"],
    ]


async def test_customer_edit_is_validated_field_by_field(client: Client) -> None:
    """Bad values get 422 naming the field; unknown customers 404; the API documents it."""
    headers = await login_as(client, "sara")
    result = await do_ingest(
        client.app[RUNTIME], InboundMessage("memory", "c1", "m1", "hi", "Noura")
    )
    url = f"/api/v1/customers/{result.customer_id}"
    for patch, field in [
        ({"email": "not-an-address"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"language": "Arabic"}, "language"),
        ({"display_name": None}, "display_name"),
        ({"display_name": "   "}, "display_name"),
        ({"attributes": {"plan": {"nested": 1}}}, "attributes.plan"),
        ({"vip": True}, "vip"),
        ({}, "body"),
    ]:
        resp = await client.patch(url, json=patch, headers=headers)
        assert resp.status == 422, (patch, await resp.text())
        error = (await resp.json())["error"]
        assert error["code"] == "validation_error"
        assert error["details"][0]["field"].startswith(field), (patch, error)
        assert error["message"].startswith(field), error
    resp = await client.patch("/api/v1/customers/999", json={"language": "en"}, headers=headers)
    assert resp.status == 404
    doc = await (await client.get("/api/v1/openapi.json")).json()
    op = doc["paths"]["/api/v1/customers/{customer_id}"]["patch"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CustomerPatch"
    )
    assert "email" in doc["components"]["schemas"]["CustomerPatch"]["properties"]


async def test_only_admins_erase_and_only_with_the_id_typed_again(db_client: Client) -> None:
    """Agents and supervisors get 403; a missing or wrong confirm 422; then erased, once."""
    rt = db_client.app[RUNTIME]
    agent = await login_as(db_client, "sara")
    supervisor = await login_as(db_client, "huda", Role.SUPERVISOR)
    admin = await login_as(db_client, "root", Role.ADMIN)
    result = await do_ingest(
        rt,
        InboundMessage(
            "memory", "c1", "m1", "رقم هويتي 1098765432", "نورة", sender_profile={"phone": "0501"}
        ),
    )
    cid = result.customer_id
    url = f"/api/v1/customers/{cid}/erase"
    body = {"reason": "GDPR request #31", "confirm": cid}
    for headers in (agent, supervisor):
        assert (await db_client.post(url, json=body, headers=headers)).status == 403
    missing = await db_client.post(url, json={"reason": "x"}, headers=admin)
    assert missing.status == 422
    wrong = await db_client.post(url, json={**body, "confirm": cid + 1}, headers=admin)
    assert wrong.status == 422
    assert (await wrong.json())["error"]["code"] == "confirm_mismatch"
    blank = await db_client.post(url, json={**body, "reason": "  "}, headers=admin)
    assert blank.status == 422
    ws = await db_client.ws_connect("/api/v1/ws", headers=agent)
    await next_event(ws, "hello")
    resp = await db_client.post(url, json=body, headers=admin)
    assert resp.status == 200, await resp.text()
    done = await resp.json()
    assert done["erased"] and done["customer_id"] == cid
    assert done["customer"]["display_name"] == f"Erased customer #{cid}"
    assert done["customer"]["erased_at"] and done["customer"]["phone"] is None
    event = await next_event(ws, "customer.erased")
    assert event["data"]["customer_id"] == cid and "نورة" not in json.dumps(event)
    await ws.close()
    again = await db_client.post(url, json=body, headers=admin)
    assert again.status == 200 and (await again.json())["erased"] is False
    shown = await (await db_client.get(f"/api/v1/customers/{cid}", headers=agent)).json()
    assert shown["erased_at"] == done["erased_at"]
    assert [c["status"] for c in shown["conversations"]] == ["resolved"]
    timeline = await (
        await db_client.get(f"/api/v1/customers/{cid}/timeline", headers=agent)
    ).json()
    texts = [m["text"] for m in timeline["items"]]
    assert "[erased]" in texts and not any("1098765432" in t for t in texts)
    assert texts[-1] == "Customer data erased by Root (GDPR request #31)"
    edit = await db_client.patch(
        f"/api/v1/customers/{cid}", json={"phone": "+966501234567"}, headers=agent
    )
    assert edit.status == 409 and (await edit.json())["error"]["code"] == "erased"
