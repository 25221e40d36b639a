"""The batching transport's offset bookkeeping, on faust's own commit arithmetic.

A batch is one faust message whose offset is its last record's; the consumer commits past a
batch only once it and every batch before it were acknowledged — whatever the order — and
yields only records that follow on from the last one it yielded: a fetch that jumps ahead is
fetched again from the expected offset.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from pipeline import metrics
from pipeline.transport import (
    JUMP_RETRIES,
    BatchingConsumer,
    PipelineApp,
    RecordBatch,
    call_on_loop,
)

TOPIC = "kong-logs"
PARTITION = TP(TOPIC, 0)


class _Consumer(BatchingConsumer):
    """The bookkeeping part of a consumer, without a running app or broker: fetches are
    served from ``fetches`` and seeks are recorded instead of sent to a broker thread."""

    def __init__(self, committed: int | None, max_records: int) -> None:  # no Service init
        app = PipelineApp("test-transport", broker="kafka+batches://127.0.0.1:1")
        app.batch_topics = frozenset({TOPIC})
        app.batch_max_records = max_records
        self.app = app
        self._acked = defaultdict(list)
        self._acked_index = defaultdict(set)
        self._committed_offset = defaultdict(lambda: None)
        self._committed_offset[PARTITION] = committed
        self._read_offset = defaultdict(lambda: None)
        self._buffered_partitions = set()
        self.flow_active = True
        self._position = {}
        self._base = {}
        self._yielded = {}
        self._jumps = {}
        self.fetches: list[list[Any]] = []
        self.seeks: list[int] = []
        self.log = SimpleNamespace(dev=lambda *args, **kwargs: None)  # type: ignore[assignment]
        self.log_start = 0

    @property
    def should_stop(self) -> bool:
        return False

    def highwater(self, tp: TP) -> int:
        return 0

    async def _wait_next_records(self, timeout: float) -> Any:
        return {PARTITION: self.fetches.pop(0)}, None

    async def _seek(self, partition: TP, offset: int) -> None:
        self.seeks.append(offset)

    async def earliest_offsets(self, *partitions: TP) -> dict[TP, int]:
        return {tp: self.log_start for tp in partitions}


def _consumer(committed: int | None = 0, max_records: int = 500) -> _Consumer:
    return _Consumer(committed, max_records)


def _records(first: int, last: int) -> list[Any]:
    return [
        SimpleNamespace(
            topic=TOPIC,
            partition=0,
            offset=offset,
            timestamp=None,
            timestamp_type=0,
            key=None,
            value=b"",
            headers=[],
        )
        for offset in range(first, last + 1)
    ]


def _fetch(consumer: _Consumer, *runs: tuple[int, int]) -> list[RecordBatch]:
    """One fetch returning the given offset runs back to back; the batches yielded."""
    consumer.fetches.append([r for first, last in runs for r in _records(first, last)])

    async def drain() -> list[RecordBatch]:
        return [batch async for _, batch in consumer.getmany(1.0)]  # type: ignore[misc]

    return asyncio.run(drain())


def _spans(batches: Sequence[RecordBatch]) -> list[tuple[int, int]]:
    return [(b.first_offset, b.offset) for b in batches]


def _commit(consumer: _Consumer) -> int | None:
    """faust's commit step: the new offset, remembered as committed."""
    offset: int | None = consumer._new_offset(PARTITION)
    if offset is not None:
        consumer._committed_offset[PARTITION] = offset
    return offset


def _jumps() -> float:
    return float(metrics.fetch_gaps.labels(TOPIC)._value.get())


def test_a_fetch_is_yielded_as_batches_of_at_most_max_records() -> None:
    consumer = _consumer(max_records=400)
    batches = _fetch(consumer, (0, 999))
    assert _spans(batches) == [(0, 399), (400, 799), (800, 999)]
    assert all(isinstance(b, RecordBatch) for b in batches)


def test_acknowledging_a_batch_commits_past_all_its_records() -> None:
    consumer = _consumer()
    (batch,) = _fetch(consumer, (0, 499))
    assert _commit(consumer) is None
    batch.acked = True
    assert _commit(consumer) == 500


def test_batches_acknowledged_out_of_order_commit_only_what_is_done() -> None:
    consumer = _consumer()
    first, second, third = _fetch(consumer, (0, 1499))
    second.acked = True  # the enrich agent has several batches in flight
    assert _commit(consumer) is None, "nothing of the first batch is done yet"
    first.acked = True
    assert _commit(consumer) == 1000
    third.acked = True
    assert _commit(consumer) == 1500


def test_batches_that_follow_on_are_not_reported_as_jumps() -> None:
    consumer = _consumer()
    before = _jumps()
    _fetch(consumer, (0, 499))
    _fetch(consumer, (500, 999))
    assert _jumps() == before
    assert consumer.seeks == []


