"""Telegram through python-telegram-bot: webhook or long polling in, Bot API calls out.

Settings (``TELEGRAM_*``): ``TOKEN``; ``MODE`` ``webhook`` (default) or ``polling``;
``WEBHOOK_SECRET`` (checked against ``X-Telegram-Bot-Api-Secret-Token``); ``WEBHOOK_URL`` (the
public URL of ``/channels/telegram/webhook``; registered at start-up when set); ``API_URL`` and
``FILE_URL`` (a Bot API server other than api.telegram.org); ``POLL_TIMEOUT``;
``MAX_RETRY_AFTER`` (longest 429 wait taken in-line; longer ones hold the reply, queued).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any, NoReturn, TypeVar

from aiohttp import web
from telegram import Bot, InputFile, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ChatType, MessageLimit
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from connectors.base import BlockedHook, Connector
from core.files import FileMissing
from core.runtime import PermanentDeliveryError, RetryLater
from core.types import Attachment, InboundMessage, OutboundMessage, Receipt

log = logging.getLogger(__name__)

# Opt in to PTB's coming timedelta durations: without it, building the RetryAfter error for a
# 429 emits a deprecation warning. Our code reads both forms.
os.environ.setdefault("PTB_TIMEDELTA", "true")

T = TypeVar("T")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # the Bot API's getFile limit
ALLOWED_UPDATES = ["message", "edited_message", "my_chat_member"]
LinkHook = Callable[[str, str, str], Awaitable[None]]
# Telegram recompresses photos; these go as photos, everything else as documents.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
PHOTO_MAX_BYTES = 10 * 1024 * 1024


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _safe_cut(text: str, cut: int) -> int:
    """Move a cut left so it never separates a letter from its marks (harakat, ZWJ)."""
    while cut > 1 and (unicodedata.combining(text[cut]) or text[cut] in "\u200c\u200d\ufe0f"):
        cut -= 1
    return cut


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split at paragraph, line or word breaks so each part fits Telegram's limit."""
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        # The longest prefix within the limit, counted in UTF-16 units.
        units, end = 0, 0
        for i, ch in enumerate(rest):
            units += 2 if ord(ch) > 0xFFFF else 1
            if units > limit:
                end = i
                break
        window = rest[:end]
        cut = -1
        for sep in ("\n\n", "\n", " "):
            pos = window.rfind(sep)
            if pos > end // 2:
                cut = pos
                break
        cut = cut if cut > 0 else _safe_cut(rest, end)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def refuse(status: type[web.HTTPError], code: str, message: str) -> NoReturn:
    """Stop the request with our JSON error body."""
    raise status(
        text=json.dumps({"error": {"code": code, "message": message}}),
        content_type="application/json",
    )


