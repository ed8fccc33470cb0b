"""The bot inside the product, end to end: real trained Rasa, real action server, our service."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.language import has_arabic
from core.accounts import do_create_agent
from core.actions import do_escalate, do_hand_to_bot, do_reply, do_resolve
from core.db import in_transaction
from core.models import Conversation, Message, Order
from inbox.app import create_app
from inbox.keys import RUNTIME
from tests.bot.conftest import REPO, free_port
from tests.conftest import make_settings
from tests.inbox.conftest import eventually, memory

pytestmark = pytest.mark.rasa

TOKEN = "flow-bot-token"


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    """Rasa and the action server, the actions pointed at where the service will listen."""
    if not (REPO / ".venv-rasa" / "bin" / "rasa").exists():
        pytest.skip("no Rasa venv (.venv-rasa): run `make rasa-venv`")
    app_port, rasa_port, actions_port = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        RASA_PORT=str(rasa_port),
        ACTIONS_PORT=str(actions_port),
        RASA_RUN=str(REPO / ".rasa" / "run-flow"),
        TAWASUL_API_URL=f"http://127.0.0.1:{app_port}",
        TAWASUL_BOT_TOKEN=TOKEN,
        # Loading TensorFlow and the model takes ~20 s alone but minutes on a loaded 2-core box.
        RASA_WAIT="360",
    )
    serve = str(REPO / "bot" / "serve.sh")
    subprocess.run([serve, "down"], env=env, check=False, timeout=60)
    try:
        subprocess.run([serve, "up"], env=env, check=True, timeout=420)
        yield {"app_port": app_port, "rasa_port": rasa_port, "env": env, "serve": serve}
    finally:
        subprocess.run([serve, "down"], env=env, check=False, timeout=60)


@pytest.fixture
async def client(
    stack: dict[str, Any],
    sqlite_url: str,
    aiohttp_client: Callable[..., Awaitable[TestClient]],  # type: ignore[type-arg]
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    """The service with the bot enabled, on the port the action server calls."""
    settings = make_settings(
        sqlite_url,
        bot_enabled=True,
        rasa_url=f"http://127.0.0.1:{stack['rasa_port']}",
        rasa_timeout_seconds=20,
        bot_token=TOKEN,
    )
    server = TestServer(
        create_app(settings, migrate=False), host="127.0.0.1", port=stack["app_port"]
    )
    yield await aiohttp_client(server)


async def bot_texts(client: TestClient, conversation_id: int, count: int) -> list[str]:  # type: ignore[type-arg]
    """Wait until the conversation has ``count`` bot replies and return their texts."""

    async def check() -> list[str] | None:
        async with client.app[RUNTIME].sessions() as session:
            texts = (
                (
                    await session.execute(
                        select(Message.text)
                        .where(Message.conversation_id == conversation_id, Message.author == "bot")
                        .order_by(Message.id)
                    )
                )
                .scalars()
                .all()
            )
        return list(texts) if len(texts) >= count else None

    texts: list[str] = await eventually(check, within=40)
    return texts


async def status_of(client: TestClient, conversation_id: int) -> Conversation:  # type: ignore[type-arg]
    """The conversation as stored now."""
    async with client.app[RUNTIME].sessions() as session:
        conv = await session.get(Conversation, conversation_id)
    assert conv is not None
    return conv


async def test_arabic_order_status_answered_in_arabic(client: TestClient) -> None:  # type: ignore[type-arg]
    """An Arabic customer asks about their order by number and gets its real status in Arabic."""
    first = await memory(client).receive("ar-1", "m1", "السلام عليكم")
    assert len(await bot_texts(client, first.conversation_id, 1)) >= 1

    async def add(session: Any) -> None:
        session.add(
            Order(
                number="A-10234",
                customer_id=first.customer_id,
                status="shipped",
                total=Decimal("349.00"),
                currency="SAR",
                carrier="Aramex",
                items=[],
            )
        )

    await in_transaction(client.app[RUNTIME].sessions, add)
    before = len(await bot_texts(client, first.conversation_id, 1))
    await memory(client).receive("ar-1", "m2", "وين طلبي رقم A-10234؟")
    texts = await bot_texts(client, first.conversation_id, before + 1)
    answer = texts[-1]
    assert has_arabic(answer) and "A-10234" in answer and "تم شحنه" in answer

    async def delivered() -> bool:
        return answer in [m.text for m in memory(client).sent]

    assert await eventually(delivered), "the bot's answer went out on the customer's channel"
    assert (await status_of(client, first.conversation_id)).status == "bot"


async def test_asking_for_a_human_escalates_and_bot_goes_quiet(client: TestClient) -> None:  # type: ignore[type-arg]
    """'I want to talk to a human' → pending (customer_request); the bot says nothing after."""
    first = await memory(client).receive("en-1", "m1", "I want to talk to a human please")
    texts = await bot_texts(client, first.conversation_id, 1)
    assert not has_arabic(texts[0])

    async def escalated() -> Conversation | None:
        conv = await status_of(client, first.conversation_id)
        return conv if conv.status == "pending" else None

    conv = await eventually(escalated, within=20)
    assert conv.escalation_reason == "customer_request"
    second = await memory(client).receive("en-1", "m2", "hello? anyone?")

    async def processed() -> bool:
        async with client.app[RUNTIME].sessions() as session:
            message = await session.get(Message, second.message_id)
        return message is not None and message.pipeline_state == "done"

    await eventually(processed, within=20)
    assert len(await bot_texts(client, first.conversation_id, 0)) == len(texts)


async def test_resolve_returns_the_customer_to_the_bot(client: TestClient) -> None:  # type: ignore[type-arg]
    """After a human resolves, the customer's next message is answered by the bot again."""
    first = await memory(client).receive("en-2", "m1", "I need a person")
    await eventually(lambda: _pending(client, first.conversation_id), within=30)
    await do_resolve(client.app[RUNTIME], first.conversation_id, agent_id=None)
    nxt = await memory(client).receive("en-2", "m2", "hi, what are your opening hours?")
    assert nxt.conversation_id != first.conversation_id
    texts = await bot_texts(client, nxt.conversation_id, 1)
    assert texts and (await status_of(client, nxt.conversation_id)).status == "bot"


