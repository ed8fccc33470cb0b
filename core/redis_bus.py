"""The production bus: Redis Streams with a consumer group, and Redis pub/sub."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from core.bus import Bus, DeadHandler, Handler, Job, RetryPolicy, _finish_failed
from core.events import Event

log = logging.getLogger(__name__)

GROUP = "workers"


async def _detach_on_cancel(step: Coroutine[Any, Any, None]) -> None:
    """Run ``step``; when cancelled, cancel it too but stop waiting for it at once.

    redis-py can wedge a connection if a command is cancelled mid-read; the worker must still
    stop promptly, so it never waits on a read that may never finish.
    """
    inner = asyncio.ensure_future(step)
    try:
        await asyncio.shield(inner)
    except asyncio.CancelledError:
        inner.cancel()
        raise


class RedisBus(Bus):
    """Jobs survive restarts and are shared by every process in the consumer group."""

    def __init__(self, url: str, prefix: str = "tawasul", block_ms: int = 1000) -> None:
        self._redis: Redis = Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._block_ms = block_ms
        self._consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._groups: set[str] = set()
        self._later: set[asyncio.Task[None]] = set()

    @property
    def redis(self) -> Redis:
        """The underlying client (health checks, tests)."""
        return self._redis

    @property
    def prefix(self) -> str:
        """The prefix of every key and channel this bus uses."""
        return self._prefix

    def _stream(self, queue: str) -> str:
        return f"{self._prefix}:queue:{queue}"

    @property
    def _channel(self) -> str:
        return f"{self._prefix}:events"

    async def publish(self, event: Event) -> None:
        """Publish on the events channel."""
        await self._redis.publish(self._channel, event.to_json())

    async def listen(self) -> AsyncIterator[Event]:
        """Yield events from the events channel."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._channel)
        try:
            while True:
                msg = await pubsub.get_message(timeout=1.0)
                if msg is not None and msg.get("type") == "message":
                    yield Event.from_json(msg["data"])
        finally:
            await pubsub.unsubscribe(self._channel)
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _ensure_group(self, stream: str) -> None:
        if stream in self._groups:
            return
        try:
            await self._redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add(stream)

    async def enqueue(self, queue: str, job: Job) -> None:
        """Append the job to the queue's stream."""
        stream = self._stream(queue)
        await self._ensure_group(stream)
        await self._redis.xadd(stream, {"job": json.dumps(job, default=str)})

    async def enqueue_later(self, queue: str, job: Job, delay: float) -> None:
        """Append the job to the queue's stream after ``delay`` seconds (timer in this process)."""

        async def later() -> None:
            await asyncio.sleep(max(0.0, delay))
            try:
                await self.enqueue(queue, job)
            except RedisConnectionError:
                log.warning("could not queue deferred job %s; the sweeper will find it", job)

        task = asyncio.create_task(later(), name=f"later-{queue}")
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def work(
        self, queue: str, handler: Handler, policy: RetryPolicy, on_dead: DeadHandler
    ) -> None:
        """Read new entries, and reclaim ones whose handling failed or whose worker died."""
        stream = self._stream(queue)
        min_idle_ms = max(1, int(policy.delay_seconds * 1000))
        while True:
            try:
                await self._ensure_group(stream)
                await _detach_on_cancel(
                    self._work_once(stream, handler, policy, on_dead, min_idle_ms)
                )
            except (RedisConnectionError, ResponseError) as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # redis-py can turn a cancelled read into a connection error.
                    raise asyncio.CancelledError from exc
                # Redis restarted or the stream vanished: the group is re-created and the
                # worker carries on; the database sweeper re-queues anything lost with it.
                log.warning("queue %s: %r; retrying in 1 s", queue, exc)
                self._groups.discard(stream)
                await asyncio.sleep(1)

    async def _work_once(
        self,
        stream: str,
        handler: Handler,
        policy: RetryPolicy,
        on_dead: DeadHandler,
        min_idle_ms: int,
    ) -> None:
        """Reclaim stale entries, then read and handle one batch of new ones."""
        reply: Any = await self._redis.xautoclaim(
            stream, GROUP, self._consumer, min_idle_time=min_idle_ms, start_id="0-0", count=10
        )
        for entry_id, fields in reply[1]:
            await self._handle(stream, entry_id, fields, handler, policy, on_dead)
        batch: Any = await self._redis.xreadgroup(
            GROUP, self._consumer, {stream: ">"}, count=10, block=self._block_ms
        )
        for _, entries in batch or []:
            for entry_id, fields in entries:
                await self._handle(stream, entry_id, fields, handler, policy, on_dead)

    async def _handle(
        self,
        stream: str,
        entry_id: str,
        fields: dict[str, Any] | None,
        handler: Handler,
        policy: RetryPolicy,
        on_dead: DeadHandler,
    ) -> None:
        """Run one entry; acknowledge on success or once it is dead-lettered."""
        if not fields:  # deleted while pending
            await self._redis.xack(stream, GROUP, entry_id)
            return
        job = json.loads(fields["job"])
        try:
            await handler(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            pending = await self._redis.xpending_range(stream, GROUP, entry_id, entry_id, 1)
            attempts = int(pending[0]["times_delivered"]) if pending else policy.max_attempts
            if await _finish_failed(job, attempts, exc, policy, on_dead):
                await self._ack(stream, entry_id)
            else:
                log.warning(
                    "job %s failed (attempt %d), will be reclaimed: %r", entry_id, attempts, exc
                )
            return
        await self._ack(stream, entry_id)

    async def _ack(self, stream: str, entry_id: str) -> None:
        await self._redis.xack(stream, GROUP, entry_id)
        await self._redis.xdel(stream, entry_id)

    async def pending(self, queue: str) -> int:
        """Entries not yet acknowledged, plus unread ones."""
        stream = self._stream(queue)
        await self._ensure_group(stream)
        return int(await self._redis.xlen(stream))

    async def close(self) -> None:
        """Close the connection pool (bounded: a connection stuck in a blocking read is dropped)."""
        for task in list(self._later):
            task.cancel()
        try:
            await asyncio.wait_for(self._redis.aclose(), 5)
        except TimeoutError:
            log.warning("redis connections did not close within 5 s")
