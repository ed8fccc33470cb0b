"""A real in-memory channel: for development, demos and every test that needs "a channel"."""

from __future__ import annotations

import itertools
import json
from collections import deque
from typing import Any

from aiohttp import web

from connectors.base import Connector
from core.settings import is_loopback
from core.types import InboundMessage, OutboundMessage, Receipt

SENT_KEPT = 1000


class MemoryConnector(Connector):
    """Keeps what it sends in a list; takes inbound messages from code or a dev route."""

    name = "memory"
    carries_files = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Bounded: a long-running development service must not grow without limit.
        self.sent: deque[OutboundMessage] = deque(maxlen=SENT_KEPT)
        # message id -> (file name, bytes) of every uploaded file it carried
        self.files_sent: dict[int, list[tuple[str, bytes]]] = {}
        self.fail_next: list[Exception] = []
        self._ids = itertools.count(1)

    async def receive(
        self, sender: str, message_id: str, text: str, name: str | None = None
    ) -> Any:
        """Deliver a customer message as if it arrived on this channel."""
        return await self.sink(InboundMessage("memory", sender, message_id, text, sender_name=name))

    async def _send(self, message: OutboundMessage) -> Receipt:
        if self.fail_next:
            raise self.fail_next.pop(0)
        files = [(a.name or "", await self.file_bytes(a)) for a in message.attachments if a.key]
        if files:
            self.files_sent[message.message_id] = files
        self.sent.append(message)
        return Receipt(f"mem-out-{next(self._ids)}")

    def routes(self) -> list[web.RouteDef]:
        """``POST inbound`` to play the customer, ``GET outbox`` to read what was sent."""
        return [web.post("/inbound", self._inbound), web.get("/outbox", self._outbox)]

    @staticmethod
    def _local_only(request: web.Request) -> None:
        """The dev routes let anyone play any customer: only this machine, never via a proxy."""
        proxied = any(h in request.headers for h in ("Forwarded", "X-Forwarded-For"))
        if proxied or not is_loopback(request.remote or ""):
            raise web.HTTPForbidden(
                text=json.dumps(
                    {
                        "error": {
                            "code": "local_only",
                            "message": "the memory channel answers this machine only",
                        }
                    }
                ),
                content_type="application/json",
            )

    async def _inbound(self, request: web.Request) -> web.Response:
        self._local_only(request)
        try:
            body = await request.json()
            sender, message_id, text = str(body["sender"]), str(body["message_id"]), body["text"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": {"code": "bad_payload", "message": str(exc)}}),
                content_type="application/json",
            ) from exc
        if not isinstance(text, str):
            raise web.HTTPBadRequest(
                text='{"error": {"code": "bad_payload", "message": "text must be a string"}}',
                content_type="application/json",
            )
        result = await self.receive(sender, message_id, text, body.get("name"))
        return web.json_response(
            {
                "message_id": result.message_id,
                "conversation_id": result.conversation_id,
                "customer_id": result.customer_id,
                "created": result.created,
            },
            status=201 if result.created else 200,
        )

    async def _outbox(self, request: web.Request) -> web.Response:
        self._local_only(request)
        return web.json_response(
            [
                {
                    "message_id": m.message_id,
                    "recipient_id": m.recipient_id,
                    "text": m.text,
                    "reply_to": m.reply_to_external_id,
                    "attachments": [a.to_dict() for a in m.attachments],
                }
                for m in self.sent
            ]
        )
