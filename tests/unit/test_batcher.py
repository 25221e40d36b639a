"""The sink's batcher: size and time bounds, flushes in the background one at a time, and
back-pressure while a flush is held."""

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
        await asyncio.sleep(0)  # the second flush runs in the background
        assert flushed == [[0, 1, 2], [3, 4, 5]]
        assert len(batcher) == 1
        await asyncio.sleep(0.4)
        assert flushed[-1] == [6] and len(batcher) == 0
        ticker.cancel()

    asyncio.run(scenario())


def test_the_next_batch_fills_while_a_flush_is_held_then_add_waits() -> None:
    release = asyncio.Event()
    flushed: list[list[int]] = []
    started: list[list[int]] = []

    async def slow_flush(items: list[int]) -> None:
        started.append(items)
        await release.wait()
        flushed.append(items)

    async def scenario() -> None:
        batcher = Batcher(slow_flush, max_size=2, max_wait=60)
        for i in (1, 2, 3):  # 1, 2 fill a batch, whose flush is held; 3 starts the next
            await asyncio.wait_for(batcher.add(i), 1)
        await asyncio.sleep(0.05)
        assert started == [[1, 2]] and flushed == [] and len(batcher) == 1
        full = asyncio.ensure_future(batcher.add(4))  # the second batch is full: it waits
        await asyncio.sleep(0.05)
        blocked = asyncio.ensure_future(batcher.add(5))
        await asyncio.sleep(0.05)
        assert not full.done() and not blocked.done(), "consumption did not stop"
        assert started == [[1, 2]], "two flushes ran at once"
        release.set()
        await asyncio.wait_for(asyncio.gather(full, blocked), 1)
        await asyncio.wait_for(batcher.flush(), 1)
        assert flushed == [[1, 2], [3, 4], [5]] == started and len(batcher) == 0

    asyncio.run(scenario())


def test_a_failed_flush_is_raised_at_the_next_add_and_cancel_stops_a_held_one() -> None:
    async def failing(items: list[int]) -> None:
        raise RuntimeError("boom")

    async def held(items: list[int]) -> None:
        await asyncio.Event().wait()

    async def scenario() -> None:
        batcher = Batcher(failing, max_size=1, max_wait=60)
        await batcher.add(1)  # its flush fails in the background
        await asyncio.sleep(0)
        try:
            await batcher.add(2)
        except RuntimeError as exc:
            assert str(exc) == "boom"
        else:
            raise AssertionError("the failed flush was not raised")
        holding = Batcher(held, max_size=1, max_wait=60)
        await holding.add(1)
        flushing = holding._flushing
        assert flushing is not None and not flushing.done()
        holding.cancel()
        await asyncio.sleep(0)
        assert flushing.cancelled()
        await asyncio.wait_for(holding.flush(), 1)  # nothing left to wait for

    asyncio.run(scenario())
