"""What every action needs: the database, the bus, settings, the pipeline steps, the sender."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from core.bus import Bus
from core.db import Sessions
from core.settings import Settings
from core.types import OutboundMessage, Receipt

if TYPE_CHECKING:
    from core.pipeline import Step


class Sender(Protocol):
    """Sends an outbound message through the named channel (the connector registry)."""

    async def send(self, message: OutboundMessage) -> Receipt:
        """Send, returning the channel's receipt; raise to have the delivery retried."""
        ...


class PermanentDeliveryError(Exception):
    """A send that will never succeed (blocked by the user, unknown chat): do not retry."""


class RetryLater(Exception):
    """The channel asked us to wait before sending again (e.g. a 429 with ``retry_after``).

    The delivery worker keeps the message queued until then without holding its queue, and
    does not count it as a failed attempt.
    """

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"the channel asked to wait {seconds:.0f} s")
        self.seconds = max(0.0, float(seconds))


@dataclass(slots=True)
class Runtime:
    """The live parts an action works with; built once by the app factory."""

    sessions: Sessions
    bus: Bus
    settings: Settings
    steps: Sequence[Step] = ()
    sender: Sender | None = None
    on_blocked: list[Callable[[str, str], Awaitable[None]]] = field(default_factory=list)
    # Each removes the stored file with this sha256 hex digest wherever it keeps it (the
    # upload store, the email channel's blobs) and answers how many files it removed.
    file_erasers: list[Callable[[str], Awaitable[int]]] = field(default_factory=list)
