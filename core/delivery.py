"""Outbound delivery: a queued reply goes out through its channel, retried, never dropped.

A channel that asks us to wait (`RetryLater`) gets its wait: the reply stays ``queued`` with
``deliver_after`` set, the worker moves on to other conversations, and a timer (or, after a
restart, the sweeper) brings it back when due. Later replies of the same conversation wait
behind it, so replies still leave in the order they were written.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.actions import do_defer_delivery, do_mark_delivery
from core.bus import Job, delivery_queue
from core.models import Message, utcnow
from core.runtime import PermanentDeliveryError, RetryLater, Runtime
from core.types import Attachment, DeliveryStatus, MessageKind, OutboundMessage

log = logging.getLogger(__name__)


def outbound_for(message: Message) -> OutboundMessage:
    """The connector's view of a stored outgoing message."""
    meta = dict(message.meta or {})
    return OutboundMessage(
        message_id=message.id,
        channel=message.channel or "",
        recipient_id=str(meta.pop("recipient", "")),
        text=message.text,
        attachments=tuple(Attachment(**a) for a in message.attachments or []),
        private=message.kind == MessageKind.NOTE,
        reply_to_external_id=message.reply_to_channel_id,
        language=message.language,
        meta=meta,
    )


async def deliver(rt: Runtime, message_id: int) -> None:
    """Send one queued message; raise on a temporary failure so the bus retries it."""
    now = utcnow()
    async with rt.sessions() as session:
        message = await session.get(Message, message_id)
        if message is None or message.delivery_status != DeliveryStatus.QUEUED:
            return
        if message.deliver_after is not None and message.deliver_after > now:
            # Woken before its time (a timer running a little early): come back when it is due.
            await _schedule(rt, message, message.deliver_after, now)
            return
        ahead = await _held_until(session, message, now)
    if ahead is not None:
        await _defer(rt, message, ahead, now, "waiting for an earlier reply the channel held back")
        return
    if message.kind != MessageKind.OUTGOING or rt.sender is None:
        await do_mark_delivery(rt, message_id, DeliveryStatus.FAILED, error="nothing can send it")
        return
    try:
        receipt = await rt.sender.send(outbound_for(message))
    except PermanentDeliveryError as exc:
        await do_mark_delivery(rt, message_id, DeliveryStatus.FAILED, error=str(exc)[:500])
        return
    except RetryLater as exc:
        now = utcnow()
        await _defer(rt, message, now + timedelta(seconds=exc.seconds), now, str(exc)[:300])
        return
    await do_mark_delivery(
        rt, message_id, DeliveryStatus.SENT, external_id=receipt.external_message_id
    )


async def _held_until(session: AsyncSession, message: Message, now: datetime) -> datetime | None:
    """When the latest earlier reply of the conversation that a channel held back may leave."""
    if message.conversation_id is None:
        return None
    held: datetime | None = await session.scalar(
        select(func.max(Message.deliver_after)).where(
            Message.conversation_id == message.conversation_id,
            Message.kind == MessageKind.OUTGOING,
            Message.delivery_status == DeliveryStatus.QUEUED,
            Message.id < message.id,
            Message.deliver_after > now,
        )
    )
    return held


async def _defer(
    rt: Runtime, message: Message, until: datetime, now: datetime, reason: str
) -> None:
    """Hold a reply until ``until`` (replies behind it wait too), or fail it past the cap."""
    cap = rt.settings.delivery_max_wait_seconds
    if until - message.created_at > timedelta(seconds=cap):
        error = f"gave up waiting: {reason} (it would leave over {cap:.0f} s after it was written)"
        await do_mark_delivery(rt, message.id, DeliveryStatus.FAILED, error=error[:500])
        return
    shown = f"{reason}; next try at {until:%H:%M:%S} UTC"
    if await do_defer_delivery(rt, message.id, until, shown):
        log.info("delivery of message %s held until %s: %s", message.id, until, reason)
        await _schedule(rt, message, until, now)


async def _schedule(rt: Runtime, message: Message, until: datetime, now: datetime) -> None:
    """Queue the message again when it is due; the sweeper does it if this process dies first."""
    queue = delivery_queue(message.conversation_id or 0, rt.settings.pipeline_shards)
    delay = (until - now).total_seconds()
    await rt.bus.enqueue_later(queue, {"message_id": message.id}, delay)


async def handle_delivery_job(rt: Runtime, job: Job) -> None:
    """Bus handler for the delivery queue."""
    await deliver(rt, int(job["message_id"]))


async def on_delivery_dead(rt: Runtime, job: Job, exc: BaseException) -> None:
    """Out of retries: the message is marked failed, visible in the inbox."""
    error = f"gave up after retries: {type(exc).__name__}: {exc}"[:500]
    await do_mark_delivery(rt, int(job["message_id"]), DeliveryStatus.FAILED, error=error)
