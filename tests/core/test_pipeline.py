"""The pipeline: stored first, each step once, retried after a crash, escalated when hopeless."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from core import actions
from core.bus import Bus, InProcessBus, RetryPolicy, pipeline_queue
from core.db import Sessions
from core.models import Conversation, Message
from core.mood import SentimentStep
from core.pipeline import StepContext, handle_pipeline_job, on_pipeline_dead, sweep
from core.routing import HumanRouting
from core.runtime import Runtime
from core.types import ConversationStatus, InboundMessage, Priority
from tests.conftest import make_settings


class Counting:
    """A step that counts its runs and can fail on chosen attempts."""

    def __init__(self, name: str, fail_times: int = 0) -> None:
        self.name = name
        self.fail_times = fail_times
        self.calls = 0
        self.done: list[int] = []

    async def __call__(self, ctx: StepContext) -> None:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise RuntimeError(f"{self.name} crashed")
        self.done.append(ctx.message.id)


@contextlib.asynccontextmanager
async def worker(rt: Runtime, policy: RetryPolicy) -> AsyncIterator[None]:
    """Run the pipeline worker for the duration of the block."""
    task = asyncio.create_task(
        rt.bus.work(
            pipeline_queue(0, 1),
            lambda job: handle_pipeline_job(rt, job),
            policy,
            lambda job, exc: on_pipeline_dead(rt, job, exc),
        )
    )
    try:
        yield
    finally:
        task.cancel()
        # Bounded: a worker that ignores its cancel must fail the test, never hang the suite.
        done, _ = await asyncio.wait({task}, timeout=5)
        assert done, "the worker did not stop when cancelled"


async def settled(rt: Runtime, message_id: int, within: float = 10) -> Message:
    """Wait until the message's pipeline state is no longer pending."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with rt.sessions() as session:
            message = await session.get(Message, message_id)
        assert message is not None
        if message.pipeline_state != "pending":
            return message
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"message {message_id} still pending")
        await asyncio.sleep(0.02)


def runtime(sessions: Sessions, bus: Bus, url: str, *steps: object) -> Runtime:
    """A runtime with the given steps."""
    return Runtime(
        sessions=sessions,
        bus=bus,
        settings=make_settings(url),
        steps=list(steps),  # type: ignore[arg-type]
    )


async def test_crash_between_stored_and_routed_is_retried_not_lost_not_duplicated(
    sessions: Sessions, bus: Bus, database_url: str
) -> None:
    """Routing raises on its first run: the message is kept, retried, routed once, stored once."""
    sentiment = Counting("sentiment")
    routing = Counting("routing", fail_times=1)
    rt = runtime(sessions, bus, database_url, sentiment, routing)
    result = await actions.do_ingest(rt, InboundMessage("webhook", "c1", "m1", "where is my order"))
    async with worker(rt, RetryPolicy(max_attempts=5, delay_seconds=0.05, backoff=1.0)):
        message = await settled(rt, result.message_id)
    assert message.pipeline_state == "done"
    assert message.pipeline_steps == ["sentiment", "routing"]
    assert message.pipeline_attempts == 1
    assert sentiment.calls == 1, "a finished step is not run again on retry"
    assert routing.calls == 2 and routing.done == [result.message_id]
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 1


async def test_hopeless_message_is_kept_and_escalated(
    sessions: Sessions, database_url: str
) -> None:
    """A step that always fails: the message stays, the conversation goes to humans, alerted."""
    rt = runtime(sessions, InProcessBus(), database_url, Counting("routing", fail_times=99))
    result = await actions.do_ingest(rt, InboundMessage("webhook", "c1", "m1", "help"))
    async with worker(rt, RetryPolicy(max_attempts=3, delay_seconds=0.02, backoff=1.0)):
        message = await settled(rt, result.message_id)
    assert message.pipeline_state == "failed"
    async with rt.sessions() as session:
        conv = await session.get(Conversation, result.conversation_id)
        alerts = (
            (
                await session.execute(
                    select(Message.meta).where(Message.kind == "activity").order_by(Message.id)
                )
            )
            .scalars()
            .all()
        )
    assert conv is not None and conv.status == ConversationStatus.PENDING
    assert conv.escalation_reason == "pipeline_error" and conv.priority == Priority.HIGH
    assert [a["action"] for a in alerts] == ["escalated", "alert"]


