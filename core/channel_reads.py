"""Read-only look-ups a connector may need, handed to it by the app (connectors hold no DB)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, cast, select

from core.db import Sessions
from core.models import Customer, Identity, Message
from core.settings import Settings
from core.types import MessageKind, OutboundMessage, Receipt


def _nobody() -> bool:
    """Default presence: no agent is connected."""
    return False


@dataclass(frozen=True, slots=True)
class ChannelReads:
    """What a connector may read of the service, for one channel.

    ``agents_online`` says whether an agent has the inbox open; ``send_via`` sends through
    another enabled channel (web chat continuing over email when the visitor has left).
    """

    sessions: Sessions
    channel: str
    settings: Settings | None = None
    agents_online: Callable[[], bool] = field(default=_nobody)
    send_via: Callable[[OutboundMessage], Awaitable[Receipt]] | None = None

    async def message_meta(self, channel_message_id: str) -> dict[str, Any] | None:
        """The stored ``meta`` of the message this channel knows by ``channel_message_id``."""
        async with self.sessions() as session:
            meta = (
                await session.execute(
                    select(Message.meta)
                    .where(
                        Message.channel == self.channel,
                        Message.channel_message_id == channel_message_id,
                    )
                    .order_by(Message.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        return dict(meta) if meta is not None else None

    async def file_in_use(self, digest: str) -> bool:
        """Whether any stored message names the file with this sha256 hex digest."""
        async with self.sessions() as session:
            found = await session.scalar(
                select(Message.id).where(cast(Message.attachments, Text).contains(digest)).limit(1)
            )
        return found is not None

    async def contact_email(self, external_id: str) -> str | None:
        """The email a visitor on this channel left to be answered at, if any."""
        async with self.sessions() as session:
            profile = (
                await session.execute(
                    select(Identity.profile).where(
                        Identity.channel == self.channel, Identity.external_id == external_id
                    )
                )
            ).scalar_one_or_none()
        email = (profile or {}).get("contact_email")
        return str(email) if email else None

    async def history(
        self, external_id: str, *, after_id: int = 0, limit: int = 50
    ) -> list[dict[str, Any]]:
        """What the customer behind this identity may see: their messages and our replies here.

        Only this channel's messages: an email the visitor typed unverified may get mail from
        that address onto their customer, and it must not show up in their chat. Private notes
        and activity entries never appear; oldest first, at most ``limit``.
        """
        async with self.sessions() as session:
            identity = (
                await session.execute(
                    select(Identity).where(
                        Identity.channel == self.channel, Identity.external_id == external_id
                    )
                )
            ).scalar_one_or_none()
            if identity is None:
                return []
            customer_id = identity.customer_id
            for _ in range(20):
                customer = await session.get(Customer, customer_id)
                if customer is None or customer.merged_into_id is None:
                    break
                customer_id = customer.merged_into_id
            rows = (
                (
                    await session.execute(
                        select(Message)
                        .where(
                            Message.customer_id.in_({identity.customer_id, customer_id}),
                            Message.channel == self.channel,
                            Message.kind.in_([MessageKind.INCOMING, MessageKind.OUTGOING]),
                            Message.id > after_id,
                        )
                        .order_by(Message.id.desc())
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
        return [
            {
                "id": m.id,
                "author": "visitor" if m.kind == MessageKind.INCOMING else str(m.author),
                "text": m.text,
                "attachments": list(m.attachments or []),
                "client_id": m.channel_message_id if m.kind == MessageKind.INCOMING else None,
                "status": m.delivery_status,
                "at": m.created_at.isoformat() if m.created_at else None,
            }
            for m in reversed(rows)
        ]
