"""Search over customers and message text, folding Arabic letter variants and diacritics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import insert

from core import actions
from core.models import Message
from core.types import Author, InboundMessage, MessageKind
from inbox.app import create_app
from inbox.keys import RUNTIME
from tests.conftest import make_settings
from tests.inbox.conftest import Client, login_as


async def _seed(client: Client) -> None:
    rt = client.app[RUNTIME]
    for n, (text, name) in enumerate(
        [
            ("أريد إسترجاع المبلغ للمدرسة", "فاطمة"),
            ("شُكْرًا جزيلًا على المساعدة", "Ali"),
            ("Where is my parcel?", "Emily Stone"),
        ]
    ):
        await actions.do_ingest(rt, InboundMessage("memory", f"s{n}", f"m{n}", text, name))


async def _search(client: Client, headers: dict[str, str], q: str) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    resp = await client.get("/api/v1/search", params={"q": q}, headers=headers)
    assert resp.status == 200, await resp.text()
    data: dict[str, list[dict]] = await resp.json()  # type: ignore[type-arg]
    return data


async def _check(client: Client) -> None:
    headers = await login_as(client, "sara")
    await _seed(client)
    # Hamza-less alef and ta marbuta written as ha still find the message.
    found = await _search(client, headers, "استرجاع المبلغ للمدرسه")
    assert [m["customer_name"] for m in found["messages"]] == ["فاطمة"]
    # Diacritics in the stored text do not get in the way.
    found = await _search(client, headers, "شكرا")
    assert [m["customer_name"] for m in found["messages"]] == ["Ali"]
    assert "شُكْرًا" in found["messages"][0]["snippet"]
    found = await _search(client, headers, "PARCEL")
    assert [m["channel"] for m in found["messages"]] == ["memory"]
    # Customers by name, with the same folding (فاطمه finds فاطمة).
    found = await _search(client, headers, "فاطمه")
    assert [c["display_name"] for c in found["customers"]] == ["فاطمة"]
    assert (await _search(client, headers, "nothing-like-this"))["messages"] == []


async def test_search_on_sqlite(client: Client) -> None:
    """The SQLite fallback folds in Python and finds Arabic text written differently."""
    await _check(client)


@pytest.mark.postgres
async def test_search_on_postgres(
    aiohttp_client: Callable[..., Awaitable[Client]], pg_url: str
) -> None:
    """PostgreSQL full-text over folded text finds the same things."""
    client = await aiohttp_client(create_app(make_settings(pg_url), migrate=False))
    await _check(client)


async def _found(client: Client, headers: dict[str, str], q: str) -> list[str]:
    """The snippets of the messages a search finds, newest first."""
    return [m["snippet"] for m in (await _search(client, headers, q))["messages"]]


async def test_arabic_words_match_by_prefix_on_both_databases(db_client: Client) -> None:
    """طلب finds الطلب, طلبي and بالطلبات (not مطلوب); الطلب finds طلبي; 50% and quotes work."""
    rt = db_client.app[RUNTIME]
    headers = await login_as(db_client, "sara")
    texts = [
        "وين الطلب؟",
        "طلبي ما وصل",
        "سؤال بخصوص بالطلبات",
        "هذا مطلوب",
        "خصم 50% اليوم",
        "Where is my parcel?",
        "O'Neil wrote back\\slash",
    ]
    for n, body in enumerate(texts):
        await actions.do_ingest(rt, InboundMessage("memory", f"s{n}", f"m{n}", body, f"c{n}"))
    wanted = ["سؤال بخصوص بالطلبات", "طلبي ما وصل", "وين الطلب؟"]
    assert await _found(db_client, headers, "طلب") == wanted
    assert await _found(db_client, headers, "الطلب") == wanted
    assert await _found(db_client, headers, "والطلبات") == ["سؤال بخصوص بالطلبات"]
    assert await _found(db_client, headers, "طلب وصل") == ["طلبي ما وصل"]
    assert await _found(db_client, headers, "50%") == ["خصم 50% اليوم"]
    assert await _found(db_client, headers, "parc") == ["Where is my parcel?"]
    assert await _found(db_client, headers, "o'neil") == ["O'Neil wrote back\\slash"]
    assert await _found(db_client, headers, "'\\:* & |") == []


async def test_sqlite_search_reads_past_the_newest_messages(client: Client) -> None:
    """An old match is found behind 20,001 newer messages (no silent scan window)."""
    rt = client.app[RUNTIME]
    headers = await login_as(client, "sara")
    old = await actions.do_ingest(rt, InboundMessage("memory", "s0", "m0", "فاتورة قديمة", "Old"))
    rows = [
        {
            "customer_id": old.customer_id,
            "conversation_id": old.conversation_id,
            "kind": MessageKind.INCOMING,
            "author": Author.CUSTOMER,
            "channel": "memory",
            "channel_message_id": f"bulk-{n}",
            "text": f"رسالة رقم {n}",
        }
        for n in range(20_001)
    ]
    async with rt.sessions() as session:
        await session.execute(insert(Message), rows)
        await session.commit()
    assert await _found(client, headers, "فاتوره") == ["فاتورة قديمة"]
