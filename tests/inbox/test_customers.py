"""One customer, every channel: identities, merge, and one timeline in order."""

from __future__ import annotations

from core.actions import do_ingest
from core.types import InboundMessage, Role
from inbox.keys import RUNTIME
from tests.inbox.conftest import Client, login_as


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
