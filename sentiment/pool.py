"""Several batchers side by side: one scorer each, so a burst uses every core."""

from __future__ import annotations

from collections.abc import Sequence

from core.types import Sentiment
from sentiment.batcher import Batcher


class BatcherPool:
    """Sends each text to the least busy batcher; each batcher owns its own model."""

    def __init__(self, batchers: Sequence[Batcher]) -> None:
        """Take ready batchers (at least one)."""
        if not batchers:
            raise ValueError("a pool needs at least one batcher")
        self.batchers = list(batchers)
        self._busy = [0] * len(self.batchers)

    async def score(self, text: str) -> Sentiment:
        """Score one text on the batcher with the fewest texts in flight."""
        index = min(range(len(self.batchers)), key=self._busy.__getitem__)
        self._busy[index] += 1
        try:
            return await self.batchers[index].score(text)
        finally:
            self._busy[index] -= 1

    async def close(self) -> None:
        """Close every batcher."""
        for batcher in self.batchers:
            await batcher.close()
