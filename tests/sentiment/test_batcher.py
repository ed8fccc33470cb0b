"""Tests for sentiment.batcher: micro-batching concurrent calls without blocking the loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from core.types import Sentiment
from sentiment.batcher import Batcher
from sentiment.scorer import make_sentiment


class SlowScorer:
    """Sleeps (blocking) per call and records every batch it was given."""

    name = "slow"

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        """Configure the blocking delay and whether calls raise."""
        self.delay = delay
        self.fail = fail
        self.batches: list[list[str]] = []
        self.threads: set[int] = set()

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """Block like a real model, then call texts with 'angry' in them angry."""
        self.batches.append(list(texts))
        self.threads.add(threading.get_ident())
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("model exploded")
        return [
            make_sentiment({"angry": 0.9, "neutral": 0.1}, 0.5, t)
            if "angry" in t
            else make_sentiment({"angry": 0.1, "neutral": 0.9}, 0.5, t)
            for t in texts
        ]


async def test_concurrent_calls_share_one_scorer_call() -> None:
    """Ten calls made together are scored in one batch and each gets its own verdict."""
    scorer = SlowScorer()
    async with Batcher(scorer, max_batch=32, max_wait=0.05) as batcher:
        texts = [f"msg {i} angry" if i % 2 else f"msg {i}" for i in range(10)]
        verdicts = await asyncio.gather(*(batcher.score(t) for t in texts))
    assert len(scorer.batches) == 1
    assert sorted(scorer.batches[0]) == sorted(texts)
    assert [v.model for v in verdicts] == texts
    assert [v.angry for v in verdicts] == [i % 2 == 1 for i in range(10)]


async def test_max_batch_splits_large_bursts() -> None:
    """A burst larger than max_batch is split into batches no bigger than max_batch."""
    scorer = SlowScorer()
    async with Batcher(scorer, max_batch=4, max_wait=0.05) as batcher:
        await asyncio.gather(*(batcher.score(str(i)) for i in range(10)))
    assert [len(batch) for batch in scorer.batches] == [4, 4, 2]


async def test_lone_call_waits_at_most_max_wait() -> None:
    """A single call is scored after about max_wait, not held for a full batch."""
    scorer = SlowScorer()
    async with Batcher(scorer, max_batch=64, max_wait=0.01) as batcher:
        started = time.perf_counter()
        await batcher.score("hello")
        elapsed = time.perf_counter() - started
    assert elapsed < 0.5
    assert scorer.batches == [["hello"]]


async def test_scoring_does_not_block_the_event_loop() -> None:
    """While a slow batch runs in the executor, the loop keeps ticking every few ms."""
    # A blocked loop would show one gap of at least the 0.5 s the model blocks for; a busy
    # shared machine adds scheduling jitter, hence the 0.25 s bound rather than a few ms.
    scorer = SlowScorer(delay=0.5)
    gaps: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        """Record the gap between wake-ups of a 5 ms sleep loop."""
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    stop = asyncio.Event()
    async with Batcher(scorer, max_batch=8, max_wait=0.002) as batcher:
        tick = asyncio.create_task(ticker(stop))
        await asyncio.gather(*(batcher.score(f"t{i}") for i in range(3)))
        stop.set()
        await tick
    assert threading.get_ident() not in scorer.threads
    assert len(gaps) > 20
    assert max(gaps) < 0.25


async def test_next_batch_forms_while_one_is_running() -> None:
    """Calls arriving during a running batch are gathered into the following batch."""
    scorer = SlowScorer(delay=0.1)
    async with Batcher(scorer, max_batch=16, max_wait=0.001) as batcher:
        first = asyncio.create_task(batcher.score("first"))
        await asyncio.sleep(0.03)
        rest = [asyncio.create_task(batcher.score(f"later {i}")) for i in range(5)]
        await asyncio.gather(first, *rest)
    assert scorer.batches[0] == ["first"]
    assert len(scorer.batches) == 2 and len(scorer.batches[1]) == 5


async def test_errors_reach_every_caller_and_the_batcher_recovers() -> None:
    """A failing scorer raises in each waiting caller; later calls still work."""
    scorer = SlowScorer(fail=True)
    async with Batcher(scorer, max_batch=8, max_wait=0.01) as batcher:
        results = await asyncio.gather(
            batcher.score("a"), batcher.score("b"), return_exceptions=True
        )
        assert all(isinstance(r, RuntimeError) for r in results)
        scorer.fail = False
        assert (await batcher.score("angry now")).angry


async def test_closed_batcher_refuses_work() -> None:
    """After close(), score() raises instead of hanging."""
    batcher = Batcher(SlowScorer())
    await batcher.score("x")
    await batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.score("y")


def test_invalid_settings_are_rejected() -> None:
    """A batch size below one or a negative wait is a configuration error."""
    with pytest.raises(ValueError):
        Batcher(SlowScorer(), max_batch=0)
    with pytest.raises(ValueError):
        Batcher(SlowScorer(), max_wait=-1)
