"""The event bus: work queues (at-least-once) and live fan-out, in-process or on Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.events import Event

log = logging.getLogger(__name__)

Job = dict[str, Any]
Handler = Callable[[Job], Awaitable[None]]
DeadHandler = Callable[[Job, BaseException], Awaitable[None]]

PIPELINE_QUEUE = "pipeline"
DELIVERY_QUEUE = "delivery"


def pipeline_queue(conversation_id: int, shards: int) -> str:
    """The pipeline shard for a conversation: one worker per shard keeps its messages in order."""
    return f"{PIPELINE_QUEUE}.{conversation_id % max(1, shards)}"


def delivery_queue(conversation_id: int, shards: int) -> str:
    """The delivery shard for a conversation: its replies leave in the order they were written."""
    return f"{DELIVERY_QUEUE}.{conversation_id % max(1, shards)}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a queue retries a failing job."""

    max_attempts: int = 5
    delay_seconds: float = 2.0
    backoff: float = 2.0
    max_delay_seconds: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before the given (1-based) retry."""
        return float(
            min(self.delay_seconds * self.backoff ** (attempt - 1), self.max_delay_seconds)
        )


@dataclass(slots=True)
class _Envelope:
    job: Job
    attempts: int = 0
    id: int = field(default=0)


class Bus(ABC):
    """Queues for work that must happen (at least once) and pub/sub for live listeners."""

    @abstractmethod
    async def publish(self, event: Event) -> None:
        """Fan an event out to every live listener."""

    @abstractmethod
    def listen(self) -> AsyncIterator[Event]:
        """Yield every event published from now on, until the iterator is closed."""

    @abstractmethod
    async def enqueue(self, queue: str, job: Job) -> None:
        """Add a job to a work queue."""

    @abstractmethod
    async def enqueue_later(self, queue: str, job: Job, delay: float) -> None:
        """Add a job after ``delay`` seconds, from a timer in this process.

        The timer dies with the process: work scheduled this way must be findable again in the
        database (the sweeper re-queues due deferred deliveries).
        """

    @abstractmethod
    async def work(
        self, queue: str, handler: Handler, policy: RetryPolicy, on_dead: DeadHandler
    ) -> None:
        """Run jobs from a queue forever; a failing job is retried, then handed to ``on_dead``."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


async def _finish_failed(
    job: Job, attempts: int, exc: BaseException, policy: RetryPolicy, on_dead: DeadHandler
) -> bool:
    """Hand a job that used up its attempts to ``on_dead``; True when it is settled."""
    if attempts < policy.max_attempts:
        return False
    log.error("job gave up after %d attempts: %s (%r)", attempts, job, exc)
    try:
        await on_dead(job, exc)
    except Exception:
        log.exception("dead-letter handler failed for %s", job)
        return False
    return True


class InProcessBus(Bus):
    """The embedded bus: asyncio queues in this process (jobs do not survive a restart)."""

    def __init__(self, listener_buffer: int = 1000) -> None:
        self._queues: dict[str, asyncio.Queue[_Envelope]] = {}
        self._listeners: set[asyncio.Queue[Event]] = set()
        self._buffer = listener_buffer
        self._timers: set[asyncio.TimerHandle] = set()

    def _queue(self, name: str) -> asyncio.Queue[_Envelope]:
        return self._queues.setdefault(name, asyncio.Queue())

    async def publish(self, event: Event) -> None:
        """Put the event on every listener's buffer, dropping the oldest when one lags."""
        for q in list(self._listeners):
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
            q.put_nowait(event)

    async def listen(self) -> AsyncIterator[Event]:
        """Yield events published after the call."""
        q: asyncio.Queue[Event] = asyncio.Queue(self._buffer)
        self._listeners.add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._listeners.discard(q)

    async def enqueue(self, queue: str, job: Job) -> None:
        """Queue a job for this process's workers."""
        self._queue(queue).put_nowait(_Envelope(job))

    async def enqueue_later(self, queue: str, job: Job, delay: float) -> None:
        """Queue a job for this process's workers after ``delay`` seconds."""
        loop = asyncio.get_running_loop()
        timer = loop.call_later(max(0.0, delay), self._queue(queue).put_nowait, _Envelope(job))
        self._timers.add(timer)

    async def work(
        self, queue: str, handler: Handler, policy: RetryPolicy, on_dead: DeadHandler
    ) -> None:
        """Handle jobs one at a time; failures come back after the policy's delay."""
        q = self._queue(queue)
        loop = asyncio.get_running_loop()
        while True:
            env = await q.get()
            env.attempts += 1
            try:
                await handler(env.job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if await _finish_failed(env.job, env.attempts, exc, policy, on_dead):
                    continue
                log.warning("job failed (attempt %d), retrying: %r", env.attempts, exc)
                timer = loop.call_later(policy.delay(env.attempts), q.put_nowait, env)
                self._timers.add(timer)

    async def pending(self, queue: str) -> int:
        """Jobs waiting in a queue (for tests and health checks)."""
        return self._queue(queue).qsize()

    async def close(self) -> None:
        """Forget scheduled retries."""
        for t in self._timers:
            t.cancel()
        self._timers.clear()