def test_a_jump_is_fetched_again_from_the_expected_offset_and_never_yielded() -> None:
    consumer = _consumer()
    before = _jumps()
    (first,) = _fetch(consumer, (0, 499))
    first.acked = True
    assert _commit(consumer) == 500
    assert _fetch(consumer, (600, 699)) == []  # offsets 500..599 were skipped by the fetch
    assert consumer.seeks == [500] and _jumps() == before + 1
    (again,) = _fetch(consumer, (500, 699))
    again.acked = True
    assert _commit(consumer) == 700


def test_a_jump_in_the_middle_of_a_fetch_keeps_what_came_before_it() -> None:
    consumer = _consumer(max_records=100)
    batches = _fetch(consumer, (0, 199), (300, 399))
    assert _spans(batches) == [(0, 99), (100, 199)]
    assert consumer.seeks == [200]


def test_records_already_yielded_are_dropped_from_a_fetch() -> None:
    """A fetch that raced a rewind can return records the consumer yielded already."""
    consumer = _consumer()
    _fetch(consumer, (0, 499))
    assert _fetch(consumer, (100, 499)) == []
    assert _spans(_fetch(consumer, (400, 699))) == [(500, 699)]
    assert consumer.seeks == []


def test_a_fetch_from_before_a_seek_does_not_skip_the_re_read() -> None:
    """What CI caught: the stall watchdog seeks back while the consumer still holds a fetch
    from further on. The old design yielded it, faust raised its read offset past the re-read
    and dropped the re-read records silently, and the partition never committed again."""
    consumer = _consumer(committed=0, max_records=500)
    consumer.fetches.append(_records(0, 999))

    async def scenario() -> tuple[list[Any], list[Any]]:
        stream: Any = consumer.getmany(1.0)
        _, first = await stream.__anext__()
        await consumer.seek(PARTITION, 0)  # the watchdog, while the first batch is processed
        rest = [batch async for _, batch in stream]
        consumer.fetches.append(_records(0, 999))  # the re-read
        again = [batch async for _, batch in consumer.getmany(1.0)]
        return [first, *rest], again

    before, again = asyncio.run(scenario())
    assert _spans(before) == [(0, 499)], "the stale rest of the fetch is not yielded"
    assert consumer.seeks == [0, 0]
    assert _spans(again) == [(0, 499), (500, 999)]
    before[0].acked = True  # acknowledged after the seek: ignored, its records come again
    for batch in again:
        batch.acked = True
    assert _commit(consumer) == 1000


def test_read_offset_is_set_just_below_each_batch() -> None:
    consumer = _consumer()
    _fetch(consumer, (0, 499))
    consumer._read_offset[PARTITION] = 10_000  # left high by a seek that raced a batch
    stream: Any = consumer.getmany(1.0)
    consumer.fetches.append(_records(500, 599))

    async def first() -> int | None:
        await stream.__anext__()
        value: int | None = consumer._read_offset[PARTITION]
        await stream.aclose()
        return value

    assert asyncio.run(first()) == 499


def test_the_same_jump_seen_repeatedly_is_taken_as_records_gone_from_the_broker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = _consumer(committed=100)
    consumer._position[PARTITION] = 100
    for _ in range(JUMP_RETRIES - 1):
        assert _fetch(consumer, (250, 299)) == []
    with caplog.at_level(logging.ERROR, logger="pipeline.transport"):
        (batch,) = _fetch(consumer, (250, 299))
    assert consumer.seeks == [100] * (JUMP_RETRIES - 1)
    assert "offsets 100..249 are not on the broker" in caplog.text
    assert batch.follows == 100
    batch.acked = True
    assert _commit(consumer) == 300


def test_a_different_jump_starts_the_count_again() -> None:
    consumer = _consumer()
    consumer._position[PARTITION] = 0
    assert _fetch(consumer, (300, 399)) == []
    assert _fetch(consumer, (200, 399)) == []
    assert _fetch(consumer, (300, 399)) == []
    assert consumer.seeks == [0, 0, 0]


def test_after_a_seek_earlier_batches_no_longer_count() -> None:
    consumer = _consumer()
    (stale,) = _fetch(consumer, (0, 499))
    asyncio.run(consumer.seek(PARTITION, 0))
    stale.acked = True
    assert _commit(consumer) is None
    (again,) = _fetch(consumer, (0, 499))
    again.acked = True
    assert _commit(consumer) == 500


