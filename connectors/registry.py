"""Channel names to connector classes, and the set of live connectors that sends replies."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import ClientSession

from connectors.base import Connector, InboundSink
from connectors.email import EmailConnector
from connectors.memory import MemoryConnector
from connectors.telegram import TelegramConnector
from connectors.webchat import WebchatConnector
from connectors.webhook import WebhookConnector
from core.runtime import PermanentDeliveryError
from core.types import OutboundMessage, Receipt

CONNECTORS: dict[str, type[Connector]] = {
    MemoryConnector.name: MemoryConnector,
    EmailConnector.name: EmailConnector,
    WebchatConnector.name: WebchatConnector,
    TelegramConnector.name: TelegramConnector,
    WebhookConnector.name: WebhookConnector,
}


class Connectors:
    """The enabled connectors by name; sends each reply through its own channel."""

    def __init__(self, connectors: Mapping[str, Connector]) -> None:
        self.by_name = dict(connectors)

    @classmethod
    def build(
        cls,
        names: list[str],
        sections: Mapping[str, Mapping[str, str]],
        sink: InboundSink,
        http: ClientSession | None = None,
    ) -> Connectors:
        """Instantiate the named connectors from their settings sections."""
        unknown = [n for n in names if n not in CONNECTORS]
        if unknown:
            raise ValueError(
                f"unknown channel(s): {', '.join(unknown)}; known: {sorted(CONNECTORS)}"
            )
        return cls({n: CONNECTORS[n].from_settings(sections.get(n, {}), sink, http) for n in names})

    def __getitem__(self, name: str) -> Connector:
        return self.by_name[name]

    async def send(self, message: OutboundMessage) -> Receipt:
        """Route a reply to its channel's connector."""
        connector = self.by_name.get(message.channel)
        if connector is None:
            raise PermanentDeliveryError(f"channel {message.channel!r} is not enabled")
        return await connector.send(message)

    async def start(self) -> None:
        """Start every connector's background work."""
        for c in self.by_name.values():
            await c.start()

    async def stop(self) -> None:
        """Stop every connector's background work."""
        for c in self.by_name.values():
            await c.stop()
