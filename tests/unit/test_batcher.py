"""The sink's batcher: size and time bounds, and back-pressure while a flush is held."""

from __future__ import annotations

import asyncio

from pipeline.delivery.batcher import Batcher


def test_flushes_when_full_and_when_due() -> None:
    flushed: list[list[int]] = []

    async def flush(items: list[int]) -> None:
        flushed.append(items)

    async def scenario() -> None:
        batcher = Batcher(flush, max_size=3, max_wait=0.2)
        ticker = asyncio.ensure_future(batcher.run_ticker())
        for i in range(7):
            await batcher.add(i)
        assert flushed == [[0, 1, 2], [3, 4, 5]]
        assert len(batcher) == 1
        await asyncio.sleep(0.4)
        assert flushed[-1] == [6] and len(batcher) == 0
        ticker.cancel()

    asyncio.run(scenario())


def test_add_waits_while_a_flush_is_held() -> None:
    release = asyncio.Event()
    flushed: list[list[int]] = []

    async def slow_flush(items: list[int]) -> None:
        await release.wait()
        flushed.append(items)

    async def scenario() -> None:
        batcher = Batcher(slow_flush, max_size=2, max_wait=60)
        await batcher.add(1)
        full = asyncio.ensure_future(batcher.add(2))  # fills the batch: flush starts, held
        await asyncio.sleep(0.05)
        blocked = asyncio.ensure_future(batcher.add(3))
        await asyncio.sleep(0.05)
        assert not full.done() and not blocked.done(), "consumption did not stop"
        release.set()
        await asyncio.wait_for(asyncio.gather(full, blocked), 1)
        assert flushed == [[1, 2]] and len(batcher) == 1
        await batcher.flush()
        assert flushed == [[1, 2], [3]]

    asyncio.run(scenario())
