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
from core.accounts import do_create_agent
from core.bus import InProcessBus
from core.db import Sessions
from core.models import Conversation, Message
from core.pipeline import StepContext, process_message
from core.runtime import Runtime
from core.types import ConversationStatus, InboundMessage, MessageKind
from tests.conftest import make_settings

Script = list[Any]


async def rasa_standin(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    answers: Script,
    meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """A REST webhook that answers from a script (a list or an HTTP status per call).

    ``meanwhile`` runs inside each call, before the answer: what happens while Rasa thinks.
    """
    calls: list[dict[str, Any]] = []

    async def webhook(request: web.Request) -> web.Response:
        calls.append(await request.json())
        if meanwhile is not None:
            await meanwhile()
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


async def conversation(rt: Runtime, conversation_id: int) -> Conversation:
    """The conversation as stored now."""
    async with rt.sessions() as session:
        conv = await session.get(Conversation, conversation_id)
    assert conv is not None
    return conv


async def alerts(rt: Runtime, conversation_id: int) -> list[str]:
    """The kinds of the supervisor alerts on the conversation's timeline."""
    async with rt.sessions() as session:
        metas = (
            await session.execute(
                select(Message.meta).where(
                    Message.conversation_id == conversation_id,
                    Message.kind == MessageKind.ACTIVITY,
                )
            )
        ).scalars()
        return [m["alert"] for m in metas if m and m.get("alert")]


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
    assert calls[0]["metadata"] == {"language": "ar"}
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


async def test_one_bot_session_is_one_rasa_sender(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    sessions: Sessions,
    sqlite_url: str,
    http: ClientSession,
) -> None:
    """The sender id is '<conversation>-<session token>', the token kept in bot_state."""
    url, calls = await rasa_standin(aiohttp_server, [[{"text": "hi"}], [{"text": "sure"}]])
    rt = await make_rt(sessions, sqlite_url, url, http)
    cid = await turn(rt, "c1", "m1", "hello")
    await turn(rt, "c1", "m2", "opening hours?")
    token = (await conversation(rt, cid)).bot_state["session"]
    assert len(token) >= 16
    assert [c["sender"] for c in calls] == [f"{cid}-{token}", f"{cid}-{token}"]


async def test_hand_back_and_a_new_conversation_start_new_sessions(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    sessions: Sessions,
    sqlite_url: str,
    http: ClientSession,
) -> None:
    """After a handoff and a hand-back, and after resolving, Rasa sees a sender it never saw."""
    handoff = [
        {"text": "Connecting you"},
        {"custom": {"handoff": True, "reason": "low_confidence"}},
    ]
    url, calls = await rasa_standin(
        aiohttp_server, [handoff, [{"text": "We open at 9"}], [{"text": "hi"}]]
    )
    rt = await make_rt(sessions, sqlite_url, url, http)
    cid = await turn(rt, "c1", "m1", "blorp")
    assert (await conversation(rt, cid)).status == ConversationStatus.PENDING
    await actions.do_hand_to_bot(rt, cid, agent_id=None)
    assert await turn(rt, "c1", "m2", "when do you open?") == cid
    await actions.do_resolve(rt, cid, agent_id=None)
    nxt = await turn(rt, "c1", "m3", "hello again")
    senders = [c["sender"] for c in calls]
    assert nxt != cid and len(set(senders)) == 3
    assert senders[0].startswith(f"{cid}-") and senders[1].startswith(f"{cid}-")
    assert senders[2] == f"{nxt}-{(await conversation(rt, nxt)).bot_state['session']}"


@pytest.mark.parametrize(
    "answer",
    [
        [{"text": "We open at 9"}],
        [{"text": "Connecting you"}, {"custom": {"handoff": True, "reason": "customer_request"}}],
    ],
    ids=["reply", "handoff"],
)
async def test_agent_takes_over_while_rasa_answers(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    sessions: Sessions,
    sqlite_url: str,
    http: ClientSession,
    answer: list[dict[str, Any]],
) -> None:
    """An agent replies during the Rasa call: no bot message, no escalation, no handoff alert."""
    race: dict[str, Any] = {}

    async def agent_takes_over() -> None:
        if race:  # armed after the first, undisturbed turn
            await actions.do_reply(race["rt"], race["cid"], "Sara here", agent_id=race["agent"])

    url, calls = await rasa_standin(aiohttp_server, [[{"text": "hi"}], answer], agent_takes_over)
    rt = await make_rt(sessions, sqlite_url, url, http)
    cid = await turn(rt, "c1", "m1", "hello")
    agent = await do_create_agent(rt.sessions, "sara", "Sara", "password123")
    race.update(rt=rt, cid=cid, agent=agent.id)
    await turn(rt, "c1", "m2", "can you help me")
    conv = await conversation(rt, cid)
    assert len(calls) == 2
    assert conv.status == ConversationStatus.OPEN and conv.assignee_id == agent.id
    assert conv.escalation_reason is None
    assert await bot_messages(rt, cid) == ["hi"]
    assert await alerts(rt, cid) == []
