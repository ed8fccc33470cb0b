"""The generic webhook channel: any system posts signed JSON messages in and gets replies out.

Each integration has a key (``WEBHOOK_KEYS=shop,crm``) with its own secret
(``WEBHOOK_SHOP_SECRET``) and, for replies, a URL (``WEBHOOK_SHOP_REPLY_URL``). Inbound is
``POST /channels/webhook/<key>`` signed with the scheme in `core.webhooks`.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, NoReturn

from aiohttp import ClientError, ClientTimeout, web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.base import Connector
from core.runtime import PermanentDeliveryError
from core.types import Attachment, InboundMessage, OutboundMessage, Receipt
from core.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE_SECONDS,
    USER_AGENT,
    SignatureError,
    signed_headers,
    verify,
)

log = logging.getLogger(__name__)

MAX_TEXT = 20_000
MAX_ATTACHMENTS = 20


class SenderIn(BaseModel):
    """Who wrote: the integration's own user id, and what it knows about them."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    # Only details the integration vouches for link to an existing customer.
    email_verified: bool = False
    phone_verified: bool = False


class AttachmentIn(BaseModel):
    """A file the integration hosts."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(default="file", max_length=32)
    url: str | None = Field(default=None, max_length=2000)
    name: str | None = Field(default=None, max_length=255)
    mime_type: str | None = Field(default=None, max_length=100)
    size: int | None = Field(default=None, ge=0)
    id: str | None = Field(default=None, max_length=200)


class MessageIn(BaseModel):
    """One customer message posted by an integration."""

    model_config = ConfigDict(extra="forbid")

    sender: SenderIn
    message_id: str = Field(min_length=1, max_length=200)
    text: str = Field(default="", max_length=MAX_TEXT)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    timestamp: datetime | None = None
    reply_to: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=16)
    metadata: dict[str, Any] = Field(default_factory=dict)


def refuse(status: type[web.HTTPError], code: str, message: str, **extra: Any) -> NoReturn:
    """Stop the request with our JSON error body."""
    raise status(
        text=json.dumps({"error": {"code": code, "message": message, **extra}}, ensure_ascii=False),
        content_type="application/json",
    )


class WebhookConnector(Connector):
    """Signed JSON in, signed JSON replies out, one key and secret per integration."""

    name = "webhook"
    carries_files = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keys = [k.strip() for k in self.config.get("keys", "").split(",") if k.strip()]
        self.secrets: dict[str, str] = {}
        self.reply_urls: dict[str, str] = {}
        for key in keys:
            secret = self.config.get(f"{key.lower()}_secret", "")
            if len(secret) < 16:
                raise ValueError(f"WEBHOOK_{key.upper()}_SECRET must be at least 16 characters")
            self.secrets[key] = secret
            if url := self.config.get(f"{key.lower()}_reply_url"):
                self.reply_urls[key] = url
        self.timeout = float(self.config.get("timeout_seconds", "10"))

    def routes(self) -> list[web.RouteDef]:
        """``POST /<channel_key>`` takes a signed message; ``GET files/<key>`` a linked file."""
        return [
            web.post("/{channel_key}", self._inbound),
            web.get("/files/{key}", self.serve_signed_file),
        ]

    def describe(self) -> dict[str, Any]:
        """The integrations configured, without their secrets."""
        return {"name": self.name, "keys": sorted(self.secrets), "replies": sorted(self.reply_urls)}

    async def _inbound(self, request: web.Request) -> web.Response:
        key = request.match_info["channel_key"]
        secret = self.secrets.get(key)
        if secret is None:
            refuse(web.HTTPNotFound, "unknown_channel", f"no webhook channel {key!r}")
        body = await request.read()
        try:
            verify(
                secret,
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                body,
            )
        except SignatureError as exc:
            log.warning("webhook %s: refused a request: %s", key, exc.code)
            refuse(web.HTTPUnauthorized, exc.code, exc.message)
        # Remembered past the freshness window (a later replay fails the timestamp check), in
        # `shared`: a replay to another process of the service is refused too.
        signed = f"{self.name}:replay:{key}:{request.headers[SIGNATURE_HEADER]}"
        if not await self.shared.first_time(signed, 2 * TOLERANCE_SECONDS):
            refuse(web.HTTPConflict, "replayed", "this exact signed request was already received")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            refuse(web.HTTPBadRequest, "malformed_json", f"body is not JSON: {exc}")
        if not isinstance(data, dict):
            refuse(web.HTTPBadRequest, "malformed_json", "body must be a JSON object")
        try:
            msg = MessageIn.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)
            )
            refuse(web.HTTPUnprocessableEntity, "validation_error", problems)
        if not msg.text.strip() and not msg.attachments:
            refuse(web.HTTPUnprocessableEntity, "validation_error", "text or attachments needed")
        result = await self.sink(self.to_inbound(key, msg, data))
        return web.json_response(
            {
                "message_id": result.message_id,
                "conversation_id": result.conversation_id,
                "customer_id": result.customer_id,
                "created": result.created,
            },
            status=201 if result.created else 200,
        )

    def to_inbound(self, key: str, msg: MessageIn, raw: dict[str, Any]) -> InboundMessage:
        """Our view of an integration's message; ids are namespaced by the channel key."""
        profile: dict[str, str] = {}
        if msg.sender.email and msg.sender.email_verified:
            profile["email"] = msg.sender.email.strip().lower()
        if msg.sender.phone and msg.sender.phone_verified:
            profile["phone"] = msg.sender.phone.strip()
        sent_at = msg.timestamp
        if sent_at is not None and sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=UTC)
        return InboundMessage(
            channel=self.name,
            external_sender_id=f"{key}:{msg.sender.id}",
            external_message_id=f"{key}:{msg.message_id}",
            text=msg.text,
            sender_name=msg.sender.name,
            attachments=tuple(
                Attachment(
                    kind=a.kind,
                    name=a.name,
                    mime_type=a.mime_type,
                    size=a.size,
                    url=a.url,
                    external_id=a.id,
                )
                for a in msg.attachments
            ),
            sent_at=sent_at,
            language=msg.language,
            reply_to_external_id=f"{key}:{msg.reply_to}" if msg.reply_to else None,
            raw={"channel_key": key, **raw},
            sender_profile=profile,
        )

    def _attachment_out(self, file: Attachment, recipient: str) -> dict[str, Any]:
        """A file in a reply payload; an upload gets an expiring URL signed for the recipient."""
        # Absolute when PUBLIC_URL is set; valid for FILE_LINK_TTL_SECONDS.
        data = file.to_dict()
        if file.key is not None:
            if self.links is None:
                raise PermanentDeliveryError("the webhook channel cannot link files yet")
            name = file.name or "file"
            data["url"] = self.links.url("/channels/webhook/files", self.name, file.key,
                                         recipient, name)  # fmt: skip
            data["url_expires_in"] = self.links.ttl_seconds
        return data

    async def _send(self, message: OutboundMessage) -> Receipt:
        key, _, sender = message.recipient_id.partition(":")
        url = self.reply_urls.get(key)
        secret = self.secrets.get(key)
        if not sender or url is None or secret is None:
            raise PermanentDeliveryError(f"webhook channel {key!r} has no reply URL configured")
        reply_to = message.reply_to_external_id or ""
        body = json.dumps(
            {
                "id": message.message_id,
                "channel_key": key,
                "recipient": {"id": sender},
                "text": message.text,
                "attachments": [
                    self._attachment_out(a, message.recipient_id) for a in message.attachments
                ],
                "reply_to": reply_to.partition(":")[2] or None,
                "language": message.language,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            # The same id on every retry, so the integration can drop a repeat.
            DELIVERY_HEADER: f"message-{message.message_id}",
            "Idempotency-Key": f"message-{message.message_id}",
            **signed_headers(secret, body),
        }
        if self.http is None:
            raise RuntimeError("the webhook channel has no HTTP session yet")
        try:
            async with self.http.post(
                url, data=body, headers=headers, timeout=ClientTimeout(total=self.timeout)
            ) as resp:
                text = await resp.text(errors="replace")
                if 200 <= resp.status < 300:
                    try:
                        answer = json.loads(text) if text else {}
                    except json.JSONDecodeError:
                        answer = {}
                    their_id = answer.get("message_id") if isinstance(answer, dict) else None
                    return Receipt(f"{key}:{their_id or f'out-{message.message_id}'}")
                if resp.status in (408, 425, 429) or resp.status >= 500:
                    raise ConnectionError(f"HTTP {resp.status} from {key}: {text[:200]}")
                raise PermanentDeliveryError(f"HTTP {resp.status} from {key}: {text[:200]}")
        except ClientError as exc:
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
