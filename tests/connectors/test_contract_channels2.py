"""The connector contract, run over the email and web chat channels through their real edges.

Inbound fixture → one message on the right customer's timeline; the same again → still one;
outbound → the peer received it exactly once; private notes never leave; oversize and
malformed payloads are refused and nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib
import pytest
from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient

from connectors.base import SendRefused
from connectors.registry import CONNECTORS
from core.types import OutboundMessage, Role
from inbox.app import create_app
from inbox.keys import CONNECTORS as APP_CONNECTORS
from tests.conftest import make_settings
from tests.connectors.conftest import SmtpSink, eml, env_for_email, free_port
from tests.inbox.conftest import eventually, login_as

Client = TestClient  # type: ignore[type-arg]
AppFactory = Callable[..., Awaitable[Client]]


class Harness(Protocol):
    """How the contract drives one channel from the customer's side."""

    name: str
    client: Client
    sender: str

    async def deliver(self) -> None:
        """The customer sends the fixture message."""

    async def refused(self, kind: str) -> bool:
        """Send an oversize or malformed payload; True when the channel refused it."""

    async def peer_texts(self) -> list[str]:
        """What the customer's side has received from us so far."""


class EmailHarness:
    """Email through our SMTP listener in, the SMTP sink out."""

    name = "email"
    sender = "ahmed@customer.test"

    def __init__(self, client: Client, port: int, sink: SmtpSink) -> None:
        self.client, self.port, self.sink = client, port, sink

    async def _send(self, raw: bytes) -> None:
        """Hand raw mail to our listener as a mail server would."""
        await aiosmtplib.send(
            raw, sender=self.sender, recipients=["support@tawasul.test"],
            hostname="127.0.0.1", port=self.port,
        )  # fmt: skip

    async def deliver(self) -> None:
        """The Arabic windows-1256 fixture."""
        await self._send(eml("arabic_windows1256.eml"))

    async def refused(self, kind: str) -> bool:
        """Oversize is refused in SMTP; a sender-less mail is kept aside, not stored."""
        if kind == "oversize":
            try:
                await self._send(eml("alternative.eml") + b"x" * 70_000 + b"\r\n")
            except aiosmtplib.SMTPResponseException as exc:
                return exc.code == 552
            return False
        await self._send(eml("no_sender.eml"))
        connector = self.client.app[APP_CONNECTORS]["email"]
        return len(connector.store.rejected()) == 1  # type: ignore[attr-defined]

    async def peer_texts(self) -> list[str]:
        """Plain bodies of the mails the sink got."""
        return [
            mail.get_body(("plain",)).get_content().strip()  # type: ignore[union-attr]
            for _, mail in self.sink.received
        ]


class WebchatHarness:
    """A visitor over HTTP in, a WebSocket tab out."""

    name = "webchat"

    def __init__(self, client: Client) -> None:
        self.client = client
        self.origin = {"Origin": str(client.make_url("")).rstrip("/")}
        self.token = ""
        self.sender = ""
        self.ws: ClientWebSocketResponse | None = None
        self.frames: list[dict[str, Any]] = []

    async def open(self) -> None:
        """Start a visitor and open its tab's socket."""
        resp = await self.client.post(
            "/channels/webchat/session", json={"site": "demo"}, headers=self.origin
        )
        data = await resp.json()
        self.token, self.sender = data["token"], f"demo:{data['visitor_id']}"
        self.ws = await self.client.ws_connect(
            f"/channels/webchat/ws?token={self.token}", headers=self.origin
        )

    async def _post(self, body: Any) -> int:
        """POST a message over the HTTP fallback; the status."""
        resp = await self.client.post(
            "/channels/webchat/messages",
            data=body if isinstance(body, bytes) else json.dumps(body),
            headers={**self.origin, "X-Visitor-Token": self.token,
                     "Content-Type": "application/json"},
        )  # fmt: skip
        return resp.status

    async def deliver(self) -> None:
        """An Arabic message with a fixed client id (a resend is the same message)."""
        assert await self._post({"id": "fixture-1", "text": "أين طلبي رقم 1042؟"}) == 200

    async def refused(self, kind: str) -> bool:
        """Oversize text → 413, a body that is not JSON → 400."""
        if kind == "oversize":
            return await self._post({"id": "big", "text": "ب" * 2001}) == 413
        return await self._post(b"{not json") == 400

    async def peer_texts(self) -> list[str]:
        """Agent messages pushed to the visitor's socket."""
        assert self.ws is not None
        while True:
            try:
                frame = await self.ws.receive_json(timeout=0.2)
            except TimeoutError:
                break
            self.frames.append(frame)
        return [
            f["message"]["text"]
            for f in self.frames
            if f["type"] == "message" and f["message"]["author"] == "agent"
        ]


