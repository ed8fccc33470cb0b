"""Search over customers and message text, folding Arabic letter variants and diacritics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from core import actions
from core.types import InboundMessage
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
