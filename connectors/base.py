"""The connector seam: translate a channel's payloads to `InboundMessage` and back."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Self

from aiohttp import ClientSession, web

from core.actions import IngestResult
from core.files import (
    FileLinks,
    FileMissing,
    FileStore,
    LinkRefused,
    download_headers,
    served_type,
)
from core.runtime import PermanentDeliveryError
from core.shared import LocalShared, Shared
from core.types import Attachment, InboundMessage, OutboundMessage, Receipt

log = logging.getLogger(__name__)

InboundSink = Callable[[InboundMessage], Awaitable[IngestResult]]
BlockedHook = Callable[[str, str], Awaitable[None]]


class SendRefused(PermanentDeliveryError):
    """The base class refused to send (a private note, or already sent)."""


class Connector(ABC):
    """One channel. Connectors translate; they never touch the database.

    Subclasses set ``name`` and implement ``_send``; push channels return routes from
    ``routes()`` (mounted under ``/channels/<name>/``), pull channels run in ``start()``.
    """

    name: ClassVar[str]
    # True when typing() reaches only sessions the customer has open right now (a browser tab),
    # so it may be shown on such a channel even when replies go elsewhere.
    typing_is_live: ClassVar[bool] = False
    # Whether ``_send`` delivers files agents uploaded; a channel that cannot is refused
    # them with a visible reason instead of silently dropping them.
    carries_files: ClassVar[bool] = False

    def __init__(
        self,
        sink: InboundSink,
        config: Mapping[str, str] | None = None,
        http: ClientSession | None = None,
    ) -> None:
        self.sink = sink
        self.config = dict(config or {})
        self.http = http
        self.on_blocked: BlockedHook | None = None
        # Set by the app: where uploaded files live, and who signs links to them.
        self.files: FileStore | None = None
        self.links: FileLinks | None = None
        # Set by the app before start(): rate limits, replay guards and live connections agreed
        # with the service's other processes (this process's memory until then).
        self.shared: Shared = LocalShared()

    @classmethod
    def from_settings(
        cls, section: Mapping[str, str], sink: InboundSink, http: ClientSession | None = None
    ) -> Self:
        """Build from the channel's settings section (``<NAME>_*`` variables, lower-cased).

        Args:
            section: the channel's settings, keys without the prefix.
            sink: where inbound messages go (the pipeline's ``ingest``).
            http: a shared HTTP client session, for channels that call out.

        Returns:
            The connector.
        """
        return cls(sink, section, http)

    def routes(self) -> list[web.RouteDef]:
        """HTTP routes for push channels, relative to ``/channels/<name>``."""
        return []

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Start background work (polling); push channels need none."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop background work."""

    async def send(self, message: OutboundMessage) -> Receipt:
        """Send a stored outgoing message, refusing private notes and anything already sent.

        Args:
            message: the message to send.

        Returns:
            The channel's receipt with its message id.
        """
        if message.private:
            raise SendRefused("private notes never leave the inbox")
        if message.external_message_id:
            raise SendRefused(f"message {message.message_id} was already sent")
        if not self.carries_files and any(a.key for a in message.attachments):
            raise PermanentDeliveryError(
                f"the {self.name} channel cannot carry files; send the text alone or use "
                "another channel"
            )
        return await self._send(message)

    async def typing(self, external_id: str) -> int:
        """Show the customer that an agent is writing; how many sessions got it (default none).

        Args:
            external_id: the customer's id on this channel.

        Returns:
            How many of the customer's sessions or chats were told.
        """
        return 0

    async def file_bytes(self, attachment: Attachment) -> bytes:
        """The bytes of an uploaded file, for channels that send them along."""
        if attachment.key is None or self.files is None:
            raise PermanentDeliveryError(f"the file {attachment.name!r} is not in the file store")
        try:
            return await self.files.open(attachment.key)
        except FileMissing as exc:
            raise PermanentDeliveryError(f"the file {attachment.name!r} is gone") from exc

    @abstractmethod
    async def _send(self, message: OutboundMessage) -> Receipt:
        """The channel's own send."""

    async def serve_signed_file(self, request: web.Request) -> web.Response:
        """``GET files/{key}`` without a login: only with an unexpired link this channel signed."""
        key = request.match_info["key"]
        try:
            if self.links is None or self.files is None:
                raise FileMissing("this service keeps no files")
            self.links.check(self.name, key, dict(request.query))
            data = await self.files.open(key)
        except (LinkRefused, FileMissing) as exc:
            return web.json_response(
                {"error": {"code": exc.code, "message": exc.message}}, status=exc.http_status
            )
        name = request.query["name"]
        content_type = served_type(data, name)
        inline = request.query.get("inline") == "1"
        return web.Response(body=data, headers=download_headers(name, content_type, inline=inline))

    def describe(self) -> dict[str, Any]:
        """What the admin UI shows about this channel."""
        return {"name": self.name}
