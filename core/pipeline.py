"""The inbound pipeline: stored first, then each step once, retried until done or escalated."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.actions import do_escalate, do_ingest, do_raise_alert
from core.bus import Job, delivery_queue, pipeline_queue
from core.db import in_transaction
from core.errors import DomainError
from core.models import Conversation, Message, utcnow
from core.runtime import Runtime
from core.types import ConversationStatus, Priority

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)

__all__ = ["Step", "StepContext", "ingest", "on_pipeline_dead", "process_message", "sweep"]

ingest = do_ingest


@dataclass(frozen=True, slots=True)
class StepContext:
    """What a step sees: the runtime, the stored message and its conversation as of now."""

    rt: Runtime
    message: Message
    conversation: Conversation


class Step(Protocol):
    """One idempotent stage of inbound processing (sentiment, routing…)."""

    name: str

    async def __call__(self, ctx: StepContext) -> None:
        """Do the work for one message; raise to have the message retried."""
        ...


async def _claim(rt: Runtime, message_id: int) -> Message | None:
    """Take the message's lease; None when it is finished or another worker holds it."""

    async def work(session: AsyncSession) -> Message | None:
        now = utcnow()
        result = await session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.pipeline_state == "pending",
                or_(Message.pipeline_lease_until.is_(None), Message.pipeline_lease_until < now),
            )
            .values(pipeline_lease_until=now + LEASE)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return await session.get(Message, message_id)

    return await in_transaction(rt.sessions, work)


async def _conversation_now(rt: Runtime, conversation_id: int) -> Conversation:
    async with rt.sessions() as session:
        conv = await session.get(Conversation, conversation_id)
    assert conv is not None
    return conv


async def _set(rt: Runtime, message_id: int, **values: object) -> None:
    async def work(session: AsyncSession) -> None:
        await session.execute(update(Message).where(Message.id == message_id).values(**values))

    await in_transaction(rt.sessions, work)


async def process_message(rt: Runtime, message_id: int) -> None:
    """Run every step the message has not finished; a failure leaves it for a retry."""
    message = await _claim(rt, message_id)
    if message is None or message.conversation_id is None:
        return
    done = list(message.pipeline_steps or [])
    try:
        for step in rt.steps:
            if step.name in done:
                continue
            conv = await _conversation_now(rt, message.conversation_id)
            await step(StepContext(rt, message, conv))
            done.append(step.name)
            await _set(rt, message_id, pipeline_steps=list(done))
    except BaseException:
        await _set(
            rt,
            message_id,
            pipeline_attempts=(message.pipeline_attempts or 0) + 1,
            pipeline_lease_until=None,
        )
        raise
    await _set(rt, message_id, pipeline_state="done", pipeline_lease_until=None)


async def handle_pipeline_job(rt: Runtime, job: Job) -> None:
    """Bus handler for the pipeline queue."""
    await process_message(rt, int(job["message_id"]))


async def on_pipeline_dead(rt: Runtime, job: Job, exc: BaseException) -> None:
    """A message the pipeline keeps failing on: keep it, hand the conversation to humans."""
    message_id = int(job["message_id"])
    async with rt.sessions() as session:
        message = await session.get(Message, message_id)
    if message is None or message.pipeline_state != "pending":
        return
    if message.conversation_id is not None:
        detail = f"automatic processing failed: {type(exc).__name__}"
        try:
            conv = await _conversation_now(rt, message.conversation_id)
            if conv.status == ConversationStatus.BOT:
                await do_escalate(
                    rt,
                    conv.id,
                    "pipeline_error",
                    priority=Priority.HIGH,
                    detail=detail,
                    only_from=(ConversationStatus.BOT,),
                    facts={"error": type(exc).__name__},
                )
            await do_raise_alert(
                rt,
                conv.id,
                "pipeline_error",
                detail,
                message_id=message_id,
                error=type(exc).__name__,
            )
        except DomainError:
            log.exception("could not escalate after pipeline failure of message %s", message_id)
    # Marked last: a crash before this line leaves the message for the sweeper to retry.
    await _set(rt, message_id, pipeline_state="failed", pipeline_lease_until=None)


async def sweep(rt: Runtime, older_than: timedelta = timedelta(seconds=30)) -> tuple[int, int]:
    """Re-queue unfinished inbound messages and undelivered replies (a crash lost their job)."""
    cutoff = utcnow() - older_than
    now = utcnow()
    async with rt.sessions() as session:
        stuck = (
            await session.execute(
                select(Message.id, Message.conversation_id).where(
                    Message.pipeline_state == "pending",
                    Message.created_at <= cutoff,
                    or_(
                        Message.pipeline_lease_until.is_(None),
                        Message.pipeline_lease_until < now,
                    ),
                )
            )
        ).all()
        queued = (
            await session.execute(
                select(Message.id, Message.conversation_id).where(
                    Message.delivery_status == "queued",
                    Message.created_at <= cutoff,
                    # Held back by the channel: swept once its time has come.
                    or_(Message.deliver_after.is_(None), Message.deliver_after <= now),
                )
            )
        ).all()
    for message_id, conversation_id in stuck:
        queue = pipeline_queue(conversation_id or 0, rt.settings.pipeline_shards)
        await rt.bus.enqueue(queue, {"message_id": message_id})
    for message_id, conversation_id in queued:
        queue = delivery_queue(conversation_id or 0, rt.settings.pipeline_shards)
        await rt.bus.enqueue(queue, {"message_id": message_id})
    if stuck or queued:
        log.info("sweep re-queued %d inbound and %d outbound messages", len(stuck), len(queued))
    return len(stuck), len(queued)


async def sweep_forever(rt: Runtime) -> None:
    """Sweep at start-up and then every ``sweep_interval_seconds``."""
    first = True
    while True:
        try:
            await sweep(rt, timedelta(0) if first else timedelta(seconds=30))
        except Exception:
            log.exception("sweep failed")
        first = False
        await asyncio.sleep(rt.settings.sweep_interval_seconds)