async def test_sweep_requeues_a_message_whose_job_was_lost(
    sessions: Sessions, database_url: str
) -> None:
    """A stored message whose queue entry vanished (process died) is found and processed."""
    routing = Counting("routing")
    rt = runtime(sessions, InProcessBus(), database_url, routing)
    result = await actions.do_ingest(rt, InboundMessage("webhook", "c1", "m1", "hi"))
    rt.bus = InProcessBus()  # the old queue, with the job in it, is gone
    assert await sweep(rt, timedelta(0)) == (1, 0)
    async with worker(rt, RetryPolicy(max_attempts=3, delay_seconds=0.02)):
        message = await settled(rt, result.message_id)
    assert message.pipeline_state == "done" and routing.done == [result.message_id]


async def test_duplicate_jobs_run_steps_once(sessions: Sessions, database_url: str) -> None:
    """The same message queued twice (sweep plus original) is processed once."""
    routing = Counting("routing")
    rt = runtime(sessions, InProcessBus(), database_url, routing)
    result = await actions.do_ingest(rt, InboundMessage("webhook", "c1", "m1", "hi"))
    await rt.bus.enqueue(pipeline_queue(0, 1), {"message_id": result.message_id})
    async with worker(rt, RetryPolicy(max_attempts=3, delay_seconds=0.02)):
        await settled(rt, result.message_id)
        await asyncio.sleep(0.1)
    assert routing.calls == 1


async def test_default_routing_hands_bot_conversations_to_humans(
    sessions: Sessions, database_url: str
) -> None:
    """With no bot, a new conversation ends up pending with reason ``no_bot``."""
    rt = runtime(sessions, InProcessBus(), database_url, HumanRouting())
    result = await actions.do_ingest(rt, InboundMessage("webhook", "c1", "m1", "hi"))
    async with worker(rt, RetryPolicy(max_attempts=3, delay_seconds=0.02)):
        await settled(rt, result.message_id)
    async with rt.sessions() as session:
        conv = await session.get(Conversation, result.conversation_id)
    assert conv is not None and conv.status == ConversationStatus.PENDING
    assert conv.escalation_reason == "no_bot"


class CrashAfter:
    """Runs a real step, then crashes once before the pipeline can record it as done."""

    def __init__(self, step: Any) -> None:
        self.step = step
        self.name = step.name
        self.calls = 0

    async def __call__(self, ctx: StepContext) -> None:
        self.calls += 1
        await self.step(ctx)
        if self.calls == 1:
            raise RuntimeError("worker died after the step's writes")


async def test_real_steps_rerun_after_a_crash_write_nothing_twice(
    sessions: Sessions, bus: Bus, database_url: str
) -> None:
    """Anger escalated and alerted, then a crash: the retry adds no second escalation or alert."""
    from tests.core.test_mood import fake_score

    sentiment = CrashAfter(SentimentStep(fake_score))
    rt = runtime(sessions, bus, database_url, sentiment, HumanRouting())
    result = await actions.do_ingest(rt, InboundMessage("webhook", "c1", "m1", "angry NOW!!"))
    async with worker(rt, RetryPolicy(max_attempts=5, delay_seconds=0.05, backoff=1.0)):
        message = await settled(rt, result.message_id)
    assert message.pipeline_state == "done" and sentiment.calls == 2
    async with rt.sessions() as session:
        conv = await session.get(Conversation, result.conversation_id)
        activity = (
            (
                await session.execute(
                    select(Message.meta).where(Message.kind == "activity").order_by(Message.id)
                )
            )
            .scalars()
            .all()
        )
        messages = await session.scalar(select(func.count()).select_from(Message))
    assert conv is not None and conv.escalation_reason == "anger"
    assert [(a["action"], a.get("alert")) for a in activity] == [
        ("escalated", None),
        ("alert", "anger"),
    ]
    assert messages == 3  # the customer's message and the two activity lines
