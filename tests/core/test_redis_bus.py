"""Redis-only guarantees: jobs outlive the worker that took them."""

from __future__ import annotations

import asyncio

import pytest

from core.bus import Job, RetryPolicy
from core.redis_bus import RedisBus

pytestmark = pytest.mark.redis


async def test_job_taken_by_a_dead_worker_is_reclaimed(redis_bus: RedisBus) -> None:
    """A worker that dies mid-job leaves it pending; another worker reclaims and finishes it."""
    policy = RetryPolicy(max_attempts=5, delay_seconds=0.1)
    started = asyncio.Event()

    async def hangs(job: Job) -> None:
        started.set()
        await asyncio.sleep(3600)

    async def never(job: Job, exc: BaseException) -> None:
        raise AssertionError("no dead letters expected")

    await redis_bus.enqueue("q", {"n": 1})
    crashed = asyncio.create_task(redis_bus.work("q", hangs, policy, never))
    await asyncio.wait_for(started.wait(), 5)
    crashed.cancel()
    stopped, _ = await asyncio.wait({crashed}, timeout=5)
    assert stopped, "the first worker did not stop when cancelled"

    done: list[Job] = []

    async def finishes(job: Job) -> None:
        done.append(job)

    survivor = RedisBus("redis://127.0.0.1:6379/0", prefix=redis_bus._prefix, block_ms=50)
    task = asyncio.create_task(survivor.work("q", finishes, policy, never))
    try:
        for _ in range(200):
            if done:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.wait({task}, timeout=5)
        await survivor.close()
    assert done == [{"n": 1}]
    assert await redis_bus.pending("q") == 0
