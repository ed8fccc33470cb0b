"""Supervisor alerts: acknowledging them, and the live typing signal agents share."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.actions import emit
from core.db import in_transaction
from core.errors import NotFound
from core.events import Event
from core.models import Agent, Message, utcnow
from core.runtime import Runtime
from core.serialize import message_dict
from core.types import MessageKind, Role

ALERT_ACKNOWLEDGED = "alert.acknowledged"
AGENT_TYPING = "agent.typing"


async def do_acknowledge_alert(rt: Runtime, alert_message_id: int, agent_id: int) -> Message:
    """Mark an alert (its activity line) as seen by a supervisor; the first one wins."""

    async def work(session: AsyncSession) -> Message:
        message = await session.get(Message, alert_message_id, with_for_update=True)
        meta = dict(message.meta or {}) if message else {}
        if message is None or message.kind != MessageKind.ACTIVITY or meta.get("action") != "alert":
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
