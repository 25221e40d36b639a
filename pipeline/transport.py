"""How records enter the faust app: one event per fetched run of records, not one per record.

Measured here, a trivial faust agent moves ~5,000 records/s while a bare consumer moves
100,000+ (BENCHMARKS.md). A py-spy profile of that agent puts the cost in faust's per-event
path, not in Kafka: for every record the fetcher creates two asyncio tasks
(``Consumer._drain_messages`` → ``Service.wait_first``), the conductor decodes and enqueues an
event, and the stream dequeues it, runs its sensors and tracks its ack — ~190 µs of one core
per record before any work is done.

So this transport keeps faust's aiokafka consumer (group membership, rebalances, offsets,
tables, acks) and changes only what it yields for the topics the app names: one
:class:`RecordBatch` per run of consecutive records of one partition, up to
``batch_max_records``. The faust per-event cost is paid once per batch, and an agent gets a
list it can enrich and send in one go.

Offsets stay exact. A batch is one faust message whose offset is the batch's last. For batch
topics the consumer keeps the batches it yielded per partition, in order, and commits past a
batch only when it and every batch before it were acknowledged, and each began where the
previous one ended: batches acknowledged out of order (the enrich agent has several in flight)
commit nothing early. (faust's own bookkeeping would not do: registering a batch's inner
offsets as faust "gaps" commits them as soon as any later offset is acknowledged.) A real jump
between batches (records the fetcher skipped) is counted, logged and never committed past, so
the stall watchdog (``pipeline.delivery.stalls``) re-reads the partition from the committed
offset; a seek forgets the batches yielded before it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import faust
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, Message
from faust.types.tuples import ConsumerMessage

from pipeline import metrics

log = logging.getLogger(__name__)

#: faust broker URL scheme of this transport: ``kafka+batches://host:9092``.
SCHEME = "kafka+batches"


class RecordBatch(ConsumerMessage):
    """One faust message standing for consecutive records of one partition.

    ``records`` are aiokafka ``ConsumerRecord`` objects (``offset``, ``timestamp`` in ms,
    ``key``, ``value``, ``headers``); ``offset`` is the last record's, so acknowledging the
    batch acknowledges them all.
    """

    __slots__ = ("records",)

    records: Sequence[Any]

    @classmethod
    def of(
        cls,
        tp: TP,
        records: Sequence[Any],
        timestamp: float,
        generation_id: int | None,
        value_size: int = 0,
    ) -> RecordBatch:
        """A batch message standing for ``records`` (offset, type and headers of the last)."""
        last = records[-1]
        batch = cls(
            last.topic,
            last.partition,
            last.offset,
            timestamp,
            last.timestamp_type,
            [],
            None,
            b"",
            None,
            0,
            value_size,
            tp,
            generation_id=generation_id,
        )
        batch.records = records
        return batch

    @property
    def first_offset(self) -> int:
        return int(self.records[0].offset)


class PipelineApp(faust.App):
    """A faust App that knows which topics its agents read as record batches."""

    batch_topics: frozenset[str] = frozenset()
    batch_max_records: int = 500
    #: How long the broker may hold a fetch waiting for data. faust hard-codes 1,500 ms, and
    #: the embedded broker holds an empty fetch that long even when records arrive meanwhile:
    #: with two hops that alone was ~2-3 s of latency at low rates.
    fetch_max_wait_ms: int = 100


class _ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        app = self.app
        if isinstance(app, PipelineApp):
            # read by AIOKafkaConsumer.start() when it builds its fetcher
            consumer._fetch_max_wait_ms = app.fetch_max_wait_ms
        return consumer


class BatchingConsumer(aiokafka_driver.Consumer):
    """faust's aiokafka consumer, yielding :class:`RecordBatch` events for batch topics."""

    _batch_first: dict[TP, int]
    _yielded: dict[TP, deque[RecordBatch]]

    def __post_init__(self) -> None:
        super().__post_init__()
        self._batch_first = {}
        self._yielded = {}

    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _batching(self) -> tuple[frozenset[str], int]:
        app = self.app
        if isinstance(app, PipelineApp):
            return app.batch_topics, app.batch_max_records
        return frozenset(), 1

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        batch_topics, max_records = self._batching()
        if not batch_topics:
            async for item in super().getmany(timeout):
                yield item
            return
        # Mirrors base Consumer.getmany (flow control, generation checks), per partition run.
        records, active_partitions = await self._wait_next_records(timeout)
        generation_id = self.app.consumer_generation_id
        if records is None or self.should_stop:
            return
        if not self.flow_active:
            try:
                await self.perform_seek()
            except Exception as exc:
                log.warning("seeking back to committed offsets failed: %s", exc)
            return
        for tp, tp_records in records.items():
            if not self.flow_active or self.app.consumer_generation_id != generation_id:
                break
            if not (
                active_partitions is None
                or tp in active_partitions
                or tp in self._buffered_partitions
            ):
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            if tp.topic not in batch_topics:
                for record in tp_records:
                    yield tp, self._to_message(tp, record)
                continue
            for start in range(0, len(tp_records), max_records):
                batch = self._to_batch(tp, tp_records[start : start + max_records])
                self._batch_first[tp] = batch.first_offset
                self._yielded.setdefault(tp, deque()).append(batch)
                yield tp, batch

    def _to_batch(self, tp: TP, records: Sequence[Any]) -> RecordBatch:
        last = records[-1]
        return RecordBatch.of(
            tp,
            records,
            last.timestamp / 1000.0 if last.timestamp is not None else 0.0,
            self.app.consumer_generation_id,
            sum(len(r.value) for r in records if r.value is not None),
        )

    def _new_offset(self, tp: TP) -> int | None:
        """The offset to commit: past the acknowledged batches that follow each other from the
        committed offset on (module docstring); faust's arithmetic for other topics."""
        if tp.topic not in self._batching()[0]:
            return super()._new_offset(tp)
        batches = self._yielded.setdefault(tp, deque())
        position = self._committed_offset[tp]
        new: int | None = None
        while batches and batches[0].acked:
            batch = batches[0]
            if position is not None and batch.first_offset > position:
                break  # records between were never yielded: never commit past them
            if position is None or batch.offset + 1 > position:
                position = new = batch.offset + 1
            batches.popleft()
        # faust's own acknowledgement lists are not used for batch topics: keep them empty
        self._acked[tp].clear()
        self._acked_index[tp].clear()
        return new

    async def seek(self, partition: TP, offset: int) -> None:
        # Batches yielded before a seek may never be acknowledged: forget them (an old batch
        # acknowledged later is then ignored, and its records are read again).
        self._yielded[partition] = deque()
        self._batch_first.pop(partition, None)
        await super().seek(partition, offset)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self._yielded.pop(tp, None)
            self._batch_first.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """A jump in offsets seen by faust's fetcher: never acknowledged (module docstring).

        faust assumes compaction or transaction markers and acknowledges the missing offsets;
        our topics are neither, so a jump means the fetcher skipped records, and
        acknowledging them would lose them. The fetcher reports the run up to a batch's last
        offset; only the part before the batch's first record is missing.
        """
        first = self._batch_first.get(tp)
        if first is not None and offset_from <= first <= offset_to:
            offset_to = first
        if offset_from >= offset_to:
            return
        metrics.fetch_gaps.labels(tp.topic).inc()
        log.warning(
            "%s[%d]: offsets %d..%d were skipped by the fetcher; not acknowledging them, so "
            "the partition is re-read from its committed offset",
            tp.topic,
            tp.partition,
            offset_from,
            offset_to - 1,
            extra={"topic": tp.topic, "partition": tp.partition},
        )


class Transport(aiokafka_driver.Transport):
    Consumer: ClassVar[type[BatchingConsumer]] = BatchingConsumer


def register() -> None:
    """Make ``kafka+batches://`` resolve to this transport (idempotent)."""
    TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
