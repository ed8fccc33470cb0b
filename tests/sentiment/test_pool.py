"""The batcher pool spreads a burst over its batchers and scores each text once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

from core.types import Sentiment, SentimentLabel
from sentiment.batcher import Batcher
from sentiment.pool import BatcherPool


class SlowScorer:
    """Takes 20 ms per batch and records which thread scored which texts."""

    name = "slow"

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.threads: set[int] = set()

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """Neutral for everything, slowly."""
        time.sleep(0.02)
        self.seen.extend(texts)
        self.threads.add(threading.get_ident())
        probs = {"angry": 0.0, "negative": 0.0, "neutral": 1.0, "positive": 0.0}
        return [Sentiment(SentimentLabel.NEUTRAL, probs, 0.0, False, self.name) for _ in texts]


async def test_burst_is_shared_by_every_batcher_and_scored_once() -> None:
    """Forty texts at once: both scorers work, every text is scored exactly once."""
    scorers = [SlowScorer(), SlowScorer()]
    pool = BatcherPool([Batcher(s, max_batch=4, max_wait=0.001) for s in scorers])
    texts = [f"t{i}" for i in range(40)]
    results = await asyncio.gather(*(pool.score(t) for t in texts))
    await pool.close()
    assert len(results) == 40 and all(r.label == "neutral" for r in results)
    assert all(s.seen for s in scorers), "both batchers took part"
    assert sorted(scorers[0].seen + scorers[1].seen) == sorted(texts)
