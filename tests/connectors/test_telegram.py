"""Telegram: webhook and polling in, Bot API out, against a local stand-in of the Bot API."""

from __future__ import annotations

import asyncio
import json
import logging
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

import core.delivery
from connectors.telegram import TelegramConnector, split_text, utf16_len
from connectors.telegram import _admin as telegram_admin
from core.actions import do_reply
from core.identity_links import link_token
from core.models import Customer, Identity, Message, utcnow
from core.types import Attachment
from inbox.app import create_app
from inbox.keys import CONNECTORS, FILES, RUNTIME
from tests.connectors.bot_api import BotApi
from tests.connectors.conftest import post_update, tg_fixture
from tests.inbox.conftest import Client, eventually, login_as, memory

CUSTOMER = "777000111"


async def stored(client: Client) -> list[Message]:
    """Every stored customer message, oldest first."""
    async with client.app[RUNTIME].sessions() as session:
        query = select(Message).where(Message.kind == "incoming").order_by(Message.id)
        return list((await session.execute(query)).scalars().all())


async def identity(client: Client, external_id: str = CUSTOMER) -> Identity | None:
    """The Telegram identity of a chat."""
    async with client.app[RUNTIME].sessions() as session:
        query = select(Identity).where(
            Identity.channel == "telegram", Identity.external_id == external_id
        )
        return (await session.execute(query)).scalar_one_or_none()


async def reply(client: Client, text: str) -> int:
    """Have an agent answer the customer's conversation; return the reply's id."""
    headers = await login_as(client, "sara")
    conv = (await stored(client))[-1].conversation_id
    resp = await client.post(
        f"/api/v1/conversations/{conv}/reply", json={"text": text}, headers=headers
    )
    assert resp.status in (200, 201), await resp.text()
    return int((await resp.json())["id"])


async def reply_to(client: Client, chat: str, text: str) -> int:
    """Have an agent answer the conversation of one Telegram chat; return the reply's id."""
    found = await identity(client, chat)
    assert found is not None
    async with client.app[RUNTIME].sessions() as session:
        query = select(Message.conversation_id).where(Message.customer_id == found.customer_id)
        conv = (await session.execute(query.limit(1))).scalar_one()
    message = await do_reply(client.app[RUNTIME], conv, text, agent_id=None)
    return message.id


async def delivery(client: Client, message_id: int, status: str) -> Message:
    """Wait for a reply to reach a delivery status."""

    async def check() -> Message | None:
        async with client.app[RUNTIME].sessions() as session:
            message = await session.get(Message, message_id)
        return message if message is not None and message.delivery_status == status else None

    result: Message = await eventually(check, within=10)
    return result


# --- inbound ----------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["wrong-secret", None], ids=["wrong", "missing"])
async def test_webhook_without_the_right_secret_is_refused(
    channels: Client, secret: str | None
) -> None:
    """An update without the registered secret token is a 401 and stores nothing."""
    resp = await post_update(channels, tg_fixture("private_text"), secret=secret)
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "bad_secret"
    assert await stored(channels) == []


async def test_attachments_keep_file_id_type_size_and_name(channels: Client) -> None:
    """Photos (largest size), documents and voice notes are stored as attachment metadata."""
    for name in ("photo_caption", "document", "voice"):
        assert (await post_update(channels, tg_fixture(name))).status == 200
    photo, document, voice = await stored(channels)
    assert photo.text == "الكرتون وصل مكسور"
    assert photo.attachments[0]["kind"] == "photo"
    assert photo.attachments[0]["external_id"] == "AgACAgQAAxkBAAIBY2Large"
    assert photo.attachments[0]["size"] == 98312
    assert document.attachments[0] == {
        "kind": "document",
        "name": "invoice-1042.pdf",
        "mime_type": "application/pdf",
        "size": 48213,
        "url": None,
        "external_id": "BQACAgQAAxkBAAIBZGInvoice",
    }
    assert voice.attachments[0]["kind"] == "voice"
    assert voice.attachments[0]["mime_type"] == "audio/ogg"
    assert len({m.conversation_id for m in (photo, document, voice)}) == 1