@pytest.fixture(params=["email", "webchat"])
async def harness(
    request: pytest.FixtureRequest,
    aiohttp_client: AppFactory,
    sqlite_url: str,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    """The service with the channel under test, driven from the customer's side."""
    port = free_port()
    env_for_email(
        monkeypatch, tmp_path, listen=f"127.0.0.1:{port}", max_bytes=60_000,
        smtp_url=f"smtp://127.0.0.1:{smtp_sink.port}",
    )  # fmt: skip
    monkeypatch.setenv("WEBCHAT_SITES", json.dumps({"demo": {"origins": ["self"]}}))
    app = create_app(make_settings(sqlite_url, channels=f"memory,{request.param}"), migrate=False)
    client = await aiohttp_client(app)
    if request.param == "email":
        yield EmailHarness(client, port, smtp_sink)
    else:
        chat = WebchatHarness(client)
        await chat.open()
        yield chat
        if chat.ws is not None:
            await chat.ws.close()


async def _incoming(h: Harness, headers: dict[str, str]) -> list[Any]:
    """Every incoming message stored on the channel, across conversations."""
    resp = await h.client.get(f"/api/v1/conversations?channel={h.name}", headers=headers)
    found = []
    for item in (await resp.json())["items"]:
        detail = await (
            await h.client.get(f"/api/v1/conversations/{item['id']}", headers=headers)
        ).json()
        found += [(detail["customer"], m) for m in detail["messages"] if m["kind"] == "incoming"]
    return found


async def test_contract(harness: Harness) -> None:
    """One message per delivery however often redelivered; replies out once; notes never."""
    h = harness
    assert CONNECTORS[h.name].name == h.name
    headers = await login_as(h.client, "sara", Role.AGENT)
    await h.deliver()

    async def stored() -> Any:
        return await _incoming(h, headers)

    ((customer, message),) = await eventually(stored)
    resp = await h.client.get(f"/api/v1/customers/{customer['id']}", headers=headers)
    identities = (await resp.json())["identities"]
    assert [(i["channel"], i["external_id"]) for i in identities] == [(h.name, h.sender)]

    await h.deliver()
    assert len(await _incoming(h, headers)) == 1

    conv = message["conversation_id"]
    await h.client.post(f"/api/v1/conversations/{conv}/notes", json={"text": "private"},
                        headers=headers)  # fmt: skip
    await h.client.post(f"/api/v1/conversations/{conv}/reply", json={"text": "تم الشحن"},
                        headers=headers)  # fmt: skip

    async def sent() -> Any:
        return await h.peer_texts()

    assert await eventually(sent) == ["تم الشحن"]
    assert await h.peer_texts() == ["تم الشحن"]

    connector = h.client.app[APP_CONNECTORS][h.name]
    with pytest.raises(SendRefused):
        await connector.send(OutboundMessage(1, h.name, h.sender, "note", private=True))
    with pytest.raises(SendRefused):
        await connector.send(
            OutboundMessage(1, h.name, h.sender, "again", external_message_id="already")
        )


@pytest.mark.parametrize("kind", ["oversize", "malformed"])
async def test_contract_refuses_bad_payloads(harness: Harness, kind: str) -> None:
    """Oversize and malformed payloads are refused and nothing reaches the timeline."""
    headers = await login_as(harness.client, "sara", Role.AGENT)
    assert await harness.refused(kind)
    assert await _incoming(harness, headers) == []
