"""The bundled sentiment model in the running service: anger escalates and alerts live."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from core.models import Conversation, Message
from core.types import Role
from inbox.app import create_app, sentiment_step
from inbox.keys import RUNTIME
from tests.conftest import make_settings
from tests.inbox.conftest import eventually, login_as, memory

ANGRY_AR = "هذي ثالث مرة أكلمكم وما أحد يرد!! خدمة سيئة جداً وبشتكي عليكم في وزارة التجارة 😡"
CALM_AR = "شكراً لكم، وصلني الطلب اليوم وكل شيء تمام"


def only_sentiment(settings: Any, http: ClientSession) -> list[Any]:
    """Sentiment without routing, so the bot keeps every calm conversation."""
    return [sentiment_step(settings)]


async def test_angry_arabic_message_escalates_and_alerts_supervisor_live(
    aiohttp_client: Callable[..., Awaitable[TestClient]],  # type: ignore[type-arg]
    sqlite_url: str,
) -> None:
    """An angry Arabic message on a bot conversation: scored, pending (anger), alert pushed."""
    settings = make_settings(sqlite_url, sentiment_enabled=True)
    client = await aiohttp_client(create_app(settings, steps=only_sentiment, migrate=False))
    headers = await login_as(client, "huda", Role.SUPERVISOR)
    ws = await client.ws_connect("/api/v1/ws", headers=headers)
    result = await memory(client).receive("ar-1", "m1", ANGRY_AR)
    async with asyncio.timeout(10):
        while True:
            event = json.loads((await ws.receive()).data)
            if event["event"] == "alert.raised":
                break
    assert event["data"]["kind"] == "anger"
    assert event["data"]["conversation"]["id"] == result.conversation_id
    await ws.close()

    async def escalated() -> Conversation | None:
        async with client.app[RUNTIME].sessions() as session:
            conv = await session.get(Conversation, result.conversation_id)
        return conv if conv is not None and conv.status == "pending" else None

    conv = await eventually(escalated)
    assert conv.escalation_reason == "anger" and conv.priority == "high"
    async with client.app[RUNTIME].sessions() as session:
        message = await session.get(Message, result.message_id)
    assert message is not None and message.sentiment_label == "angry"
    assert message.sentiment_anger is not None and message.sentiment_anger > 0.45


async def test_calm_arabic_message_leaves_the_bot_in_charge(
    aiohttp_client: Callable[..., Awaitable[TestClient]],  # type: ignore[type-arg]
    sqlite_url: str,
) -> None:
    """A calm thank-you is scored positive and nothing escalates."""
    settings = make_settings(sqlite_url, sentiment_enabled=True)
    client = await aiohttp_client(create_app(settings, steps=only_sentiment, migrate=False))
    result = await memory(client).receive("ar-2", "m1", CALM_AR)

    async def scored() -> Message | None:
        async with client.app[RUNTIME].sessions() as session:
            message = await session.get(Message, result.message_id)
        return message if message is not None and message.pipeline_state == "done" else None

    message = await eventually(scored)
    assert message.sentiment_label == "positive"
    async with client.app[RUNTIME].sessions() as session:
        conv = await session.get(Conversation, result.conversation_id)
    assert conv is not None and conv.status == "bot" and conv.escalation_reason is None
    async with client.app[RUNTIME].sessions() as session:
        activity = (
            (
                await session.execute(
                    select(Message.meta).where(
                        Message.conversation_id == result.conversation_id,
                        Message.kind == "activity",
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [m for m in activity if m.get("action") == "alert"] == []
