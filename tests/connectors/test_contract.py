"""The connector contract, run over every registered connector.

Each connector needs a harness here that plays its peer: a new channel without one fails
`test_every_connector_has_a_harness`.
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from typing import Any

import pytest
from aiohttp import ClientResponse
from sqlalchemy import func, select

from connectors.base import SendRefused
from connectors.memory import MemoryConnector
from connectors.registry import CONNECTORS
from core.models import Identity, Message
from core.types import OutboundMessage
from inbox.keys import CONNECTORS as APP_CONNECTORS
from inbox.keys import RUNTIME
from tests.connectors.bot_api import BotApi
from tests.connectors.conftest import MAX_BODY, post_signed, post_update, tg_fixture
from tests.connectors.receiver import Receiver
from tests.inbox.conftest import Client, eventually, login_as


class Harness(ABC):
    """Plays one channel's peer: sends its inbound fixture, reads what it received."""

    sender: str  # the customer's external id on the channel
    message_id: str  # the fixture's channel message id
    text: str

    def __init__(self, bot_api: BotApi, receiver: Receiver) -> None:
        self.bot_api = bot_api
        self.receiver = receiver

    @abstractmethod
    async def inbound(self, client: Client) -> ClientResponse:
        """Deliver the channel's canonical inbound fixture."""

    @abstractmethod
    async def raw(self, client: Client, body: bytes) -> ClientResponse:
        """Post an arbitrary body, authenticated the way the channel expects."""

    @abstractmethod
    def received(self, client: Client) -> list[str]:
        """Texts the peer has received from us."""


class MemoryHarness(Harness):
    """The in-memory channel's dev route and outbox."""

    sender, message_id, text = "mem-cust", "mem-1", "مرحبا، أين طلبي؟"

    async def inbound(self, client: Client) -> ClientResponse:
        body = {"sender": self.sender, "message_id": self.message_id, "text": self.text}
        return await client.post("/channels/memory/inbound", json=body)

    async def raw(self, client: Client, body: bytes) -> ClientResponse:
        headers = {"Content-Type": "application/json"}
        return await client.post("/channels/memory/inbound", data=body, headers=headers)

    def received(self, client: Client) -> list[str]:
        connector = client.app[APP_CONNECTORS]["memory"]
        assert isinstance(connector, MemoryConnector)
        return [m.text for m in connector.sent]


class TelegramHarness(Harness):
    """Telegram's webhook in, the Bot API stand-in's sendMessage out."""

    sender, message_id = "777000111", "777000111:41"
    text = tg_fixture("private_text")["message"]["text"]

    async def inbound(self, client: Client) -> ClientResponse:
        return await post_update(client, tg_fixture("private_text"))

    async def raw(self, client: Client, body: bytes) -> ClientResponse:
        return await post_update(client, body)

    def received(self, client: Client) -> list[str]:
        return [c.params["text"] for c in self.bot_api.sent("sendMessage")]


class WebhookHarness(Harness):
    """The generic webhook channel's signed POST in, the receiver's /replies out."""

    sender, message_id, text = "shop:u-42", "shop:m-1", "Where is my order? وين طلبي؟"
    attempts = 0

    def __init__(self, bot_api: BotApi, receiver: Receiver) -> None:
        super().__init__(bot_api, receiver)
        # Fixed once: timestamps read per attempt could round to the same second on a slow run.
        self.started = time.time()

    async def inbound(self, client: Client) -> ClientResponse:
        # An integration signs each attempt when it sends it: a resend has a new timestamp.
        self.attempts += 1
        payload = {
            "sender": {"id": "u-42", "name": "Huda"},
            "message_id": "m-1",
            "text": self.text,
            "timestamp": "2026-11-23T04:00:00Z",
        }
        return await post_signed(client, payload, at=self.started - 2 * self.attempts)

    async def raw(self, client: Client, body: bytes) -> ClientResponse:
        return await post_signed(client, body)

    def received(self, client: Client) -> list[str]:
        return [h.json["text"] for h in self.receiver.ok("replies")]


HARNESSES: dict[str, type[Harness]] = {
    "memory": MemoryHarness,
    "telegram": TelegramHarness,
    "webhook": WebhookHarness,
}


# Email and web chat have no HTTP peer to play here; they run the same contract in
# tests/connectors/test_contract_channels2.py against Dovecot/SMTP and the widget socket.
COVERED_ELSEWHERE = {"email", "webchat"}


def test_every_connector_has_a_harness() -> None:
    """Every registered connector is covered by a contract (add a harness for new ones)."""
    assert sorted(CONNECTORS) == sorted(set(HARNESSES) | COVERED_ELSEWHERE)


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest, bot_api: BotApi, receiver: Receiver) -> Harness:
    """One registered connector's harness."""
    return HARNESSES[request.param](bot_api, receiver)


