"""The batching transport's offset bookkeeping, on faust's own commit arithmetic.

A batch is one faust message whose offset is its last record's; the consumer commits past a
batch only once it and every batch before it were acknowledged — whatever the order — and
never past a real jump between batches.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from pipeline import metrics
from pipeline.transport import BatchingConsumer, PipelineApp, RecordBatch

TOPIC = "kong-logs"
PARTITION = TP(TOPIC, 0)


def _consumer(committed: int | None = None) -> Any:
    """The bookkeeping part of a consumer, without a running app or broker."""
    consumer: Any = BatchingConsumer.__new__(BatchingConsumer)
    app = PipelineApp("test-transport", broker="kafka+batches://127.0.0.1:1")
    app.batch_topics = frozenset({TOPIC})
    consumer.app = app
    consumer._acked = defaultdict(list)
    consumer._acked_index = defaultdict(set)
    consumer._committed_offset = defaultdict(lambda: None)
    consumer._committed_offset[PARTITION] = committed
    consumer._batch_first = {}
    consumer._yielded = {}
    return consumer


def _fetched(consumer: Any, first: int, last: int, previous_last: int | None) -> RecordBatch:
    """What getmany and faust's fetcher do for a batch [first, last]."""
    records = [
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
        for offset in (first, last)
    ]
    batch: RecordBatch = consumer._to_batch(PARTITION, records)
    consumer._batch_first[PARTITION] = first
    consumer._yielded.setdefault(PARTITION, deque()).append(batch)
    if previous_last is not None and last - previous_last > 1:
        asyncio.run(consumer._add_gap(PARTITION, previous_last + 1, last))
    return batch


def _commit(consumer: Any) -> int | None:
    """faust's commit step: the new offset, remembered as committed."""
    offset: int | None = consumer._new_offset(PARTITION)
    if offset is not None:
        consumer._committed_offset[PARTITION] = offset
    return offset


def _gaps() -> float:
    return float(metrics.fetch_gaps.labels(TOPIC)._value.get())


def test_acknowledging_a_batch_commits_past_all_its_records() -> None:
    consumer = _consumer(committed=0)
    batch = _fetched(consumer, 0, 499, None)
    assert _commit(consumer) is None
    batch.acked = True
    assert _commit(consumer) == 500


def test_batches_acknowledged_out_of_order_commit_only_what_is_done() -> None:
    consumer = _consumer(committed=0)
    first = _fetched(consumer, 0, 499, None)
    second = _fetched(consumer, 500, 999, 499)
    third = _fetched(consumer, 1000, 1499, 999)
    second.acked = True  # the enrich agent has several batches in flight
    assert _commit(consumer) is None, "nothing of the first batch is done yet"
    first.acked = True
    assert _commit(consumer) == 1000
    third.acked = True
    assert _commit(consumer) == 1500


def test_the_inside_of_a_batch_is_not_reported_as_a_gap() -> None:
    consumer = _consumer(committed=0)
    before = _gaps()
    _fetched(consumer, 0, 499, None)
    _fetched(consumer, 500, 999, 499)
    assert _gaps() == before


def test_a_real_jump_between_batches_is_reported_and_never_committed_past() -> None:
    consumer = _consumer(committed=0)
    before = _gaps()
    first = _fetched(consumer, 0, 499, None)
    first.acked = True
    assert _commit(consumer) == 500
    later = _fetched(consumer, 600, 699, 499)  # offsets 500..599 were skipped by the fetcher
    assert _gaps() == before + 1
    later.acked = True
    # the committed offset stays before the jump: the stall watchdog re-reads from there
    assert _commit(consumer) is None
    assert consumer._committed_offset[PARTITION] == 500


def test_after_a_seek_earlier_batches_no_longer_count() -> None:
    consumer = _consumer(committed=0)
    stale = _fetched(consumer, 0, 499, None)
    consumer._yielded[PARTITION] = deque()  # what seek() does before re-reading
    stale.acked = True
    assert _commit(consumer) is None
    again = _fetched(consumer, 0, 499, None)
    again.acked = True
    assert _commit(consumer) == 500


def test_a_batch_message_carries_its_records_and_the_last_offset() -> None:
    consumer = _consumer()
    consumer.app = SimpleNamespace(consumer_generation_id=3)
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
    assert batch.timestamp == (1_764_000_000_000 + 12) / 1000
    assert batch.serialized_value_size == 10 + 11 + 12
    assert batch.generation_id == 3 and batch.tp == PARTITION
