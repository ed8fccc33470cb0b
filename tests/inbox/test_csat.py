"""CSAT: the bot or a channel records a 1–5 rating per conversation."""

from __future__ import annotations

from sqlalchemy import func, select

from core import actions
from core.inbox_tables import CsatRating
from core.types import InboundMessage
from inbox.app import create_app
from inbox.keys import RUNTIME
from tests.conftest import make_settings
from tests.inbox.conftest import Client


async def test_bot_records_and_replaces_a_rating(aiohttp_client: object, sqlite_url: str) -> None:
    """With the bot token a rating is stored; a second one replaces it; 0 or 6 is refused."""
    settings = make_settings(sqlite_url, bot_token="bot-secret")
    client: Client = await aiohttp_client(create_app(settings, migrate=False))  # type: ignore[operator]
    rt = client.app[RUNTIME]
    r = await actions.do_ingest(rt, InboundMessage("telegram", "a", "a-1", "hi", "A"))
    bot = {"Authorization": "Bearer bot-secret"}
    url = f"/api/v1/conversations/{r.conversation_id}/csat"
    resp = await client.post(url, json={"score": 2, "comment": "slow"}, headers=bot)
    assert resp.status == 201
    assert (await resp.json())["channel"] == "telegram"
    resp = await client.post(url, json={"score": 5}, headers=bot)
    assert (await resp.json())["score"] == 5
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CsatRating)) == 1
    for score in (0, 6):
        assert (await client.post(url, json={"score": score}, headers=bot)).status == 422
    assert (await client.post(url, json={"score": 3})).status == 401
    missing = "/api/v1/conversations/999/csat"
    assert (await client.post(missing, json={"score": 3}, headers=bot)).status == 404
