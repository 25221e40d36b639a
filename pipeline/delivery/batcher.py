"""Size- and time-bounded batches with back-pressure, in plain asyncio.

The sink agent used faust's ``Stream.take_events``; under rebalances its hidden take buffer and
passive drainer could deadlock (a partition stopped being processed, seen in our rebalance
test). This batcher sits on the plain event iteration faust exercises most: the agent ``add``s
each event, a ticker flushes batches older than ``max_wait``, and ``add`` waits while a flush
is in progress, so a sink that cannot deliver stops the agent from consuming.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


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

    def __len__(self) -> int:
        return len(self._items)

    async def add(self, item: T) -> None:
        """Add an item; flushes (and waits for the flush) when the batch is full."""
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
        async with self._lock:
            if self._items:
                await self._flush_locked()

    async def run_ticker(self) -> None:
        """Flush due batches forever (cancel to stop); ticks at a quarter of ``max_wait``."""
        while True:
            await asyncio.sleep(self.max_wait / 4)
            await self.flush_due()

    async def _flush_locked(self) -> None:
        items, self._items = self._items, []
        await self._flush(items)
