"""The connector seam: translate a channel's payloads to `InboundMessage` and back."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Self

from aiohttp import ClientSession, web

from core.actions import IngestResult
from core.runtime import PermanentDeliveryError
from core.types import InboundMessage, OutboundMessage, Receipt

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
        return await self._send(message)

    async def typing(self, external_id: str) -> int:
        """Show the customer that an agent is writing; how many sessions got it (default none).

        Args:
            external_id: the customer's id on this channel.

        Returns:
            How many of the customer's sessions or chats were told.
        """
        return 0

    @abstractmethod
    async def _send(self, message: OutboundMessage) -> Receipt:
        """The channel's own send."""

    def describe(self) -> dict[str, Any]:
        """What the admin UI shows about this channel."""
        return {"name": self.name}
