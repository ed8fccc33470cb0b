"""Supervisor alerts: acknowledging them, and the live typing signal agents share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.actions import emit
from core.db import in_transaction
from core.errors import NotFound
from core.events import Event
from core.models import Agent, Conversation, Identity, Message, utcnow
from core.runtime import Runtime
from core.serialize import message_dict
from core.types import ConversationStatus, MessageKind, Role

ALERT_ACKNOWLEDGED = "alert.acknowledged"
AGENT_TYPING = "agent.typing"
# The activity lines the supervisors' feed shows, each acknowledgeable: alerts and handoffs
# (escalations to the human queue).
FEED_ACTIONS = ("alert", "escalated")


async def do_acknowledge_alert(rt: Runtime, alert_message_id: int, agent_id: int) -> Message:
    """Mark an alert or handoff (its activity line) as seen by a supervisor; the first one wins."""

    async def work(session: AsyncSession) -> Message:
        message = await session.get(Message, alert_message_id, with_for_update=True)
        meta = dict(message.meta or {}) if message else {}
        if (
            message is None
            or message.kind != MessageKind.ACTIVITY
            or meta.get("action") not in FEED_ACTIONS
        ):
            raise NotFound(f"alert {alert_message_id} does not exist")
        if not meta.get("acknowledged_by"):
            meta["acknowledged_by"] = agent_id
            meta["acknowledged_at"] = utcnow().isoformat()
            message.meta = meta
        return message

    message = await in_transaction(rt.sessions, work)
    await emit(rt, [Event(ALERT_ACKNOWLEDGED, message_dict(message), audience=Role.SUPERVISOR)])
    return message


async def do_signal_typing(rt: Runtime, conversation_id: int, agent: Agent, mode: str) -> None:
    """Tell other agents someone is writing a reply or note here (nothing is stored)."""
    payload: dict[str, Any] = {
        "conversation_id": conversation_id,
        "agent_id": agent.id,
        "agent_name": agent.display_name,
        "mode": mode,
    }
    await emit(rt, [Event(AGENT_TYPING, payload)])


async def typing_recipients(
    rt: Runtime, conversation_id: int
) -> tuple[list[tuple[str, str]], str | None]:
    """Unblocked identities of the customer, newest first, and the reply channel."""
    async with rt.sessions() as session:
        conv = await session.get(Conversation, conversation_id)
        if conv is None or conv.status == ConversationStatus.RESOLVED:
            return [], None
        rows = (
            await session.execute(
                select(Identity.channel, Identity.external_id)
                .where(Identity.customer_id == conv.customer_id, Identity.blocked.is_(False))
                .order_by(Identity.last_seen_at.desc(), Identity.id.desc())
            )
        ).all()
    return [(str(channel), str(ext)) for channel, ext in rows], conv.last_channel