def test_seeking_to_the_committed_offsets_sets_where_each_partition_continues(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _consumer()
    _fetch(consumer, (0, 799))

    async def committed(self: Any) -> dict[TP, int]:
        return {PARTITION: 300}

    monkeypatch.setattr(
        "faust.transport.consumer.ThreadDelegateConsumer.seek_to_committed", committed
    )
    asyncio.run(consumer.perform_seek())
    assert consumer._yielded == {}
    assert _fetch(consumer, (800, 899)) == []  # the fetch had not caught up with the seek
    assert consumer.seeks == [300]
    assert _spans(_fetch(consumer, (300, 499))) == [(300, 499)]


def _committed_by_broker(monkeypatch: pytest.MonkeyPatch, offset: int | None) -> None:
    async def committed(self: Any) -> dict[TP, int | None]:
        return {PARTITION: offset}  # aiokafka seeks only offsets above 0 itself

    monkeypatch.setattr(
        "faust.transport.consumer.ThreadDelegateConsumer.seek_to_committed", committed
    )


def test_with_nothing_committed_a_seek_goes_back_to_the_start_of_the_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a stress run caught: aiokafka left such a partition where its fetch was, the
    records yielded before the seek were forgotten, and the batches after them were
    committed as if they were the first: 482 traces lost."""
    consumer = _consumer(committed=None)
    consumer.log_start = 0
    yielded = _fetch(consumer, (0, 481))
    _committed_by_broker(monkeypatch, None)
    asyncio.run(consumer.perform_seek())  # a rebalance: what was yielded no longer counts
    assert consumer.seeks == [0]
    yielded[0].acked = True  # acknowledged late: ignored
    # the fetch had gone on where it was; it is fetched again from the start instead
    assert _fetch(consumer, (482, 790)) == []
    assert consumer.seeks == [0, 0]
    assert _commit(consumer) is None
    (again,) = _fetch(consumer, (0, 481))
    later = _fetch(consumer, (482, 790))
    later[0].acked = True
    assert _commit(consumer) is None, "never past records that were not processed"
    again.acked = True
    assert _commit(consumer) == 791


def test_a_partition_committed_at_zero_is_sought_there(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = _consumer(committed=None)
    _fetch(consumer, (0, 99))
    _committed_by_broker(monkeypatch, 0)
    asyncio.run(consumer.perform_seek())
    assert consumer.seeks == [0]
    assert _spans(_fetch(consumer, (0, 99))) == [(0, 99)]


def test_after_retention_the_log_start_is_the_base(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = _consumer(committed=None)
    consumer.log_start = 5000
    _committed_by_broker(monkeypatch, None)
    asyncio.run(consumer.perform_seek())
    assert consumer.seeks == [5000]
    (batch,) = _fetch(consumer, (5000, 5099))
    batch.acked = True
    assert _commit(consumer) == 5100


def test_a_batch_message_carries_its_records_and_the_last_offset() -> None:
    consumer = _consumer()
    consumer.app = SimpleNamespace(consumer_generation_id=3)  # type: ignore[assignment]
    records = [
        SimpleNamespace(
            topic=TOPIC,
            partition=0,
            offset=offset,
            timestamp=1_764_000_000_000 + offset,
            timestamp_type=0,
            key=None,
            value=b"x" * offset,
            headers=[],
        )
        for offset in (10, 11, 12)
    ]
    batch = consumer._to_batch(PARTITION, records)
    assert isinstance(batch, RecordBatch)
    assert (batch.offset, batch.first_offset, batch.records) == (12, 10, records)
    assert (batch.follows, batch.timestamp) == (10, (1_764_000_000_000 + 12) / 1000)
    assert batch.serialized_value_size == 10 + 11 + 12
    assert batch.generation_id == 3 and batch.tp == PARTITION


def test_a_stall_line_names_the_unacknowledged_batch_that_holds_the_commits() -> None:
    consumer = _consumer(committed=None, max_records=100)
    first, second, _ = _fetch(consumer, (0, 299))
    second.acked = True
    assert _commit(consumer) is None  # the first batch holds every commit after it
    assert consumer.pending(PARTITION) == (
        "3 batches uncommitted (1 acknowledged), the first 0-99 (follows 0, acknowledged "
        f"False, generation {first.generation_id} of {consumer.app.consumer_generation_id}); "
        "base None, position 300"
    )
    first.acked = True
    _fetch(consumer, (300, 399))[0].acked = True  # after the third: still held by it
    assert _commit(consumer) == 200
    assert consumer.pending(PARTITION).startswith("2 batches uncommitted (1 acknowledged)")


def test_a_seek_runs_in_the_consumer_thread() -> None:
    """aiokafka's fetcher is not thread-safe: faust's seek from the app's thread once deleted
    fetched records the consumer thread was draining (KeyError, the worker crashed)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="consumer-thread", daemon=True)
    thread.start()
    seen: list[tuple[str, TP, int]] = []

    def seek(tp: TP, offset: int) -> None:
        seen.append((threading.current_thread().name, tp, offset))

    consumer = _consumer()
    consumer._thread = SimpleNamespace(thread_loop=loop, seek=seek)  # type: ignore[assignment]
    try:
        asyncio.run(BatchingConsumer._seek(consumer, PARTITION, 42))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert seen == [("consumer-thread", PARTITION, 42)]


def test_a_call_on_a_loop_that_is_not_running_runs_here() -> None:
    async def main() -> tuple[str, str]:
        here = await call_on_loop(asyncio.get_running_loop(), lambda: "same loop", 1.0)
        stopped = await call_on_loop(asyncio.new_event_loop(), lambda: "stopped loop", 1.0)
        return here, stopped

    assert asyncio.run(main()) == ("same loop", "stopped loop")


def test_an_error_in_the_consumer_thread_reaches_the_caller() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def fail() -> None:
        raise KeyError("revoked")

    try:
        with pytest.raises(KeyError):
            asyncio.run(call_on_loop(loop, fail, 5.0))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