async def test_hand_back_gives_the_bot_a_clean_memory(client: TestClient) -> None:  # type: ignore[type-arg]
    """After escalation and hand-back, one miss asks to rephrase and hours are answered."""
    rt = client.app[RUNTIME]
    first = await memory(client).receive("en-3", "m1", "xqzj wpvk")
    rephrase = (await bot_texts(client, first.conversation_id, 1))[-1]
    assert "rephrase" in rephrase
    # Rasa's last action for this customer is now "please rephrase": in the same tracker, the
    # next miss would count as the second in a row and hand off at once.
    await do_escalate(rt, first.conversation_id, "customer_request", detail="supervisor")
    agent = await do_create_agent(rt.sessions, "sara", "Sara", "password123")
    await do_reply(rt, first.conversation_id, "Sara here, all sorted?", agent_id=agent.id)
    await do_hand_to_bot(rt, first.conversation_id, agent_id=agent.id)
    await memory(client).receive("en-3", "m2", "blorp fnarg zzxq")
    texts = await bot_texts(client, first.conversation_id, 2)
    assert texts[-1] == rephrase
    assert (await status_of(client, first.conversation_id)).status == "bot"
    await memory(client).receive("en-3", "m3", "what are your opening hours?")
    texts = await bot_texts(client, first.conversation_id, 3)
    assert "Saturday to Thursday" in texts[-1]
    assert (await status_of(client, first.conversation_id)).status == "bot"


async def _pending(client: TestClient, conversation_id: int) -> bool:  # type: ignore[type-arg]
    return (await status_of(client, conversation_id)).status == "pending"


async def test_rasa_stopped_mid_conversation_escalates_and_keeps_message(
    client: TestClient,  # type: ignore[type-arg]
    stack: dict[str, Any],
) -> None:
    """Rasa goes down between two messages: the second is kept, the customer is told, escalated."""
    first = await memory(client).receive("ar-9", "m1", "مرحبا")
    await bot_texts(client, first.conversation_id, 1)
    await asyncio.to_thread(
        subprocess.run, [stack["serve"], "down"], env=stack["env"], check=True, timeout=60
    )
    second = await memory(client).receive("ar-9", "m2", "متى تفتحون؟")

    async def escalated() -> Conversation | None:
        conv = await status_of(client, first.conversation_id)
        return conv if conv.status == "pending" else None

    conv = await eventually(escalated, within=30)
    assert conv.escalation_reason == "bot_unavailable"
    texts = await bot_texts(client, first.conversation_id, 2)
    assert has_arabic(texts[-1]) and "تحويلك" in texts[-1]

    async def kept() -> Message | None:
        async with client.app[RUNTIME].sessions() as session:
            message = await session.get(Message, second.message_id)
        return message if message is not None and message.pipeline_state == "done" else None

    message = await eventually(kept)
    assert message.text == "متى تفتحون؟"
