"""Outbound delivery: a queued reply goes out through its channel, retried, never dropped."""

from __future__ import annotations

import logging

from core.actions import do_mark_delivery
from core.bus import Job
from core.models import Message
from core.runtime import PermanentDeliveryError, Runtime
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
    async with rt.sessions() as session:
        message = await session.get(Message, message_id)
    if message is None or message.delivery_status != DeliveryStatus.QUEUED:
        return
    if message.kind != MessageKind.OUTGOING or rt.sender is None:
        await do_mark_delivery(rt, message_id, DeliveryStatus.FAILED, error="nothing can send it")
        return
    try:
        receipt = await rt.sender.send(outbound_for(message))
    except PermanentDeliveryError as exc:
        await do_mark_delivery(rt, message_id, DeliveryStatus.FAILED, error=str(exc)[:500])
        return
    await do_mark_delivery(
        rt, message_id, DeliveryStatus.SENT, external_id=receipt.external_message_id
    )


async def handle_delivery_job(rt: Runtime, job: Job) -> None:
    """Bus handler for the delivery queue."""
    await deliver(rt, int(job["message_id"]))


async def on_delivery_dead(rt: Runtime, job: Job, exc: BaseException) -> None:
    """Out of retries: the message is marked failed, visible in the inbox."""
    error = f"gave up after retries: {type(exc).__name__}: {exc}"[:500]
    await do_mark_delivery(rt, int(job["message_id"]), DeliveryStatus.FAILED, error=error)