async def test_edited_message_is_an_edit_not_a_new_message(channels: Client) -> None:
    """An edit replaces the text of the same message and keeps the earlier wording."""
    await post_update(channels, tg_fixture("private_text"))
    await post_update(channels, tg_fixture("edited_message"))
    await post_update(channels, tg_fixture("edited_message"))  # redelivered edit
    (message,) = await stored(channels)
    assert "1043" in message.text
    edits = message.meta["edits"]
    assert len(edits) == 1 and "1042" in edits[0]["text"]


async def test_group_chats_are_ignored_politely(
    channels: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A group message is answered 200 (so Telegram stops resending), logged, not stored."""
    caplog.set_level(logging.INFO, logger="connectors.telegram")
    resp = await post_update(channels, tg_fixture("group_message"))
    assert resp.status == 200
    assert await stored(channels) == []
    assert "supergroup" in caplog.text


async def test_start_deep_link_joins_the_web_chat_customer(channels: Client) -> None:
    """``/start <token>`` links the Telegram identity to the customer the token names."""
    web = await memory(channels).receive("webchat-visitor", "w-1", "hi from the widget", "Omar")
    secret = channels.app[RUNTIME].settings.secret_key.get_secret_value()
    update = tg_fixture("start_deep_link")
    update["message"]["text"] = f"/start {link_token(secret, web.customer_id)}"
    assert (await post_update(channels, update)).status == 200
    linked = await identity(channels, "777000222")
    assert linked is not None and linked.customer_id == web.customer_id
    start = (await stored(channels))[-1]
    assert start.text == "/start"
    assert "_" not in json.dumps(start.meta["raw"]["update"]["message"]["text"])


async def test_forged_deep_link_links_nothing(channels: Client) -> None:
    """A token not signed by us leaves the Telegram identity on its own customer."""
    web = await memory(channels).receive("webchat-visitor", "w-1", "hi", "Omar")
    update = tg_fixture("start_deep_link")
    update["message"]["text"] = f"/start c{web.customer_id}_ffffffff_{'0' * 24}"
    assert (await post_update(channels, update)).status == 200
    linked = await identity(channels, "777000222")
    assert linked is not None and linked.customer_id != web.customer_id


async def test_shared_own_contact_links_by_verified_phone(channels: Client) -> None:
    """A user sharing their own contact links to the customer with that phone."""
    async with channels.app[RUNTIME].sessions() as session:
        known = Customer(display_name="Layla", phone="+966501234567", attributes={})
        session.add(known)
        await session.commit()
    assert (await post_update(channels, tg_fixture("contact_own"))).status == 200
    linked = await identity(channels)
    assert linked is not None and linked.customer_id == known.id


async def test_kicking_the_bot_marks_the_identity_blocked(channels: Client) -> None:
    """A ``my_chat_member`` update with status kicked marks the identity blocked."""
    await post_update(channels, tg_fixture("private_text"))
    await post_update(channels, tg_fixture("my_chat_member_kicked"))
    found = await identity(channels)
    assert found is not None and found.blocked


async def test_restarting_the_bot_clears_the_block(channels: Client) -> None:
    """A ``my_chat_member`` update back to member lifts the block."""
    await post_update(channels, tg_fixture("private_text"))
    kicked = tg_fixture("my_chat_member_kicked")
    await post_update(channels, kicked)
    kicked["update_id"] += 1
    member = kicked["my_chat_member"]
    member["old_chat_member"], member["new_chat_member"] = (
        member["new_chat_member"],
        {"user": member["old_chat_member"]["user"], "status": "member"},
    )
    assert (await post_update(channels, kicked)).status == 200
    found = await identity(channels)
    assert found is not None and not found.blocked


# --- outbound ---------------------------------------------------------------------------------


async def test_reply_is_threaded_to_the_customers_last_message(
    channels: Client, bot_api: BotApi
) -> None:
    """A reply quotes the customer's latest message and stores Telegram's message id."""
    await post_update(channels, tg_fixture("private_text"))
    reply_id = await reply(channels, "وصلنا طلبك")
    sent = await delivery(channels, reply_id, "sent")
    (call,) = bot_api.sent()
    assert call.params["chat_id"] == CUSTOMER
    assert json.loads(call.params["reply_parameters"])["message_id"] == 41
    assert sent.channel_message_id == f"{CUSTOMER}:5000"


async def test_429_waits_retry_after_then_sends_once(channels: Client, bot_api: BotApi) -> None:
    """Flood control: the message goes out once, no sooner than ``retry_after``."""
    await post_update(channels, tg_fixture("private_text"))
    bot_api.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    reply_id = await reply(channels, "لحظة من فضلك")
    await delivery(channels, reply_id, "sent")
    attempts = [c for c in bot_api.calls if c.method == "sendMessage"]
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0


def another_customer(chat_id: int = 777000333) -> dict[str, Any]:
    """A private-chat update from a second customer."""
    update = tg_fixture("private_text")
    update["update_id"] += 1000
    update["message"]["from"]["id"] = update["message"]["chat"]["id"] = chat_id
    return update


async def test_429_with_a_long_retry_after_holds_the_reply_not_the_worker(
    channels: Client, bot_api: BotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 60 s flood wait: the reply stays queued (the reason shown), another chat's reply goes
    out meanwhile on the same worker, and once 60 s have passed the reply is sent once."""
    rt = channels.app[RUNTIME]
    later: list[tuple[str, dict[str, Any], float]] = []

    async def note_later(queue: str, job: dict[str, Any], delay: float) -> None:
        later.append((queue, job, delay))

    monkeypatch.setattr(rt.bus, "enqueue_later", note_later)
    skipped = [timedelta(0)]
    monkeypatch.setattr(core.delivery, "utcnow", lambda: utcnow() + skipped[0])
    await post_update(channels, tg_fixture("private_text"))
    await post_update(channels, another_customer())
    bot_api.fail("sendMessage", 429, "Too Many Requests: retry after 60", retry_after=60)
    held_id = await reply_to(channels, CUSTOMER, "لحظة من فضلك")

    async def held() -> Message | None:
        async with rt.sessions() as session:
            message = await session.get(Message, held_id)
        return message if message is not None and message.deliver_after is not None else None

    waiting: Message = await eventually(held)
    assert waiting.delivery_status == "queued" and "retry after 60" in (
        waiting.delivery_error or ""
    )
    ((_, job, delay),) = later
    assert job == {"message_id": held_id} and 59 <= delay <= 60
    other_id = await reply_to(channels, "777000333", "أهلاً")
    await delivery(channels, other_id, "sent")
    assert [c.status for c in bot_api.calls if c.method == "sendMessage"] == [429, 200]

    skipped[0] = timedelta(seconds=61)
    await rt.bus.enqueue(*later[0][:2])
    sent = await delivery(channels, held_id, "sent")
    assert sent.delivery_error is None
    assert [c.params["text"] for c in bot_api.sent()] == ["أهلاً", "لحظة من فضلك"]


async def test_429_asking_to_wait_past_the_cap_fails_the_reply_visibly(
    channels: Client, bot_api: BotApi
) -> None:
    """A flood wait longer than DELIVERY_MAX_WAIT_SECONDS (1 h) fails the reply with the reason."""
    await post_update(channels, tg_fixture("private_text"))
    bot_api.fail("sendMessage", 429, "Too Many Requests: retry after 7200", retry_after=7200)
    reply_id = await reply(channels, "مرحبا")
    failed = await delivery(channels, reply_id, "failed")
    assert "gave up waiting: Telegram flood control" in (failed.delivery_error or "")
    assert bot_api.sent() == []


async def test_403_marks_the_identity_blocked_and_the_reply_failed(
    channels: Client, bot_api: BotApi
) -> None:
    """A blocked bot: the reply fails visibly, the identity is blocked, later replies refused."""
    await post_update(channels, tg_fixture("private_text"))
    bot_api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    reply_id = await reply(channels, "مرحبا")
    failed = await delivery(channels, reply_id, "failed")
    assert "blocked" in (failed.delivery_error or "")
    found = await identity(channels)
    assert found is not None and found.blocked
    headers = await login_as(channels, "huda")
    resp = await channels.post(
        f"/api/v1/conversations/{failed.conversation_id}/reply",
        json={"text": "again"},
        headers=headers,
    )
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "blocked"
    customer = await channels.get(f"/api/v1/customers/{failed.customer_id}", headers=headers)
    identities = (await customer.json())["identities"]
    assert [i["blocked"] for i in identities if i["channel"] == "telegram"] == [True]


async def test_network_errors_are_retried_then_sent_once(channels: Client, bot_api: BotApi) -> None:
    """A 502 from Telegram is retried with backoff; the customer gets the message once."""
    await post_update(channels, tg_fixture("private_text"))
    bot_api.fail("sendMessage", 502, "Bad Gateway")
    bot_api.fail("sendMessage", 500, "Internal Server Error")
    reply_id = await reply(channels, "تم")
    await delivery(channels, reply_id, "sent")
    assert [c.status for c in bot_api.calls if c.method == "sendMessage"] == [502, 500, 200]
    assert len(bot_api.sent()) == 1


async def test_network_errors_past_the_last_try_mark_the_reply_failed(
    aiohttp_client: Callable[..., Awaitable[Client]],
    sqlite_url: str,
    channel_env: Callable[..., Any],
    bot_api: BotApi,
) -> None:
    """When Telegram never recovers the reply is marked failed with the reason, not dropped."""
    client = await aiohttp_client(
        create_app(channel_env(sqlite_url, delivery_max_attempts=3), migrate=False)
    )
    await post_update(client, tg_fixture("private_text"))
    for _ in range(3):
        bot_api.fail("sendMessage", 502, "Bad Gateway")
    reply_id = await reply(client, "تم")
    failed = await delivery(client, reply_id, "failed")
    assert "gave up after retries" in (failed.delivery_error or "")
    assert bot_api.sent() == []


async def test_long_arabic_reply_is_split_and_only_the_first_part_threaded(
    channels: Client, bot_api: BotApi
) -> None:
    """A reply over 4096 characters goes out in parts that rebuild the text exactly."""
    await post_update(channels, tg_fixture("private_text"))
    sentence = "شُكْرًا لِتَوَاصُلِكُمْ مَعَنَا، سَنُتَابِعُ طَلَبَكُمْ فَوْرًا. "
    text = (sentence * 200).strip()
    headers = await login_as(channels, "sara")
    conv = (await stored(channels))[-1].conversation_id
    resp = await channels.post(
        f"/api/v1/conversations/{conv}/reply", json={"text": text[:10_000]}, headers=headers
    )
    assert resp.status in (200, 201), await resp.text()
    await delivery(channels, int((await resp.json())["id"]), "sent")
    parts = [c.params["text"] for c in bot_api.sent()]
    assert len(parts) == 3
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert " ".join(parts) == text[:10_000].strip()
    assert "reply_parameters" in bot_api.sent()[0].params
    assert all("reply_parameters" not in c.params for c in bot_api.sent()[1:])


async def test_agent_file_is_sent_as_a_document(channels: Client, bot_api: BotApi) -> None:
    """A file Telegram already has goes out through sendDocument by its id, text as caption."""
    await post_update(channels, tg_fixture("document"))
    conv = (await stored(channels))[-1].conversation_id
    assert conv is not None
    file = Attachment("document", "label.pdf", "application/pdf", 1200, external_id="BQAC-label")
    message = await do_reply(channels.app[RUNTIME], conv, "ملصق الشحنة", attachments=[file])
    await delivery(channels, message.id, "sent")
    assert bot_api.sent() == []
    (call,) = bot_api.sent("sendDocument")
    assert (call.params["document"], call.params["caption"]) == ("BQAC-label", "ملصق الشحنة")


PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(300) + b"\xff\xd9"


async def test_uploaded_files_reach_the_bot_api_as_bytes(channels: Client, bot_api: BotApi) -> None:
    """An agent's uploads go up as multipart bytes: a PDF as a document (with the text as its
    caption, threaded), a JPEG as a photo; the stand-in receives the very same bytes."""
    await post_update(channels, tg_fixture("private_text"))
    conv = (await stored(channels))[-1].conversation_id
    assert conv is not None
    files = channels.app[FILES]
    pdf = await files.put(PDF, "فاتورة.pdf", "application/pdf")
    photo = await files.put(JPEG, "الكرتون.jpg", "image/jpeg")
    message = await do_reply(
        channels.app[RUNTIME],
        conv,
        "الفاتورة والصورة",
        attachments=[pdf.attachment(), photo.attachment()],
    )
    sent = await delivery(channels, message.id, "sent")
    (doc,) = bot_api.sent("sendDocument")
    assert doc.params["document"] == {"filename": "فاتورة.pdf", "bytes": PDF}
    assert doc.params["caption"] == "الفاتورة والصورة"
    assert "reply_parameters" in doc.params
    (pic,) = bot_api.sent("sendPhoto")
    assert pic.params["photo"]["bytes"] == JPEG
    assert "caption" not in pic.params and "reply_parameters" not in pic.params
    assert bot_api.sent() == []
    assert (sent.channel_message_id or "").startswith(f"{CUSTOMER}:")


async def test_long_text_with_a_file_goes_as_text_then_file(
    channels: Client, bot_api: BotApi
) -> None:
    """Text past Telegram's caption limit is sent as a message of its own before the file."""
    await post_update(channels, tg_fixture("private_text"))
    conv = (await stored(channels))[-1].conversation_id
    assert conv is not None
    pdf = await channels.app[FILES].put(PDF, "شروط.pdf", "application/pdf")
    text = "الشروط والأحكام " * 80
    message = await do_reply(channels.app[RUNTIME], conv, text, attachments=[pdf.attachment()])
    await delivery(channels, message.id, "sent")
    assert [c.params["text"].strip() for c in bot_api.sent()] == [text.strip()]
    (doc,) = bot_api.sent("sendDocument")
    assert doc.params["document"]["bytes"] == PDF and "caption" not in doc.params


# --- start-up and polling ---------------------------------------------------------------------


async def test_start_up_registers_the_webhook_with_its_secret(
    aiohttp_client: Callable[..., Awaitable[Client]],
    sqlite_url: str,
    channel_env: Callable[..., Any],
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With ``TELEGRAM_WEBHOOK_URL`` set, start-up calls setWebhook with the secret token."""
    monkeypatch.setenv(
        "TELEGRAM_WEBHOOK_URL", "https://support.example.com/channels/telegram/webhook"
    )
    await aiohttp_client(create_app(channel_env(sqlite_url), migrate=False))
    await eventually(lambda: asyncio.sleep(0, bot_api.webhook))
    assert bot_api.webhook["url"] == "https://support.example.com/channels/telegram/webhook"
    assert bot_api.webhook["secret_token"] == "tg-webhook-secret-0123456789"


async def test_long_polling_stores_updates_once(
    aiohttp_client: Callable[..., Awaitable[Client]],
    sqlite_url: str,
    channel_env: Callable[..., Any],
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Polling drops any webhook, stores each update once and confirms it with the offset."""
    monkeypatch.setenv("TELEGRAM_MODE", "polling")
    monkeypatch.setenv("TELEGRAM_POLL_TIMEOUT", "1")
    bot_api.push_update(tg_fixture("private_text"))
    bot_api.push_update(tg_fixture("photo_caption"))
    client = await aiohttp_client(create_app(channel_env(sqlite_url), migrate=False))

    async def both() -> bool:
        return len(await stored(client)) == 2

    await eventually(both, within=10)
    bot_api.push_update(tg_fixture("private_text"))  # Telegram resending an update
    await eventually(lambda: asyncio.sleep(0, not bot_api.updates), within=10)
    await asyncio.sleep(0.2)
    assert len(await stored(client)) == 2
    assert any(c.method == "deleteWebhook" for c in bot_api.calls)
    offsets = [c.params.get("offset") for c in bot_api.calls if c.method == "getUpdates"]
    assert str(830001002 + 1) in offsets
    connector = client.app[CONNECTORS]["telegram"]
    assert isinstance(connector, TelegramConnector)
    assert connector.describe()["bot"] == "tawasul_test_bot"


# --- splitting --------------------------------------------------------------------------------


def test_split_keeps_short_text_whole() -> None:
    """Text within the limit is one part, unchanged."""
    assert split_text("مرحبا بك") == ["مرحبا بك"]


def test_split_counts_utf16_units_and_never_cuts_a_letter_from_its_marks() -> None:
    """Emoji count double; a cut without spaces never separates harakat from their letter."""
    text = "😀" * 3000
    parts = split_text(text)
    assert all(utf16_len(p) <= 4096 for p in parts) and "".join(parts) == text
    marked = "بِ" * 3000  # no spaces: the split must fall between letter+mark pairs
    parts = split_text(marked)
    assert "".join(parts) == marked
    assert all(not unicodedata.combining(p[0]) for p in parts)


async def test_stored_message_count_is_unchanged_by_refused_updates(channels: Client) -> None:
    """An update missing ``update_id`` is a 400 and stores nothing."""
    body = tg_fixture("private_text")
    del body["update_id"]
    resp = await post_update(channels, body)
    assert resp.status == 400
    async with channels.app[RUNTIME].sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0


async def test_admin_commands_check_the_token_and_register_the_webhook(
    channel_env: Callable[..., Any],
    bot_api: BotApi,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``python -m connectors.telegram me|set-webhook`` talk to the configured Bot API."""
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://support.example.com/tg")
    assert await telegram_admin("me") == 0
    assert "@tawasul_test_bot" in capsys.readouterr().out
    assert await telegram_admin("set-webhook") == 0
    assert bot_api.webhook["url"] == "https://support.example.com/tg"
    assert bot_api.webhook["secret_token"] == "tg-webhook-secret-0123456789"
    assert await telegram_admin("nonsense") == 2


async def test_a_split_reply_retried_midway_does_not_resend_the_first_part(
    channels: Client, bot_api: BotApi
) -> None:
    """A network error on part two retries from part two: the customer sees each part once."""
    await post_update(channels, tg_fixture("private_text"))
    bot_api.fail_after["sendMessage"] = 1
    bot_api.fail("sendMessage", 502, "Bad Gateway")
    text = ("كلمة " * 1200).strip()
    reply_id = await reply(channels, text)
    await delivery(channels, reply_id, "sent")
    attempts = [c for c in bot_api.calls if c.method == "sendMessage"]
    assert [c.status for c in attempts] == [200, 502, 200]
    parts = [c.params["text"] for c in bot_api.sent()]
    assert len(parts) == 2 and " ".join(parts) == text


async def test_customer_files_can_be_fetched_through_get_file(
    channels: Client, bot_api: BotApi
) -> None:
    """``fetch_file`` resolves a file id with getFile and downloads the bytes."""
    bot_api.files["BQAC-invoice"] = b"%PDF-1.7 invoice"
    connector = channels.app[CONNECTORS]["telegram"]
    assert isinstance(connector, TelegramConnector)
    assert await connector.fetch_file("BQAC-invoice") == b"%PDF-1.7 invoice"
    assert [c.params["file_id"] for c in bot_api.calls if c.method == "getFile"] == ["BQAC-invoice"]


async def test_unsupported_message_types_are_stored_readably(channels: Client) -> None:
    """A message type the inbox cannot show (a dice roll) still lands, with a readable line."""
    update = tg_fixture("private_text")
    del update["message"]["text"]
    update["message"]["dice"] = {"emoji": "🎲", "value": 4}
    assert (await post_update(channels, update)).status == 200
    (message,) = await stored(channels)
    assert message.text.startswith("[") and "Telegram" in message.text


def test_a_webhook_secret_telegram_would_refuse_stops_start_up() -> None:
    """A secret with characters setWebhook rejects is caught at start-up, not in a retry loop."""

    async def sink(_: Any) -> Any:
        raise AssertionError("not called")

    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        TelegramConnector.from_settings({"token": "1:x", "webhook_secret": "has spaces!"}, sink)


async def test_customers_telegram_file_downloads_for_agents(
    channels: Client, bot_api: BotApi
) -> None:
    """An inbound document is fetched from Telegram (getFile, then the file URL) for agents."""
    data = b"%PDF-1.4\n% invoice 1042\n%%EOF\n"
    document = tg_fixture("document")
    bot_api.files[document["message"]["document"]["file_id"]] = data
    await post_update(channels, document)
    message = (await stored(channels))[-1]
    headers = await login_as(channels, "sara")
    url = f"/api/v1/messages/{message.id}/files/0"
    resp = await channels.get(url, headers=headers)
    assert resp.status == 200, await resp.text()
    assert await resp.read() == data
    assert resp.headers["Content-Type"] == "application/pdf"
    assert "invoice-1042.pdf" in resp.headers["Content-Disposition"]
    assert (
        await channels.get(f"/api/v1/messages/{message.id}/files/1", headers=headers)
    ).status == 404
    channels.session.cookie_jar.clear()
    assert (await channels.get(url)).status == 401
