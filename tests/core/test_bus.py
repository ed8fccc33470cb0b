"""Both buses: at-least-once work queues with retry and dead-letter, and live fan-out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from core.bus import Bus, Job, RetryPolicy
from core.events import Event

FAST = RetryPolicy(max_attempts=3, delay_seconds=0.05, backoff=1.0)


@contextlib.asynccontextmanager
async def working(bus: Bus, queue: str, handler: object, dead: object) -> AsyncIterator[None]:
    """Run a worker for the duration of the block."""
    task = asyncio.create_task(bus.work(queue, handler, FAST, dead))  # type: ignore[arg-type]
    try:
        yield
    finally:
        task.cancel()
        # Bounded: a worker that ignores its cancel must fail the test, never hang the suite.
        done, _ = await asyncio.wait({task}, timeout=5)
        if not done:
            chain, coro = [], task.get_coro()
            while coro is not None:  # where the worker is stuck, innermost last
                chain.append(repr(coro))
                coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
            frames = "\n".join(chain)
            raise AssertionError(f"the worker did not stop when cancelled:\n{frames}")


async def wait_for(predicate: object, within: float = 5.0) -> None:
    """Poll until ``predicate()`` is true."""
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_jobs_are_handled_in_order(bus: Bus) -> None:
    """Every enqueued job reaches the handler once when it succeeds."""
    seen: list[int] = []

    async def handler(job: Job) -> None:
        seen.append(job["n"])

    async def dead(job: Job, exc: BaseException) -> None:
        raise AssertionError("nothing should die")

    for n in range(5):
        await bus.enqueue("q", {"n": n})
    async with working(bus, "q", handler, dead):
        await wait_for(lambda: len(seen) == 5)
    assert seen == [0, 1, 2, 3, 4]


async def test_a_job_queued_later_waits_its_delay_without_holding_the_queue(bus: Bus) -> None:
    """``enqueue_later`` delivers after the delay; jobs queued meanwhile go first."""
    seen: list[tuple[str, float]] = []
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def handler(job: Job) -> None:
        seen.append((job["n"], loop.time() - start))

    async def dead(job: Job, exc: BaseException) -> None:
        raise AssertionError("nothing should die")

    await bus.enqueue_later("q", {"n": "held"}, 0.4)
    await bus.enqueue("q", {"n": "now"})
    async with working(bus, "q", handler, dead):
        await wait_for(lambda: len(seen) == 2)
    assert [n for n, _ in seen] == ["now", "held"]
    assert seen[1][1] >= 0.4


async def test_failed_job_is_redelivered_until_it_succeeds(bus: Bus) -> None:
    """A handler that fails twice sees the job a third time and it then settles."""
    attempts: list[int] = []

    async def handler(job: Job) -> None:
        attempts.append(job["n"])
        if len(attempts) < 3:
            raise RuntimeError("flaky")

    async def dead(job: Job, exc: BaseException) -> None:
        raise AssertionError("should have succeeded on the third try")

    await bus.enqueue("q", {"n": 7})
    async with working(bus, "q", handler, dead):
        await wait_for(lambda: len(attempts) == 3)
        await asyncio.sleep(0.2)
    assert attempts == [7, 7, 7]


async def test_job_that_keeps_failing_goes_to_dead_letter_once(bus: Bus) -> None:
    """After the last attempt the dead-letter handler gets the job, exactly once."""
    dead_jobs: list[Job] = []
    calls = 0

    async def handler(job: Job) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("always")

    async def dead(job: Job, exc: BaseException) -> None:
        dead_jobs.append(job)

    await bus.enqueue("q", {"n": 1})
    async with working(bus, "q", handler, dead):
        await wait_for(lambda: len(dead_jobs) == 1)
        await asyncio.sleep(0.3)
    assert dead_jobs == [{"n": 1}]
    assert calls == FAST.max_attempts


async def test_published_events_reach_every_listener(bus: Bus) -> None:
    """Two listeners both receive a published event with its payload and audience."""
    got: list[list[Event]] = [[], []]

    async def listen(i: int) -> None:
        async for event in bus.listen():
            got[i].append(event)

    tasks = [asyncio.create_task(listen(i)) for i in range(2)]
    await asyncio.sleep(0.2)  # let the subscriptions start
    await bus.publish(Event("message.created", {"id": 1, "text": "سلام"}))
    await wait_for(lambda: all(got))
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert [e.payload for e in got[0]] == [{"id": 1, "text": "سلام"}]
    assert got[1][0].name == "message.created"
