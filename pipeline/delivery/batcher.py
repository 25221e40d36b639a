"""Size- and time-bounded batches with back-pressure, in plain asyncio.

The sink agent used faust's ``Stream.take_events``; under rebalances its hidden take buffer and
passive drainer could deadlock (a partition stopped being processed, seen in our rebalance
test). This batcher sits on the plain event iteration faust exercises most: the agent ``add``s
each event, and a ticker flushes batches older than ``max_wait``.

A full batch is flushed in the background while the next one fills: the agent keeps taking
events while Litefuse answers. Flushes run one at a time, in order, and a batch that is full
while the previous one is still being flushed waits for it, so a sink that cannot deliver
stops the agent from consuming (at most two batches held: one flushing, one full). Flushing
in the agent itself stopped it for every request; its stream buffer then filled, and faust's
fetcher, which waits for a full buffer, stopped feeding the worker's other agents too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


def _log_failure(flushing: asyncio.Future[None]) -> None:
    """Say at once that a flush failed; the agent gets the error at its next add or flush."""
    if not flushing.cancelled() and flushing.exception() is not None:
        log.error("flushing a batch failed", exc_info=flushing.exception())


class Batcher(Generic[T]):
    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[None]],
        max_size: int,
        max_wait: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._flush = flush
        self.max_size = max_size
        self.max_wait = max_wait
        self._clock = clock
        self._items: list[T] = []
        self._first_at = 0.0
        self._lock = asyncio.Lock()
        self._flushing: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    async def add(self, item: T) -> None:
        """Add an item; a full batch starts flushing once the previous flush is done."""
        async with self._lock:
            if not self._items:
                self._first_at = self._clock()
            self._items.append(item)
            if len(self._items) >= self.max_size:
                await self._flush_locked()

    async def flush_due(self) -> None:
        """Flush the batch if its oldest item waited ``max_wait``."""
        async with self._lock:
            if self._items and self._clock() - self._first_at >= self.max_wait:
                await self._flush_locked()

    async def flush(self) -> None:
        """Flush what is batched, and wait until every flush is done."""
        async with self._lock:
            if self._items:
                await self._flush_locked()
            await self._settled()

    def cancel(self) -> None:
        """Cancel the flush in progress (the agent is stopping: its events stay unacknowledged)."""
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None

    async def run_ticker(self) -> None:
        """Flush due batches forever (cancel to stop); ticks at a quarter of ``max_wait``."""
        while True:
            await asyncio.sleep(self.max_wait / 4)
            await self.flush_due()

    async def _flush_locked(self) -> None:
        await self._settled()
        items, self._items = self._items, []
        self._flushing = asyncio.ensure_future(self._flush(items))
        self._flushing.add_done_callback(_log_failure)

    async def _settled(self) -> None:
        """Wait for the flush in progress (its error, if any, is raised here)."""
        flushing, self._flushing = self._flushing, None
        if flushing is not None:
            await flushing
