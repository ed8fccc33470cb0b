"""The generic webhook channel: signed JSON in, signed replies out."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from core.models import Customer, Identity, Message
from core.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from inbox.app import create_app
from inbox.keys import CONNECTORS, FILES, RUNTIME, SETTINGS
from tests.connectors.conftest import SHOP_SECRET, Instances, post_signed
from tests.connectors.receiver import Receiver
from tests.inbox.conftest import Client, eventually, login_as

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n%%EOF\n"


def message(**overrides: Any) -> dict[str, Any]:
    """A valid inbound message."""
    return {
        "sender": {"id": "u-42", "name": "Huda"},
        "message_id": "m-1",
        "text": "وين طلبي رقم 1042؟",
        **overrides,
    }


async def stored(client: Client) -> list[Message]:
    """Every stored customer message."""
    async with client.app[RUNTIME].sessions() as session:
        query = select(Message).where(Message.kind == "incoming").order_by(Message.id)
        return list((await session.execute(query)).scalars().all())


async def test_signed_message_is_stored_with_its_details(channels: Client) -> None:
    """A signed message lands with sender name, attachments and the sender's timestamp."""
    payload = message(
        attachments=[
            {"kind": "image", "url": "https://cdn.example.com/p.jpg", "size": 2048, "id": "f1"}
        ],
        timestamp="2026-11-23T03:00:00+03:00",
    )
    resp = await post_signed(channels, payload)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["created"] is True
    (stored_message,) = await stored(channels)
    assert stored_message.id == body["message_id"]
    assert stored_message.channel_message_id == "shop:m-1"
    assert stored_message.attachments[0]["url"] == "https://cdn.example.com/p.jpg"
    assert stored_message.attachments[0]["external_id"] == "f1"
    assert stored_message.sent_at is not None and stored_message.sent_at.hour == 0


async def test_bad_signature_is_refused(channels: Client) -> None:
    """A request signed with another secret is a 401 and stores nothing."""
    resp = await post_signed(channels, message(), secret="not-the-shop-secret-at-all")
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "bad_signature"
    assert await stored(channels) == []


async def test_tampered_body_is_refused(channels: Client) -> None:
    """A valid signature for one body does not cover another."""
    signed = json.dumps(message()).encode()
    headers = {"Content-Type": "application/json", **signed_headers(SHOP_SECRET, signed)}
    forged = json.dumps(message(text="refund me twice")).encode()
    resp = await channels.post("/channels/webhook/shop", data=forged, headers=headers)
    assert resp.status == 401
    assert await stored(channels) == []


@pytest.mark.parametrize("skew", [-301, 301], ids=["stale", "future"])
async def test_timestamp_outside_five_minutes_is_refused(channels: Client, skew: int) -> None:
    """A correctly signed request whose timestamp is over 5 minutes off is refused."""
    resp = await post_signed(channels, message(), at=time.time() + skew)
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "stale_timestamp"
    assert await stored(channels) == []


async def test_missing_signature_headers_are_refused(channels: Client) -> None:
    """No timestamp or signature header: 401 with code missing_signature."""
    resp = await channels.post("/channels/webhook/shop", json=message())
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "missing_signature"


async def test_replayed_request_is_refused(channels: Client) -> None:
    """The exact same signed request sent again is a 409; only one message exists."""
    body = json.dumps(message()).encode()
    headers = {"Content-Type": "application/json", **signed_headers(SHOP_SECRET, body)}
    first = await channels.post("/channels/webhook/shop", data=body, headers=headers)
    again = await channels.post("/channels/webhook/shop", data=body, headers=headers)
    assert first.status == 201
    assert again.status == 409 and (await again.json())["error"]["code"] == "replayed"
    assert len(await stored(channels)) == 1


