"""Micro-batching for real time: concurrent ``score`` calls share one executor call."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import Executor
from dataclasses import dataclass
from types import TracebackType

from core.types import Sentiment
from sentiment.scorer import Scorer


@dataclass
class _Pending:
    """A text waiting to be scored and the future its caller awaits."""

    text: str
    future: asyncio.Future[Sentiment]


class Batcher:
    """Collects texts for up to ``max_wait`` seconds or ``max_batch`` texts, then scores them.

    One batch is scored at a time, in ``executor`` (the loop's default when ``None``), so the
    event loop never runs the model; texts arriving while a batch is being scored form the next
    batch, which is how load turns into bigger, cheaper batches.
    """

    def __init__(
        self,
        scorer: Scorer,
        *,
        max_batch: int = 16,
        max_wait: float = 0.005,
        executor: Executor | None = None,
    ) -> None:
        """Configure; the worker task starts on the first call, inside the running loop."""
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if max_wait < 0:
            raise ValueError("max_wait must not be negative")
        self.scorer = scorer
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.executor = executor
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    async def score(self, text: str) -> Sentiment:
        """Score one text, batched with whatever else arrives at about the same time."""
        if self._closed:
            raise RuntimeError("Batcher is closed")
        loop = asyncio.get_running_loop()
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = loop.create_task(self._run(self._queue), name="sentiment-batcher")
        future: asyncio.Future[Sentiment] = loop.create_future()
        self._queue.put_nowait(_Pending(text, future))
        return await future

    async def _collect(self, queue: asyncio.Queue[_Pending]) -> list[_Pending]:
        """Wait for a first text, then gather more until the batch is full or time is up."""
        batch = [await queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while len(batch) < self.max_batch:
            if not queue.empty():
                batch.append(queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run(self, queue: asyncio.Queue[_Pending]) -> None:
        """Worker loop: collect a batch, score it in the executor, hand out the verdicts."""
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect(queue)
            live = [item for item in batch if not item.future.done()]
            if not live:
                continue
            try:
                verdicts = await loop.run_in_executor(
                    self.executor, self.scorer.score, [item.text for item in live]
                )
                if len(verdicts) != len(live):
                    raise RuntimeError("scorer returned a different number of verdicts")
            except asyncio.CancelledError:
                for item in live:
                    item.future.cancel()
                raise
            except Exception as exc:  # every waiting caller must hear about it
                for item in live:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            for item, verdict in zip(live, verdicts, strict=True):
                if not item.future.done():
                    item.future.set_result(verdict)

    async def close(self) -> None:
        """Stop the worker; callers still waiting get ``CancelledError``."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait().future.cancel()

    async def __aenter__(self) -> Batcher:
        """Use as ``async with Batcher(scorer) as batcher``."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close on exit."""
        await self.close()
