"""Delivery: a reply a channel holds back waits, queued, without holding other conversations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from connectors.memory import MemoryConnector
from core import delivery, pipeline
from core.actions import IngestResult, do_ingest, do_reply
from core.bus import InProcessBus, Job
from core.delivery import deliver
from core.models import Message, utcnow
from core.pipeline import sweep
from core.runtime import RetryLater, Runtime
from core.types import DeliveryStatus, InboundMessage
from tests.conftest import make_settings


class TimerBus(InProcessBus):
    """The in-process bus, noting deferred jobs instead of starting timers."""

    def __init__(self) -> None:
        super().__init__()
        self.later: list[tuple[str, Job, float]] = []

    async def enqueue_later(self, queue: str, job: Job, delay: float) -> None:
        """Remember what would be queued, and after how long."""
        self.later.append((queue, job, delay))


class Clock:
    """Wall-clock time for delivery and the sweeper, moved on by the test instead of waited."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = timedelta(0)
        monkeypatch.setattr(delivery, "utcnow", self.now)
        monkeypatch.setattr(pipeline, "utcnow", self.now)

    def now(self) -> datetime:
        """The real time plus what the test skipped."""
        return utcnow() + self.offset

    def skip(self, seconds: float) -> None:
        """Let time pass."""
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A clock the test moves on."""
    return Clock(monkeypatch)


@pytest.fixture
def channel() -> MemoryConnector:
    """The in-memory channel as the runtime's sender."""

    async def no_sink(inbound: InboundMessage) -> Any:
        raise AssertionError("nothing arrives in these tests")

    return MemoryConnector(no_sink)


@pytest.fixture
def held(rt: Runtime, database_url: str, channel: MemoryConnector) -> Runtime:
    """A runtime that sends through the memory channel, on a bus that notes deferred jobs."""
    settings = make_settings(database_url, delivery_max_wait_seconds=3600)
    return Runtime(sessions=rt.sessions, bus=TimerBus(), settings=settings, sender=channel)


async def customer(rt: Runtime, who: str) -> IngestResult:
    """A customer who wrote on the memory channel."""
    return await do_ingest(rt, InboundMessage("memory", who, f"{who}-1", "hello"))


async def row(rt: Runtime, message_id: int) -> Message:
    """A message as stored now."""
    async with rt.sessions() as session:
        message = await session.get(Message, message_id)
    assert message is not None
    return message


async def test_held_reply_waits_queued_while_other_conversations_go_out(
    held: Runtime, channel: MemoryConnector, clock: Clock
) -> None:
    """A 60 s wait keeps the reply queued (not a failed attempt) and schedules it; another
    conversation's reply goes out meanwhile, a later reply waits behind it, order is kept."""
    a, b = await customer(held, "a"), await customer(held, "b")
    first = await do_reply(held, a.conversation_id, "first")
    channel.fail_next.append(RetryLater(60, "flood control: retry after 60 s"))
    await deliver(held, first.id)
    stored = await row(held, first.id)
    assert stored.delivery_status == DeliveryStatus.QUEUED and stored.delivery_attempts == 0
    assert "retry after 60 s" in (stored.delivery_error or "")
    assert stored.deliver_after is not None
    assert 59 <= (stored.deliver_after - clock.now()).total_seconds() <= 60
    bus = held.bus
    assert isinstance(bus, TimerBus)
    ((_, job, delay),) = bus.later
    assert job == {"message_id": first.id} and 59 <= delay <= 60

    other = await do_reply(held, b.conversation_id, "other conversation")
    await deliver(held, other.id)
    second = await do_reply(held, a.conversation_id, "second")
    await deliver(held, second.id)
    await deliver(held, first.id)  # a duplicate job before its time sends nothing
    assert [m.text for m in channel.sent] == ["other conversation"]
    assert (await row(held, second.id)).deliver_after == stored.deliver_after

    clock.skip(61)
    await deliver(held, first.id)
    await deliver(held, second.id)
    assert [m.text for m in channel.sent] == ["other conversation", "first", "second"]
    done = await row(held, first.id)
    assert done.delivery_status == DeliveryStatus.SENT and done.delivery_error is None
    assert done.deliver_after is None and done.delivery_attempts == 1


async def test_held_reply_is_swept_once_due_after_a_restart(
    held: Runtime, channel: MemoryConnector, clock: Clock
) -> None:
    """Its timer died with the process: the sweeper leaves it until due, then queues it."""
    a = await customer(held, "a")
    reply = await do_reply(held, a.conversation_id, "after the flood")
    channel.fail_next.append(RetryLater(60))
    await deliver(held, reply.id)
    restarted = Runtime(held.sessions, InProcessBus(), held.settings, sender=channel)
    clock.skip(30)
    assert await sweep(restarted, timedelta(0)) == (1, 0)  # the inbound message only
    clock.skip(31)
    assert await sweep(restarted, timedelta(0)) == (1, 1)
    await deliver(restarted, reply.id)
    assert [m.text for m in channel.sent] == ["after the flood"]


async def test_reply_held_longer_than_the_cap_fails_visibly(
    held: Runtime, channel: MemoryConnector, clock: Clock
) -> None:
    """Waits adding up to more than DELIVERY_MAX_WAIT_SECONDS end with a failed reply."""
    a = await customer(held, "a")
    reply = await do_reply(held, a.conversation_id, "patience")
    channel.fail_next.append(RetryLater(1800, "flood control"))
    await deliver(held, reply.id)
    assert (await row(held, reply.id)).delivery_status == DeliveryStatus.QUEUED
    clock.skip(1800)
    channel.fail_next.append(RetryLater(1801, "flood control"))
    await deliver(held, reply.id)
    failed = await row(held, reply.id)
    assert failed.delivery_status == DeliveryStatus.FAILED
    assert "gave up waiting: flood control" in (failed.delivery_error or "")
    assert not channel.sent