@pytest.mark.redis
async def test_request_replayed_to_another_instance_is_refused(
    instances: Instances, sqlite_url: str, channel_env: Callable[..., Any]
) -> None:
    """Two service processes on one Redis: a request A accepted, replayed to B, is a 409."""
    a, b = await instances(channel_env(sqlite_url), workers=[False, False])
    body = json.dumps(message()).encode()
    headers = {"Content-Type": "application/json", **signed_headers(SHOP_SECRET, body)}
    first = await a.post("/channels/webhook/shop", data=body, headers=headers)
    again = await b.post("/channels/webhook/shop", data=body, headers=headers)
    assert first.status == 201
    assert again.status == 409 and (await again.json())["error"]["code"] == "replayed"
    assert len(await stored(a)) == 1


async def test_old_body_replayed_with_a_new_timestamp_is_refused(channels: Client) -> None:
    """Putting a fresh timestamp on a captured body breaks its signature."""
    body = json.dumps(message()).encode()
    old = signed_headers(SHOP_SECRET, body, time.time() - 600)
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(int(time.time())),
        SIGNATURE_HEADER: old[SIGNATURE_HEADER],
    }
    resp = await channels.post("/channels/webhook/shop", data=body, headers=headers)
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "bad_signature"


async def test_unknown_channel_key_is_404(channels: Client) -> None:
    """A key that is not configured is a 404, whatever the signature."""
    resp = await post_signed(channels, message(), key="crm")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "unknown_channel"


async def test_empty_message_is_422(channels: Client) -> None:
    """A message with neither text nor attachments is refused."""
    resp = await post_signed(channels, message(text="  "))
    assert resp.status == 422
    assert await stored(channels) == []


async def test_verified_email_links_to_the_existing_customer(channels: Client) -> None:
    """A verified email joins the customer who has it; an unverified one does not."""
    async with channels.app[RUNTIME].sessions() as session:
        known = Customer(display_name="Huda", email="huda@example.com", attributes={})
        session.add(known)
        await session.commit()
    unverified = message(
        sender={"id": "u-1", "email": "huda@example.com"}, message_id="m-unverified"
    )
    verified = message(
        sender={"id": "u-2", "email": "HUDA@example.com", "email_verified": True},
        message_id="m-verified",
    )
    assert (await post_signed(channels, unverified)).status == 201
    assert (await post_signed(channels, verified)).status == 201
    async with channels.app[RUNTIME].sessions() as session:
        owners = dict(
            (
                await session.execute(
                    select(Identity.external_id, Identity.customer_id).where(
                        Identity.channel == "webhook"
                    )
                )
            ).all()
        )
    assert owners["shop:u-2"] == known.id
    assert owners["shop:u-1"] != known.id


async def _reply(client: Client, text: str = "أبشر") -> int:
    resp = await post_signed(client, message())
    conversation = (await resp.json())["conversation_id"]
    headers = await login_as(client, "sara")
    sent = await client.post(
        f"/api/v1/conversations/{conversation}/reply", json={"text": text}, headers=headers
    )
    assert sent.status in (200, 201), await sent.text()
    return int((await sent.json())["id"])


async def _status(client: Client, message_id: int, status: str) -> Message:
    async def check() -> Message | None:
        async with client.app[RUNTIME].sessions() as session:
            found = await session.get(Message, message_id)
        return found if found is not None and found.delivery_status == status else None

    result: Message = await eventually(check, within=10)
    return result


async def test_reply_is_signed_and_carries_the_thread(channels: Client, receiver: Receiver) -> None:
    """The integration gets a signed reply naming the sender and the message it answers."""
    reply_id = await _reply(channels)
    sent = await _status(channels, reply_id, "sent")
    (hit,) = receiver.ok("replies")
    assert hit.verified
    assert hit.json["recipient"] == {"id": "u-42"}
    assert hit.json["reply_to"] == "m-1"
    assert hit.json["text"] == "أبشر"
    assert hit.headers["X-Tawasul-Delivery"] == f"message-{reply_id}"
    assert sent.channel_message_id == "shop:peer-1"


