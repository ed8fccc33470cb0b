"""State the service's processes must agree on: rate limits, replay guards, live connections.

One process keeps it in memory (`LocalShared`). Several processes on one Redis (``REDIS_URL``)
share it there (`RedisShared`): a visitor's rate limit counts wherever their requests land, a
signed request replayed to another process is still a replay, and a frame for a browser socket
held by another process reaches it through Redis pub/sub. Connectors see only `Shared`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from core.bus import Bus

log = logging.getLogger(__name__)

PRESENCE_TTL_SECONDS = 60.0


@dataclass
class RateLimiter:
    """A token bucket per key: ``burst`` at once, refilled at ``per_minute``."""

    per_minute: float
    burst: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, key: str, now: float | None = None) -> float:
        """0 when allowed (and counted), else seconds until the next one is."""
        now = time.monotonic() if now is None else now
        tokens, last = self.buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_minute / 60.0)
        if tokens >= 1.0:
            self.buckets[key] = (tokens - 1.0, now)
            if len(self.buckets) > 50_000:
                self._forget_idle(now)
            return 0.0
        self.buckets[key] = (tokens, now)
        return (1.0 - tokens) * 60.0 / self.per_minute

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that are full again, so memory stays bounded."""
        refill = 60.0 * self.burst / self.per_minute
        self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < refill}


class SeenKeys:
    """Keys remembered for a while (bounded): the second sighting inside the TTL is a repeat."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._until: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str, ttl: float, now: float | None = None) -> bool:
        """Remember ``key`` for ``ttl`` seconds; False if it was already remembered."""
        now = time.time() if now is None else now
        while self._until and (
            next(iter(self._until.values())) < now or len(self._until) > self.size
        ):
            self._until.popitem(last=False)
        if self._until.get(key, 0.0) > now:
            return False
        self._until[key] = now + ttl
        self._until.move_to_end(key)
        return True


class Shared(ABC):
    """What connectors need to agree on with the service's other processes."""

    # Whether other processes exist to agree with (frames are then published).
    distributed: bool = False

    @abstractmethod
    async def take(self, key: str, per_minute: float, burst: int) -> float:
        """Count one request against ``key``'s token bucket: 0 when allowed, else seconds to wait.

        Args:
            key: whose bucket (e.g. ``webchat:visitor:<id>``).
            per_minute: the refill rate.
            burst: the bucket size.

        Returns:
            0.0 when the request is allowed, else seconds until one would be.
        """

    @abstractmethod
    async def first_time(self, key: str, ttl: float) -> bool:
        """True the first time ``key`` is seen within ``ttl`` seconds, by any process."""

    @abstractmethod
    async def here(self, key: str, count: int) -> None:
        """Say this process holds ``count`` live connections for ``key`` (0: none any more)."""

    @abstractmethod
    async def elsewhere(self, key: str) -> int:
        """Live connections for ``key`` that other processes hold."""

    @abstractmethod
    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        """Send a frame to the other processes listening on ``topic``."""

    @abstractmethod
    def listen(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        """Yield the frames other processes publish on ``topic`` from now on."""


class LocalShared(Shared):
    """A single process: everything in memory, nobody else to tell."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[float, int], RateLimiter] = {}
        self._seen = SeenKeys()

    async def take(self, key: str, per_minute: float, burst: int) -> float:
        """The bucket in this process's memory."""
        limiter = self._buckets.setdefault((per_minute, burst), RateLimiter(per_minute, burst))
        return limiter.allow(key)

    async def first_time(self, key: str, ttl: float) -> bool:
        """Remembered in this process's memory."""
        return self._seen.first_time(key, ttl)

    async def here(self, key: str, count: int) -> None:
        """Nobody else needs to know."""

    async def elsewhere(self, key: str) -> int:
        """There is no elsewhere."""
        return 0

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        """Nobody else to send to."""

    async def listen(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        """Nothing ever comes from elsewhere."""
        await asyncio.Event().wait()
        yield {}  # pragma: no cover - unreachable, makes this an async generator


# KEYS[1] bucket; ARGV: tokens per second, burst. Redis's clock, so every process agrees.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(v[1]) or burst
local at = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


class RedisShared(Shared):
    """Several processes on one Redis; falls back to this process's memory while Redis is down."""

    distributed = True

    def __init__(self, redis: Redis, prefix: str = "tawasul") -> None:
        self._redis = redis
        self._prefix = prefix
        self._process = uuid.uuid4().hex[:12]
        self._fallback = LocalShared()

    def _key(self, kind: str, key: str) -> str:
        return f"{self._prefix}:shared:{kind}:{key}"

    async def take(self, key: str, per_minute: float, burst: int) -> float:
        """One token bucket in Redis for every process."""
        try:
            wait = await self._redis.eval(
                _TAKE, 1, self._key("rate", key), per_minute / 60.0, burst
            )
            return float(wait)
        except RedisError as exc:
            log.warning("rate limit for %s counted in this process only: %r", key, exc)
            return await self._fallback.take(key, per_minute, burst)

    async def first_time(self, key: str, ttl: float) -> bool:
        """``SET NX`` with the TTL: only the first process to ask wins."""
        try:
            made = await self._redis.set(self._key("seen", key), "1", nx=True, px=int(ttl * 1000))
            return bool(made)
        except RedisError as exc:
            log.warning("replay check for %s made in this process only: %r", key, exc)
            return await self._fallback.first_time(key, ttl)

    async def here(self, key: str, count: int) -> None:
        """This process's count, with an expiry so a crashed process's sockets fade out."""
        name = self._key("here", key)
        try:
            if count > 0:
                until = time.time() + PRESENCE_TTL_SECONDS
                await self._redis.hset(name, self._process, f"{count}|{until:.0f}")
                await self._redis.expire(name, int(PRESENCE_TTL_SECONDS) + 5)
            else:
                await self._redis.hdel(name, self._process)
        except RedisError as exc:
            log.warning("could not record connections for %s: %r", key, exc)

    async def elsewhere(self, key: str) -> int:
        """Unexpired counts of the other processes."""
        try:
            entries = await self._redis.hgetall(self._key("here", key))
        except RedisError as exc:
            log.warning("could not read connections for %s: %r", key, exc)
            return 0
        now = time.time()
        total = 0
        for process, value in entries.items():
            count, _, until = str(value).partition("|")
            if str(process) != self._process and float(until or 0) > now:
                total += int(count)
        return total

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        """On the topic's pub/sub channel, marked as ours so we skip our own frames."""
        frame = json.dumps({"from": self._process, "data": data}, ensure_ascii=False)
        try:
            await self._redis.publish(self._key("topic", topic), frame)
        except RedisError as exc:
            log.warning("could not publish on %s: %r", topic, exc)

    async def listen(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        """Frames from the other processes (a lost connection raises; the caller listens again)."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._key("topic", topic))
        try:
            while True:
                msg = await pubsub.get_message(timeout=1.0)
                if msg is None or msg.get("type") != "message":
                    continue
                frame = json.loads(msg["data"])
                if frame.get("from") != self._process:
                    yield frame["data"]
        finally:
            # Bounded: redis-py can wedge a connection whose read was cancelled.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pubsub.aclose(), 2)  # type: ignore[no-untyped-call]


def shared_for(bus: Bus) -> Shared:
    """Redis-backed when the bus is on Redis (several processes may run), else in memory."""
    from core.redis_bus import RedisBus

    if isinstance(bus, RedisBus):
        return RedisShared(bus.redis, bus.prefix)
    return LocalShared()
