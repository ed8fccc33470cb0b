"""Shared state: one process in memory, or every process on one Redis seeing the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from core.bus import InProcessBus
from core.redis_bus import RedisBus
from core.shared import LocalShared, RateLimiter, RedisShared, SeenKeys, Shared, shared_for
from tests.conftest import REDIS_URL


def test_rate_limiter_refills_over_time() -> None:
    """A bucket empties with a burst and refills at the configured rate."""
    limiter = RateLimiter(per_minute=60, burst=2)
    assert limiter.allow("v", now=0) == 0 and limiter.allow("v", now=0) == 0
    assert limiter.allow("v", now=0) > 0
    assert limiter.allow("v", now=1.01) == 0


def test_seen_keys_repeat_only_within_their_ttl() -> None:
    """A key is a repeat while remembered, and new again once its TTL has passed."""
    seen = SeenKeys()
    assert seen.first_time("sig", 600, now=0)
    assert not seen.first_time("sig", 600, now=599)
    assert seen.first_time("sig", 600, now=601)


@pytest.fixture
async def redis_pair() -> AsyncIterator[tuple[RedisShared, RedisShared]]:
    """Two processes' views of one Redis, under a prefix of their own."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    yield RedisShared(client, prefix), RedisShared(client, prefix)
    keys = [k async for k in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
def pair(request: pytest.FixtureRequest) -> tuple[Shared, Shared]:
    """The same process twice in memory, or two processes on Redis."""
    if request.param == "local":
        one = LocalShared()
        return one, one
    found: tuple[Shared, Shared] = request.getfixturevalue("redis_pair")
    return found


async def test_the_burst_is_shared_and_then_asks_to_wait(pair: tuple[Shared, Shared]) -> None:
    """Requests counted by either side drain one bucket; the next one is told how long to wait."""
    a, b = pair
    assert [await s.take("visitor", 60, 3) for s in (a, b, a)] == [0.0, 0.0, 0.0]
    wait = await b.take("visitor", 60, 3)
    assert 0.9 < wait <= 1.0
    assert await a.take("someone else", 60, 3) == 0.0


async def test_a_key_is_new_once_whoever_sees_it(pair: tuple[Shared, Shared]) -> None:
    """The first sighting wins; the same key on the other side inside the TTL is a repeat."""
    a, b = pair
    assert await a.first_time("signature", 60)
    assert not await b.first_time("signature", 60)
    assert await b.first_time("another", 60)


@pytest.mark.redis
async def test_connections_and_frames_reach_the_other_process(
    redis_pair: tuple[RedisShared, RedisShared],
) -> None:
    """One process sees the other's live connections and gets its frames, never its own."""
    a, b = redis_pair
    await a.here("webchat:v1", 2)
    assert await b.elsewhere("webchat:v1") == 2 and await a.elsewhere("webchat:v1") == 0
    got: list[dict[str, Any]] = []

    async def listen() -> None:
        async for data in b.listen("webchat"):
            got.append(data)

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.2)  # subscribed
    await b.publish("webchat", {"from": "b itself"})
    await a.publish("webchat", {"to": "v1", "frame": {"type": "typing"}})
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.02)
    task.cancel()
    await asyncio.wait({task}, timeout=5)
    assert got == [{"to": "v1", "frame": {"type": "typing"}}]
    await a.here("webchat:v1", 0)
    assert await b.elsewhere("webchat:v1") == 0


@pytest.mark.redis
async def test_shared_state_follows_the_bus(redis_bus: RedisBus) -> None:
    """On the Redis bus the state is in Redis; on the in-process bus it stays in memory."""
    assert isinstance(shared_for(redis_bus), RedisShared)
    assert isinstance(shared_for(InProcessBus()), LocalShared)