def _attachments(msg: Message) -> tuple[Attachment, ...]:
    """File metadata of a message: Telegram's file id, type, size and name."""
    found: list[Attachment] = []
    if msg.photo:
        best = max(msg.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        found.append(
            Attachment("photo", None, "image/jpeg", best.file_size, external_id=best.file_id)
        )
    for kind in ("document", "voice", "audio", "video", "video_note", "animation", "sticker"):
        media = getattr(msg, kind, None)
        if media is None:
            continue
        found.append(
            Attachment(
                kind,
                getattr(media, "file_name", None),
                getattr(media, "mime_type", None),
                media.file_size,
                external_id=media.file_id,
            )
        )
    return tuple(found)


def _text_of(msg: Message) -> str:
    """What the customer wrote, or a readable line for what they shared."""
    if msg.text is not None:
        return msg.text
    if msg.caption is not None:
        return msg.caption
    if msg.location is not None:
        return f"📍 {msg.location.latitude}, {msg.location.longitude}"
    if msg.contact is not None:
        return f"☎ {msg.contact.first_name} {msg.contact.phone_number}".strip()
    if msg.sticker is not None and msg.sticker.emoji:
        return msg.sticker.emoji
    if _attachments(msg):
        return ""
    return "[a Telegram message type the inbox cannot show]"


class TelegramConnector(Connector):
    """A Telegram bot's private chats; group chats are logged and left alone."""

    name = "telegram"
    carries_files = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        token = self.config.get("token", "")
        if not token:
            raise ValueError("TELEGRAM_TOKEN is required for the telegram channel")
        self.mode = self.config.get("mode", "webhook")
        if self.mode not in ("webhook", "polling"):
            raise ValueError("TELEGRAM_MODE must be webhook or polling")
        self.secret = self.config.get("webhook_secret", "")
        if self.secret and not SECRET_SHAPE.fullmatch(self.secret):
            raise ValueError("TELEGRAM_WEBHOOK_SECRET must be 1-256 of A-Z a-z 0-9 _ -")
        self.webhook_url = self.config.get("webhook_url", "")
        self.poll_timeout = int(self.config.get("poll_timeout", "25"))
        self.max_retry_after = float(self.config.get("max_retry_after", "30"))
        self.retry_delay = float(self.config.get("retry_seconds", "1"))
        self._requests = (
            HTTPXRequest(connection_pool_size=8),
            HTTPXRequest(read_timeout=self.poll_timeout + 10),
        )
        self.bot = Bot(
            token,
            base_url=self.config.get("api_url", "https://api.telegram.org/bot"),
            base_file_url=self.config.get("file_url", "https://api.telegram.org/file/bot"),
            request=self._requests[0],
            get_updates_request=self._requests[1],
        )
        self.on_link: LinkHook | None = None
        self.on_unblocked: BlockedHook | None = None
        self._task: asyncio.Task[None] | None = None
        # Parts of a split reply already accepted, so a retry does not send them twice.
        self._sent_parts: dict[int, list[int]] = {}

    def describe(self) -> dict[str, Any]:
        """Mode and bot name, never the token."""
        try:
            username: str | None = self.bot.username
        except RuntimeError:  # not initialised yet (getMe not called)
            username = None
        return {"name": self.name, "mode": self.mode, "bot": username}

    # --- inbound ---------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """``POST /webhook`` receives updates when Telegram pushes them."""
        return [web.post("/webhook", self._webhook)]

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not self.secret:
            refuse(web.HTTPForbidden, "webhook_disabled", "TELEGRAM_WEBHOOK_SECRET is not set")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("telegram webhook: wrong secret token from %s", request.remote)
            refuse(web.HTTPUnauthorized, "bad_secret", f"wrong {SECRET_HEADER}")
        body = await request.read()
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("an update is an object with an integer update_id")
            update = Update.de_json(data, self.bot)
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            refuse(web.HTTPBadRequest, "malformed_update", str(exc))
        created = await self.handle_update(update, data)
        return web.json_response({"ok": True, "stored": created})

    async def handle_update(self, update: Update, raw: dict[str, Any] | None = None) -> bool:
        """Hand one update to the pipeline; True when it stored a new message."""
        member = update.my_chat_member
        if member is not None and member.chat.type == ChatType.PRIVATE:
            status = member.new_chat_member.status
            hook = self.on_blocked if status == "kicked" else self.on_unblocked
            if status in ("kicked", "member") and hook is not None:
                await hook(self.name, str(member.from_user.id))
            return False
        msg = update.message or update.edited_message
        if msg is None:
            log.debug("telegram: ignoring update %s of another kind", update.update_id)
            return False
        if msg.chat.type != ChatType.PRIVATE:
            log.info("telegram: ignoring a message in %s chat %s", msg.chat.type, msg.chat.id)
            return False
        if msg.from_user is None or msg.from_user.is_bot:
            return False
        inbound = self.to_inbound(update, msg, raw if raw is not None else update.to_dict())
        result = await self.sink(inbound)
        payload = self._start_payload(msg)
        if payload and result.created and self.on_link is not None:
            try:
                await self.on_link(self.name, inbound.external_sender_id, payload)
            except Exception as exc:
                log.info("telegram: /start payload not linked: %s", exc)
        return result.created

    @staticmethod
    def _start_payload(msg: Message) -> str | None:
        """The deep-link payload of ``/start <payload>``."""
        text = msg.text or ""
        if not text.startswith("/start "):
            return None
        return text.split(maxsplit=1)[1].strip() or None

    def to_inbound(self, update: Update, msg: Message, raw: dict[str, Any]) -> InboundMessage:
        """Our view of a private-chat message; the chat and message ids are the dedupe key."""
        user = msg.from_user
        assert user is not None
        text = _text_of(msg)
        if self._start_payload(msg):
            text = "/start"  # the payload is a one-time link token: keep it off the timeline
        profile: dict[str, str] = {}
        if user.username:
            profile["username"] = user.username
        # Telegram vouches for a contact the user shares of themselves: a verified phone.
        if msg.contact is not None and msg.contact.user_id == user.id:
            profile["phone"] = "+" + msg.contact.phone_number.lstrip("+")
        reply_to = msg.reply_to_message
        return InboundMessage(
            channel=self.name,
            external_sender_id=str(user.id),
            external_message_id=f"{msg.chat.id}:{msg.message_id}",
            text=text,
            sender_name=user.full_name or None,
            attachments=_attachments(msg),
            sent_at=msg.date,
            reply_to_external_id=f"{msg.chat.id}:{reply_to.message_id}" if reply_to else None,
            raw={"update_id": update.update_id, "update": _scrub(raw)},
            sender_profile=profile,
            edited=update.edited_message is not None,
        )

    async def open_attachment(self, attachment: Attachment) -> bytes:
        """A customer's file, fetched from Telegram by its file id (for agents to download)."""
        if not attachment.external_id:
            raise FileMissing("this file has no Telegram file id")
        try:
            return await self.fetch_file(attachment.external_id)
        except (TelegramError, ValueError) as exc:
            raise FileMissing(f"Telegram did not give the file: {exc}") from exc

    async def fetch_file(self, file_id: str) -> bytes:
        """Download a customer's file by its Telegram file id (for the inbox to show it)."""
        file = await self.bot.get_file(file_id)
        if file.file_size is not None and file.file_size > MAX_DOWNLOAD_BYTES:
            raise ValueError(f"file {file_id} is larger than the Bot API lets us download")
        return bytes(await file.download_as_bytearray())

    # --- background work -------------------------------------------------------------------

    async def start(self) -> None:
        """Register the webhook, or start long polling, in the background."""
        if self.mode == "polling":
            self._task = asyncio.create_task(self._poll(), name="telegram-polling")
            return
        if not self.secret:
            log.warning("telegram: TELEGRAM_WEBHOOK_SECRET is not set; webhook updates are refused")
        if self.webhook_url:
            self._task = asyncio.create_task(self._register_webhook(), name="telegram-webhook")

    async def stop(self) -> None:
        """Stop polling and close the HTTP clients."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(TelegramError, RuntimeError):
            await self.bot.shutdown()
        # Bot.shutdown() skips a bot never initialised (webhook mode that only sent replies),
        # so close the HTTP clients ourselves.
        for request in self._requests:
            await request.shutdown()

    async def _register_webhook(self) -> None:
        """Point Telegram at our webhook with the secret token; retry until it answers."""
        delay = self.retry_delay
        while True:
            try:
                await self.bot.initialize()
                await self.bot.set_webhook(
                    self.webhook_url,
                    secret_token=self.secret or None,
                    allowed_updates=ALLOWED_UPDATES,
                )
                log.info("telegram: webhook registered for @%s", self.bot.username)
                return
            except TelegramError as exc:
                log.warning("telegram: setWebhook failed (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 300)

    async def _poll(self) -> None:
        """Long polling for development behind NAT; the offset confirms handled updates."""
        offset: int | None = None
        delay = self.retry_delay
        while True:
            try:
                if offset is None:
                    await self.bot.initialize()
                    await self.bot.delete_webhook()
                    offset = 0
                updates = await self.bot.get_updates(
                    offset=offset or None,
                    timeout=timedelta(seconds=self.poll_timeout),
                    allowed_updates=ALLOWED_UPDATES,
                )
                for update in updates:
                    await self.handle_update(update)
                    offset = update.update_id + 1
                delay = self.retry_delay
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Unhandled updates stay unconfirmed; Telegram sends them again.
                log.warning("telegram polling failed (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)

    # --- outbound --------------------------------------------------------------------------

    async def typing(self, external_id: str) -> int:
        """``sendChatAction typing``: Telegram shows it for about five seconds."""
        try:
            await self.bot.send_chat_action(int(external_id), ChatAction.TYPING)
        except (ValueError, TelegramError) as exc:
            log.info("telegram: typing not shown to %s: %s", external_id, exc)
            return 0
        return 1

    async def _call(self, recipient: str, call: Callable[[], Awaitable[T]]) -> T:
        """One Bot API call: wait out short 429s, mark blocks, let the rest be retried."""
        for _ in range(5):
            try:
                return await call()
            except RetryAfter as exc:
                after = exc.retry_after
                wait = after.total_seconds() if isinstance(after, timedelta) else float(after)
                if wait > self.max_retry_after:
                    # Too long to hold the delivery worker: the reply waits, still queued.
                    reason = f"Telegram flood control: retry after {wait:.0f} s"
                    raise RetryLater(wait, reason) from exc
                log.info("telegram: flood control, waiting %.1f s", wait)
                await asyncio.sleep(wait)
            except Forbidden as exc:
                if self.on_blocked is not None:
                    await self.on_blocked(self.name, recipient)
                raise PermanentDeliveryError(f"the customer blocked the bot: {exc}") from exc
            except BadRequest as exc:
                raise PermanentDeliveryError(f"Telegram refused the message: {exc}") from exc
        raise ConnectionError("Telegram kept asking us to wait")

    @staticmethod
    def _thread(reply_to: int | None) -> ReplyParameters | None:
        """Thread under the customer's message, still sending if it was deleted."""
        if reply_to is None:
            return None
        return ReplyParameters(reply_to, allow_sending_without_reply=True)

    async def _send(self, message: OutboundMessage) -> Receipt:
        try:
            chat_id = int(message.recipient_id)
        except ValueError as exc:
            raise PermanentDeliveryError(f"not a Telegram chat id: {message.recipient_id}") from exc
        reply_to: int | None = None
        chat, _, mid = (message.reply_to_external_id or "").partition(":")
        if chat == str(chat_id) and mid.isdigit():
            reply_to = int(mid)
        try:
            return await self._send_parts(message, chat_id, reply_to)
        except PermanentDeliveryError:
            self._sent_parts.pop(message.message_id, None)
            raise

    async def _send_parts(
        self, message: OutboundMessage, chat_id: int, reply_to: int | None
    ) -> Receipt:
        """Send text parts then files, skipping those a previous attempt already sent."""
        # A text that fits Telegram's caption limit rides on the first file instead of going
        # alone; uploads go up as bytes (photos for JPEG/PNG, documents otherwise).
        done = self._sent_parts.setdefault(message.message_id, [])
        files = [a for a in message.attachments if a.key or a.external_id or a.url]
        text = message.text if message.text.strip() else ""
        caption = text if files and utf16_len(text) <= MessageLimit.CAPTION_LENGTH else None
        parts = split_text(text) if text and caption is None else []
        steps: list[Callable[[ReplyParameters | None], Awaitable[Message]]] = [
            partial(self._send_text, chat_id, part) for part in parts
        ]
        steps += [
            partial(self._send_file, chat_id, file, caption if index == 0 else None)
            for index, file in enumerate(files)
        ]
        for index, step in enumerate(steps):
            if index < len(done):
                continue
            thread = self._thread(reply_to if index == 0 else None)
            sent = await self._call(message.recipient_id, partial(step, thread))
            done.append(sent.message_id)
        ids = self._sent_parts.pop(message.message_id)
        if not ids:
            raise PermanentDeliveryError("nothing to send: no text and no sendable file")
        return Receipt(f"{chat_id}:{ids[0]}", {"telegram_message_ids": ids})

    async def _send_text(self, chat_id: int, text: str, thread: ReplyParameters | None) -> Message:
        """One text message."""
        return await self.bot.send_message(chat_id, text, reply_parameters=thread)

    async def _send_file(
        self,
        chat_id: int,
        file: Attachment,
        caption: str | None,
        thread: ReplyParameters | None,
    ) -> Message:
        """One file: an upload's bytes, or a file Telegram already has (id or URL)."""
        if file.key is None:
            doc = file.external_id or file.url or ""
            return await self.bot.send_document(
                chat_id, doc, caption=caption, reply_parameters=thread
            )
        data = await self.file_bytes(file)
        name = file.name or "file"
        if file.mime_type in PHOTO_TYPES and len(data) <= PHOTO_MAX_BYTES:
            return await self.bot.send_photo(
                chat_id, InputFile(data, filename=name), caption=caption, reply_parameters=thread
            )
        return await self.bot.send_document(
            chat_id, InputFile(data, filename=name), caption=caption, reply_parameters=thread
        )


def _scrub(raw: dict[str, Any]) -> dict[str, Any]:
    """The update without a ``/start`` link token (it grants a link to a customer)."""
    text = json.dumps(raw, ensure_ascii=False)
    if '"/start ' not in text:
        return raw
    scrubbed: dict[str, Any] = json.loads(text)
    for key in ("message", "edited_message"):
        msg = scrubbed.get(key)
        if isinstance(msg, dict) and str(msg.get("text", "")).startswith("/start "):
            msg["text"] = "/start"
    return scrubbed


async def _admin(command: str) -> int:
    """``me``, ``set-webhook``, ``delete-webhook`` or ``webhook-info`` with the env's settings."""
    from core.settings import Settings

    connector = TelegramConnector.from_settings(Settings().section("telegram"), _no_sink)
    bot = connector.bot
    async with bot:
        if command == "me":
            print(f"@{bot.username} (id {bot.id})")
        elif command == "set-webhook":
            if not connector.webhook_url or not connector.secret:
                print("set TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET first")
                return 2
            await bot.set_webhook(
                connector.webhook_url,
                secret_token=connector.secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            print(f"webhook set to {connector.webhook_url}")
        elif command == "delete-webhook":
            await bot.delete_webhook()
            print("webhook deleted (use TELEGRAM_MODE=polling)")
        elif command == "webhook-info":
            info = await bot.get_webhook_info()
            print(json.dumps(info.to_dict(), indent=2, default=str))
        else:
            print("commands: me, set-webhook, delete-webhook, webhook-info")
            return 2
    return 0


async def _no_sink(inbound: InboundMessage) -> Any:
    """Admin commands store nothing."""
    raise RuntimeError("the admin command does not receive messages")


if __name__ == "__main__":
    import sys

    raise SystemExit(asyncio.run(_admin(sys.argv[1] if len(sys.argv) > 1 else "")))