async def test_reply_retried_after_500_reaches_the_peer_once(
    channels: Client, receiver: Receiver
) -> None:
    """A 500 from the integration is retried with the same delivery id; one success."""
    receiver.fail("replies", 500, 503)
    reply_id = await _reply(channels)
    await _status(channels, reply_id, "sent")
    attempts = receiver.on("replies")
    assert [h.status for h in attempts] == [500, 503, 200]
    assert {h.headers["X-Tawasul-Delivery"] for h in attempts} == {f"message-{reply_id}"}


async def test_reply_refused_with_4xx_fails_without_retry(
    channels: Client, receiver: Receiver
) -> None:
    """A 400 from the integration marks the reply failed at once (no point retrying)."""
    receiver.fail("replies", 400)
    reply_id = await _reply(channels)
    failed = await _status(channels, reply_id, "failed")
    assert "HTTP 400" in (failed.delivery_error or "")
    assert len(receiver.on("replies")) == 1


async def test_secret_shorter_than_16_characters_is_refused_at_start_up(
    aiohttp_client: Callable[..., Awaitable[Client]],
    sqlite_url: str,
    channel_env: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A guessable channel secret stops the service from starting."""
    monkeypatch.setenv("WEBHOOK_SHOP_SECRET", "short")
    with pytest.raises(ValueError, match="at least 16"):
        create_app(channel_env(sqlite_url), migrate=False)


async def test_reply_files_are_signed_expiring_urls_that_download(
    channels: Client, receiver: Receiver
) -> None:
    """An uploaded file reaches the integration as a URL signed for that recipient; it serves
    the bytes without a login, and refuses the same link for another recipient."""
    resp = await post_signed(channels, message())
    conversation = (await resp.json())["conversation_id"]
    headers = await login_as(channels, "sara")
    stored = await channels.app[FILES].put(PDF, "عقد.pdf", "application/pdf")
    sent = await channels.post(
        f"/api/v1/conversations/{conversation}/reply",
        json={"attachments": [stored.id]},
        headers=headers,
    )
    reply_id = int((await sent.json())["id"])
    await _status(channels, reply_id, "sent")
    (hit,) = receiver.ok("replies")
    (file,) = hit.json["attachments"]
    assert (file["name"], file["mime_type"], file["size"]) == (
        "عقد.pdf",
        "application/pdf",
        len(PDF),
    )
    assert file["url_expires_in"] == channels.app[SETTINGS].file_link_ttl_seconds
    url = urllib.parse.urlsplit(file["url"])
    assert url.path == f"/channels/webhook/files/{stored.key}"
    query = dict(urllib.parse.parse_qsl(url.query))
    assert query["for"] == "shop:u-42"
    channels.session.cookie_jar.clear()
    resp = await channels.get(url.path, params=query)
    assert resp.status == 200 and await resp.read() == PDF
    resp = await channels.get(url.path, params={**query, "for": "shop:u-43"})
    assert resp.status == 403
    resp = await channels.get(f"/channels/webchat/files/{stored.key}", params=query)
    assert resp.status == 404  # the web chat channel is not enabled here


async def test_channel_that_cannot_carry_files_fails_with_a_reason(
    channels: Client, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel without file support fails the reply visibly instead of dropping the file."""
    monkeypatch.setattr(channels.app[CONNECTORS]["webhook"], "carries_files", False)
    resp = await post_signed(channels, message())
    conversation = (await resp.json())["conversation_id"]
    headers = await login_as(channels, "sara")
    stored = await channels.app[FILES].put(PDF, "عقد.pdf", "application/pdf")
    sent = await channels.post(
        f"/api/v1/conversations/{conversation}/reply",
        json={"text": "العقد", "attachments": [stored.id]},
        headers=headers,
    )
    failed = await _status(channels, int((await sent.json())["id"]), "failed")
    assert receiver.on("replies") == []
    assert "cannot carry files" in (failed.delivery_error or "")
