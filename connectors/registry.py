"""Channel names to connector classes, and the set of live connectors that sends replies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence

from aiohttp import ClientSession

from connectors.base import Connector, InboundSink
from connectors.email import EmailConnector
from connectors.memory import MemoryConnector
from connectors.telegram import TelegramConnector
from connectors.webchat import WebchatConnector
from connectors.webhook import WebhookConnector
from core.runtime import PermanentDeliveryError
from core.types import OutboundMessage, Receipt

log = logging.getLogger(__name__)

TYPING_INTERVAL_SECONDS = 2.0
TYPING_TIMEOUT_SECONDS = 3.0

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
        self._typing_sent: dict[tuple[str, str], float] = {}

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

    async def typing(self, identities: Sequence[tuple[str, str]], reply_channel: str | None) -> int:
        """Show "typing" where the customer will see the reply; how many sessions got it.

        ``identities`` are the customer's ``(channel, external id)``, most recent first. The
        reply channel's latest identity is told, and every identity on a channel whose typing
        reaches only open sessions (a web chat tab). Each identity is told at most once per
        ``TYPING_INTERVAL_SECONDS``, however often agents' keystrokes ask.
        """
        chosen: list[tuple[Connector, str]] = []
        reply_seen = False
        for channel, external_id in identities:
            connector = self.by_name.get(channel)
            if connector is None:
                continue
            is_reply = channel == reply_channel and not reply_seen
            reply_seen = reply_seen or is_reply
            if is_reply or connector.typing_is_live:
                chosen.append((connector, external_id))
        now = time.monotonic()
        due = [
            (c, ext)
            for c, ext in chosen
            if now - self._typing_sent.get((c.name, ext), -TYPING_INTERVAL_SECONDS)
            >= TYPING_INTERVAL_SECONDS
        ]
        for c, ext in due:
            self._typing_sent[(c.name, ext)] = now
        if len(self._typing_sent) > 10_000:
            self._typing_sent = {
                k: v for k, v in self._typing_sent.items() if now - v < TYPING_INTERVAL_SECONDS
            }
        if not due:
            return 0
        results = await asyncio.gather(
            *(self._typing_one(c, ext) for c, ext in due), return_exceptions=True
        )
        return sum(r for r in results if isinstance(r, int))

    @staticmethod
    async def _typing_one(connector: Connector, external_id: str) -> int:
        """One channel's typing signal; a slow or failing channel only loses the hint."""
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(connector.typing(external_id), TYPING_TIMEOUT_SECONDS)
        log.info("typing on %s timed out", connector.name)
        return 0

    async def start(self) -> None:
        """Start every connector's background work."""
        for c in self.by_name.values():
            await c.start()

    async def stop(self) -> None:
        """Stop every connector's background work."""
        for c in self.by_name.values():
            await c.stop()
