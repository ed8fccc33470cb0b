"""The bot's order endpoints: only the asking customer's orders, by bot token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from aiohttp.test_utils import TestClient

from core.actions import do_ingest
from core.db import in_transaction
from core.models import Order
from core.types import InboundMessage
from inbox.app import create_app
from inbox.keys import RUNTIME
from tests.conftest import make_settings


async def test_bot_reads_and_cancels_its_customers_order(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    sqlite_url: str,  # type: ignore[type-arg]
) -> None:
    """Right customer: found and cancellable once; other customer or no token: refused."""
    app = create_app(make_settings(sqlite_url, bot_token="bot-secret"), migrate=False)
    client = await aiohttp_client(app)
    rt = client.app[RUNTIME]
    mine = await do_ingest(rt, InboundMessage("webhook", "a", "w-1", "order?"))
    other = await do_ingest(rt, InboundMessage("webhook", "b", "w-2", "order?"))

    async def add(session):  # type: ignore[no-untyped-def]
        session.add(
            Order(
                number="A-10234",
                customer_id=mine.customer_id,
                status="processing",
                total=Decimal("120.00"),
                currency="SAR",
                items=[],
            )
        )

    await in_transaction(rt.sessions, add)
    bot = {"Authorization": "Bearer bot-secret"}
    resp = await client.get(
        f"/api/v1/orders/%23١٠٢٣٤?conversation_id={mine.conversation_id}", headers=bot
    )
    body = await resp.json()
    assert resp.status == 200 and body["number"] == "A-10234" and body["cancellable"] is True
    resp = await client.get(
        f"/api/v1/orders/A-10234?conversation_id={other.conversation_id}", headers=bot
    )
    assert resp.status == 404
    assert (await client.get("/api/v1/orders/A-10234")).status == 401
    cancel = {"conversation_id": mine.conversation_id}
    resp = await client.post("/api/v1/orders/A-10234/cancel", json=cancel, headers=bot)
    assert resp.status == 200 and (await resp.json())["status"] == "cancelled"
    resp = await client.post("/api/v1/orders/A-10234/cancel", json=cancel, headers=bot)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "not_cancellable"