async def _count(client: Client, *where: Any) -> int:
    async with client.app[RUNTIME].sessions() as session:
        query = select(func.count()).select_from(Message).where(*where)
        return int(await session.scalar(query) or 0)


def _channel(harness: Harness) -> str:
    return next(name for name, cls in HARNESSES.items() if isinstance(harness, cls))


async def test_inbound_lands_once_on_the_right_timeline(channels: Client, harness: Harness) -> None:
    """A fixture lands as one message on its sender's timeline; the same fixture again adds none."""
    channel = _channel(harness)
    first = await harness.inbound(channels)
    assert first.status in (200, 201), await first.text()
    again = await harness.inbound(channels)
    assert again.status in (200, 201), await again.text()
    async with channels.app[RUNTIME].sessions() as session:
        identity = (
            await session.execute(
                select(Identity).where(
                    Identity.channel == channel, Identity.external_id == harness.sender
                )
            )
        ).scalar_one()
        rows = (
            (await session.execute(select(Message).where(Message.kind == "incoming")))
            .scalars()
            .all()
        )
    assert len(rows) == 1
    assert rows[0].customer_id == identity.customer_id
    assert rows[0].channel_message_id == harness.message_id
    assert rows[0].text == harness.text
    headers = await login_as(channels, "sara")
    timeline = await channels.get(
        f"/api/v1/customers/{identity.customer_id}/timeline", headers=headers
    )
    body = await timeline.json()
    entries = body["items"]
    assert [m["text"] for m in entries if m["kind"] == "incoming"] == [harness.text]


async def _conversation(client: Client, harness: Harness) -> int:
    resp = await harness.inbound(client)
    assert resp.status in (200, 201), await resp.text()
    async with client.app[RUNTIME].sessions() as session:
        conv = await session.scalar(
            select(Message.conversation_id).where(Message.kind == "incoming")
        )
    assert conv is not None
    return int(conv)


async def test_reply_reaches_the_peer_exactly_once(channels: Client, harness: Harness) -> None:
    """An agent's reply is received by the channel's peer once, and is marked sent."""
    conv = await _conversation(channels, harness)
    headers = await login_as(channels, "sara")
    resp = await channels.post(
        f"/api/v1/conversations/{conv}/reply", json={"text": "أبشر، نتابع طلبك"}, headers=headers
    )
    assert resp.status in (200, 201), await resp.text()
    reply_id = (await resp.json())["id"]

    async def sent() -> bool:
        async with channels.app[RUNTIME].sessions() as session:
            message = await session.get(Message, reply_id)
        return message is not None and message.delivery_status == "sent"

    await eventually(sent)
    await asyncio.sleep(0.2)  # a duplicate would have shown up by now
    assert harness.received(channels) == ["أبشر، نتابع طلبك"]


async def test_private_notes_never_leave(channels: Client, harness: Harness) -> None:
    """A private note is never sent, through the API or straight through the connector."""
    conv = await _conversation(channels, harness)
    headers = await login_as(channels, "sara")
    resp = await channels.post(
        f"/api/v1/conversations/{conv}/notes", json={"text": "internal: VIP"}, headers=headers
    )
    assert resp.status in (200, 201), await resp.text()
    connector = channels.app[APP_CONNECTORS][_channel(harness)]
    note = OutboundMessage(1, connector.name, harness.sender, "internal: VIP", private=True)
    with pytest.raises(SendRefused):
        await connector.send(note)
    # A reply after the note proves the delivery worker ran; the note never went.
    await channels.post(f"/api/v1/conversations/{conv}/reply", json={"text": "ok"}, headers=headers)
    await eventually(lambda: _received_async(channels, harness))
    assert "internal: VIP" not in harness.received(channels)


async def _received_async(client: Client, harness: Harness) -> list[str]:
    return harness.received(client)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2, 3]", json.dumps({"unexpected": True}).encode()],
    ids=["broken-json", "not-an-object", "wrong-shape"],
)
async def test_malformed_payload_is_4xx_and_stores_nothing(
    channels: Client, harness: Harness, body: bytes
) -> None:
    """A malformed (but authenticated) payload gets a 4xx JSON error and stores nothing."""
    resp = await harness.raw(channels, body)
    assert 400 <= resp.status < 500, await resp.text()
    assert "error" in await resp.json()
    assert await _count(channels) == 0


async def test_oversize_payload_is_413_and_stores_nothing(
    channels: Client, harness: Harness
) -> None:
    """A payload over the body limit is refused with 413 and stores nothing."""
    body = json.dumps({"text": "x" * (MAX_BODY + 10)}).encode()
    resp = await harness.raw(channels, body)
    assert resp.status == 413
    assert await _count(channels) == 0
