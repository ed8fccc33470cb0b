"""The bot routing step against a scripted Rasa stand-in: replies, handoffs, outages, retries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.client import RasaClient
from bot.step import BotRouting
from core import actions
from core.bus import InProcessBus
from core.db import Sessions
from core.models import Conversation, Message
from core.pipeline import process_message
from core.runtime import Runtime
from core.types import InboundMessage
from tests.conftest import make_settings

Script = list[Any]


async def rasa_standin(
    aiohttp_server: Callable[..., Awaitable[TestServer]], answers: Script
) -> tuple[str, list[dict[str, Any]]]:
    """A REST webhook that answers from a script (a list or an HTTP status per call)."""
    calls: list[dict[str, Any]] = []

    async def webhook(request: web.Request) -> web.Response:
        calls.append(await request.json())
        answer = answers.pop(0)
        if isinstance(answer, int):
            return web.Response(status=answer)
        return web.json_response(answer)

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    server = await aiohttp_server(app)
    return str(server.make_url("")), calls


async def turn(rt: Runtime, sender: str, mid: str, text: str) -> int:
    """Ingest and process one customer message; returns its conversation id."""
    result = await actions.do_ingest(rt, InboundMessage("memory", sender, mid, text))
    await process_message(rt, result.message_id)
    return result.conversation_id


async def bot_messages(rt: Runtime, conversation_id: int) -> list[str]:
    """The bot's stored replies, in order."""
    async with rt.sessions() as session:
        return list(
            (
                await session.execute(
                    select(Message.text)
                    .where(Message.conversation_id == conversation_id, Message.author == "bot")
                    .order_by(Message.id)
                )
            ).scalars()
        )


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    """A client session the step's Rasa client borrows."""
    async with ClientSession() as session:
        yield session


async def make_rt(sessions: Sessions, sqlite_url: str, url: str, http: ClientSession) -> Runtime:
    """A runtime whose routing step talks to ``url``."""
    return Runtime(
        sessions=sessions,
        bus=InProcessBus(),
        settings=make_settings(sqlite_url),
        steps=[BotRouting(RasaClient(url, timeout=2, session=http))],
    )


async def test_bot_replies_are_stored_and_queued(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    sessions: Sessions,
    sqlite_url: str,
    http: ClientSession,
) -> None:
    """Each bot text becomes an outgoing bot message; the conversation stays with the bot."""
    url, calls = await rasa_standin(aiohttp_server, [[{"text": "أهلاً!"}, {"text": "كيف أخدمك؟"}]])
    rt = await make_rt(sessions, sqlite_url, url, http)
    cid = await turn(rt, "c1", "m1", "السلام عليكم")
    assert await bot_messages(rt, cid) == ["أهلاً!", "كيف أخدمك؟"]
    assert calls[0]["sender"] == str(cid) and calls[0]["metadata"] == {"language": "ar"}
    async with rt.sessions() as session:
        conv = await session.get(Conversation, cid)
    assert conv is not None and conv.status == "bot"


async def test_handoff_escalates_with_reason_and_bot_goes_quiet(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    sessions: Sessions,
    sqlite_url: str,
    http: ClientSession,
) -> None:
    """A handoff marker escalates; the next message never reaches Rasa."""
    answers: Script = [
        [{"text": "Connecting you"}, {"custom": {"handoff": True, "reason": "customer_request"}}]
    ]
    url, calls = await rasa_standin(aiohttp_server, answers)
    rt = await make_rt(sessions, sqlite_url, url, http)
    cid = await turn(rt, "c1", "m1", "human please")
    await turn(rt, "c1", "m2", "hello??")
    async with rt.sessions() as session:
        conv = await session.get(Conversation, cid)
    assert conv is not None and conv.status == "pending"
    assert conv.escalation_reason == "customer_request"
    assert len(calls) == 1 and await bot_messages(rt, cid) == ["Connecting you"]


async def test_rasa_error_escalates_with_a_polite_message(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    sessions: Sessions,
    sqlite_url: str,
    http: ClientSession,
) -> None:
    """A 500 from Rasa: the customer hears we are connecting them, in their language."""
    url, _calls = await rasa_standin(aiohttp_server, [500])
    rt = await make_rt(sessions, sqlite_url, url, http)
    cid = await turn(rt, "c1", "m1", "وين طلبي")
    texts = await bot_messages(rt, cid)
    assert len(texts) == 1 and "تحويلك" in texts[0]
    async with rt.sessions() as session:
        conv = await session.get(Conversation, cid)
    assert conv is not None and conv.escalation_reason == "bot_unavailable"


async def test_retry_after_stored_replies_does_not_ask_rasa_again(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    sessions: Sessions,
    sqlite_url: str,
    http: ClientSession,
) -> None:
    """If the step runs again for a message already answered, Rasa is not called twice."""
    url, calls = await rasa_standin(aiohttp_server, [[{"text": "hi"}], [{"text": "again"}]])
    rt = await make_rt(sessions, sqlite_url, url, http)
    result = await actions.do_ingest(rt, InboundMessage("memory", "c1", "m1", "hello"))
    await process_message(rt, result.message_id)
    async with rt.sessions() as session:
        message = await session.get(Message, result.message_id)
        conv = await session.get(Conversation, result.conversation_id)
    assert message is not None and conv is not None
    from core.pipeline import StepContext

    await rt.steps[0](StepContext(rt, message, conv))
    assert len(calls) == 1 and await bot_messages(rt, result.conversation_id) == ["hi"]


async def test_automated_mail_is_never_answered(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    sessions: Sessions,
    sqlite_url: str,
    http: ClientSession,
) -> None:
    """An auto-reply (flagged by the email channel) reaches neither Rasa nor the customer."""
    url, calls = await rasa_standin(aiohttp_server, [[{"text": "hi"}]])
    rt = await make_rt(sessions, sqlite_url, url, http)
    inbound = InboundMessage(
        "email", "a@example.com", "<ooo-1>", "I am out of office", raw={"automated": "auto-replied"}
    )
    result = await actions.do_ingest(rt, inbound)
    await process_message(rt, result.message_id)
    assert calls == [] and await bot_messages(rt, result.conversation_id) == []
