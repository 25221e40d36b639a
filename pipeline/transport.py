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
offsets as faust "gaps" commits them as soon as any later offset is acknowledged.)

Every yielded record follows on from the previous one. The consumer tracks the next offset
it expects per partition (set by each batch, by a seek and by seeking to the committed
offsets on assignment). A fetch that raced a seek can return records from before it (dropped:
already yielded) or from far after it; records dropped by faust mid-fetch on a rebalance leave
the next fetch starting after them. A jump is counted and the partition is fetched again from
the expected offset at once; only the same jump seen :data:`JUMP_RETRIES` times is taken as
records gone from the broker. (CI caught the earlier design, which let such a jump through
and left the stall watchdog to re-read the partition: a seek made while a batch was being
processed raised faust's read offset past the re-read, which faust then dropped silently, and
the partition never recovered.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

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

    __slots__ = ("follows", "records")

    records: Sequence[Any]
    #: the offset this batch continues from: its first, or the start of offsets found to be
    #: gone from the broker just before it
    follows: int

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
        batch.follows = int(records[0].offset)
        return batch

    @property
    def first_offset(self) -> int:
        return int(self.records[0].offset)


#: Longest a stopping worker lets the batches in hand settle (a sink holding for an outage gets
#: none): Kubernetes' default grace period is 30 s, and SIGTERM must end a worker well inside it.
SHUTDOWN_DRAIN_SECONDS = 8.0


def _never() -> bool:
    return False


class PipelineApp(faust.App):
    """A faust App that knows which topics its agents read as record batches."""

    batch_topics: frozenset[str] = frozenset()
    batch_max_records: int = 500
    #: Whether a sink holds batches for a Litefuse it cannot reach (set by ``create_app``).
    sink_holding: Callable[[], bool] = staticmethod(_never)
    #: How long the broker may hold a fetch waiting for data. faust hard-codes 1,500 ms, and
    #: the embedded broker holds an empty fetch that long even when records arrive meanwhile:
    #: with two hops that alone was ~2-3 s of latency at low rates.
    fetch_max_wait_ms: int = 100

    def _create_directories(self) -> None:
        """Create nothing: the app keeps its tables in memory (``store="memory://"``), yet
        faust would make ``<app id>-data/`` in the working directory at every start, so each
        demo, benchmark or test worker left one behind."""

    async def _consumer_wait_empty(self, consumer: Any, logger: Any) -> None:
        """faust's wait for every event in hand to be acknowledged, bounded.

        faust waits until each is acknowledged, however long (and its wait ignores being
        cancelled): a batch a sink holds for an unreachable Litefuse never is, so SIGTERM did
        nothing until Litefuse answered. The batches in hand get SHUTDOWN_DRAIN_SECONDS, none
        while a sink holds; what is left stays unacknowledged (uncommitted), and the partitions'
        next owner delivers it. (The app sets faust's stream_wait_empty off: the consumer's own
        stop would wait again, unbounded.)
        """
        in_hand = getattr(consumer, "_unacked_messages", ())  # faust's; unknown: nothing to wait
        deadline = time.monotonic() + SHUTDOWN_DRAIN_SECONDS
        while any(not message.acked for message in list(in_hand)):
            if self.sink_holding() or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.1)
        left: dict[str, int] = {}
        for message in list(in_hand):
            if not message.acked:
                records = getattr(message, "records", None)
                left[message.topic] = left.get(message.topic, 0) + len(records or [message])
        if left:
            logger.warning(
                "stopping with records not acknowledged, left for the next owner of their "
                "partitions: %s",
                ", ".join(f"{count} on {topic}" for topic, count in sorted(left.items())),
            )
        await consumer.commit_and_end_transactions()


class _ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        app = self.app
        if isinstance(app, PipelineApp):
            # read by AIOKafkaConsumer.start() when it builds its fetcher
            consumer._fetch_max_wait_ms = app.fetch_max_wait_ms
        return consumer


_T = TypeVar("_T")

#: Longest a seek waits for the consumer thread's loop (it is only ever busy for a moment).
SEEK_TIMEOUT_SECONDS = 30.0


async def call_on_loop(
    loop: asyncio.AbstractEventLoop | None, call: Callable[[], _T], timeout: float
) -> _T:
    """``call()`` run on ``loop`` (another thread's), awaited from this one.

    Runs it here when ``loop`` is missing, not running, or this very loop.
    """
    if loop is None or not loop.is_running() or loop is asyncio.get_running_loop():
        return call()

    async def run() -> _T:
        return call()

    future = asyncio.run_coroutine_threadsafe(run(), loop)
    return await asyncio.wait_for(asyncio.wrap_future(future), timeout)


#: How often the fetcher may return the same jump in offsets before it is taken as records
#: that are gone from the broker (retention, compaction) rather than a fetch to repeat.
JUMP_RETRIES = 3


class BatchingConsumer(aiokafka_driver.Consumer):
    """faust's aiokafka consumer, yielding :class:`RecordBatch` events for batch topics."""

    #: per batch-topic partition, the offset the next yielded record must have (None: unknown)
    _position: dict[TP, int]
    _yielded: dict[TP, deque[RecordBatch]]
    #: per partition, the last jump seen ((expected, got), times) to tell lost records from
    #: a fetch that raced a seek
    _jumps: dict[TP, tuple[tuple[int, int], int]]
    #: per partition, where reading began at the last seek: what commits follow on from
    #: while nothing is committed yet
    _base: dict[TP, int]

    def __post_init__(self) -> None:
        super().__post_init__()
        self._base = {}
        self._position = {}
        self._yielded = {}
        self._jumps = {}

    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def pending(self, tp: TP) -> str:
        """What holds ``tp``'s commits, for a stall's log line: the batches yielded and not yet
        committed, the first of them, and where commits follow on from."""
        batches = self._yielded.get(tp) or ()
        acked = sum(1 for batch in batches if batch.acked)
        text = f"{len(batches)} batches uncommitted ({acked} acknowledged)"
        if batches:
            first = batches[0]
            text += (
                f", the first {first.first_offset}-{first.offset} (follows {first.follows}, "
                f"acknowledged {first.acked}, generation {first.generation_id} of "
                f"{self.app.consumer_generation_id})"
            )
        return f"{text}; base {self._base.get(tp)}, position {self._position.get(tp)}"

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
                break  # the rest is dropped: the next fetch starts past it, and is rewound
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
                # Checked per batch: a seek may land while the previous batch is processed.
                follows, admitted, rewind_to = self._admit(
                    tp, tp_records[start : start + max_records]
                )
                if rewind_to is not None:
                    await self._rewind(tp, rewind_to)
                    break
                if not admitted:
                    continue
                batch = self._to_batch(tp, admitted, follows)
                self._yielded.setdefault(tp, deque()).append(batch)
                # faust's fetcher drops a message below its read offset, which a seek made
                # while the previous batch was processed can leave too high; continuity is
                # checked above instead.
                self._read_offset[tp] = batch.first_offset - 1 or None
                yield tp, batch

    def _admit(self, tp: TP, records: Sequence[Any]) -> tuple[int, Sequence[Any], int | None]:
        """The records of a fetched run to yield, and where they continue from; or the offset
        to rewind the fetch to when they do not follow on from the last yielded record.

        Records before the expected position were yielded already (a fetch that raced a seek)
        and are dropped. Records after it mean the fetcher skipped some: rewind, unless the
        same jump came back :data:`JUMP_RETRIES` times, i.e. those offsets are gone from the
        broker.
        """
        position = self._position.get(tp)
        if position is not None:
            if records[-1].offset < position:
                return position, (), None
            if records[0].offset < position:
                records = [r for r in records if r.offset >= position]
            first = records[0].offset
            if first > position:
                jump = (position, first)
                seen, times = self._jumps.get(tp, (jump, 0))
                times = times + 1 if seen == jump else 1
                self._jumps[tp] = (jump, times)
                metrics.fetch_gaps.labels(tp.topic).inc()
                extra = {"topic": tp.topic, "partition": tp.partition}
                if times < JUMP_RETRIES:
                    log.warning(
                        "%s[%d]: the fetch jumped from offset %d to %d; fetching again from %d",
                        tp.topic,
                        tp.partition,
                        position,
                        first,
                        position,
                        extra=extra,
                    )
                    return position, (), position
                log.error(
                    "%s[%d]: offsets %d..%d are not on the broker (fetched %d times; retention "
                    "or compaction?); continuing from %d",
                    tp.topic,
                    tp.partition,
                    position,
                    first - 1,
                    times,
                    first,
                    extra=extra,
                )
        follows = records[0].offset if position is None else position
        self._position[tp] = records[-1].offset + 1
        self._jumps.pop(tp, None)
        return follows, records, None

    async def _rewind(self, tp: TP, offset: int) -> None:
        """Fetch ``tp`` again from ``offset``, keeping the batches yielded before it."""
        try:
            await super().seek(tp, offset)
        except Exception as exc:  # e.g. revoked meanwhile: the next assignment seeks anyway
            log.warning(
                "%s[%d]: rewinding to offset %d failed: %s", tp.topic, tp.partition, offset, exc
            )

    def _to_batch(self, tp: TP, records: Sequence[Any], follows: int | None = None) -> RecordBatch:
        last = records[-1]
        batch = RecordBatch.of(
            tp,
            records,
            last.timestamp / 1000.0 if last.timestamp is not None else 0.0,
            self.app.consumer_generation_id,
            sum(len(r.value) for r in records if r.value is not None),
        )
        if follows is not None:
            batch.follows = follows
        return batch

    def _new_offset(self, tp: TP) -> int | None:
        """The offset to commit: past the acknowledged batches that follow each other from the
        committed offset on (module docstring); faust's arithmetic for other topics."""
        if tp.topic not in self._batching()[0]:
            return super()._new_offset(tp)
        batches = self._yielded.setdefault(tp, deque())
        position = self._committed_offset[tp]
        if position is None:  # nothing committed yet: from where reading began
            position = self._base.get(tp)
        new: int | None = None
        while batches and batches[0].acked:
            batch = batches[0]
            if position is not None and batch.follows > position:
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
        self._forget(partition)
        self._base[partition] = self._position[partition] = offset
        await super().seek(partition, offset)

    async def _seek(self, partition: TP, offset: int) -> None:
        """Seek in the consumer thread, where aiokafka's fetcher runs.

        faust seeks from the app's thread, but the fetcher is not thread-safe: a seek that
        dropped a partition's fetched records while the consumer thread was draining them
        raised ``KeyError`` there, which crashed the worker (the stall watchdog's re-read, in a
        stress run of the outage test).
        """
        thread = self._thread
        await call_on_loop(
            getattr(thread, "thread_loop", None),
            lambda: thread.seek(partition, offset),
            SEEK_TIMEOUT_SECONDS,
        )

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek every partition to its committed offset, or to the start of its log.

        aiokafka seeks only partitions with a committed offset above 0 and leaves the others
        where their fetch was. A fetch that had already yielded records of such a partition
        then went on after them, and with no committed offset to compare against, the
        batches after them were committed: a stress run lost 655 traces that way. So those
        partitions are sought explicitly, and the start of the log becomes their base.
        """
        committed = await super().seek_to_committed()
        batch_topics = self._batching()[0]
        sought = {tp for tp, offset in committed.items() if offset is not None and offset > 0}
        unsought = [tp for tp in committed if tp not in sought and tp.topic in batch_topics]
        starts: Mapping[TP, int] = {}
        if unsought:
            try:
                starts = await self.earliest_offsets(*unsought)
            except Exception as exc:  # rare; such partitions keep faust's behaviour
                log.warning("finding where partitions begin failed: %s", exc)
        for tp in committed:
            self._forget(tp)
        for tp in sought:
            self._base[tp] = self._position[tp] = committed[tp]
        for tp in unsought:
            start = 0 if committed[tp] == 0 else starts.get(tp)
            if start is not None and start >= 0:
                await self._rewind(tp, start)
                self._base[tp] = self._position[tp] = start
        return committed

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        # faust does not say which partitions a worker got; operators scaling workers ask
        by_topic: dict[str, list[int]] = {}
        for tp in sorted(assigned):
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        log.info(
            "assigned (generation %s): %s",
            generation_id,
            "; ".join(f"{topic}{parts}" for topic, parts in by_topic.items()) or "nothing",
        )
        await super().on_partitions_assigned(assigned, generation_id)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        for tp in revoked:
            self._forget(tp)
        await super().on_partitions_revoked(revoked)

    def _forget(self, tp: TP) -> None:
        self._yielded.pop(tp, None)
        self._position.pop(tp, None)
        self._base.pop(tp, None)
        self._jumps.pop(tp, None)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """faust's fetcher sees a jump between a batch's offset (its last) and the previous:
        continuity of batch topics is checked in :meth:`_admit` instead.

        faust would acknowledge the missing offsets, assuming compaction or transaction
        markers; our topics are neither.
        """
        if tp.topic not in self._batching()[0]:
            await super()._add_gap(tp, offset_from, offset_to)


class Transport(aiokafka_driver.Transport):
    Consumer: ClassVar[type[BatchingConsumer]] = BatchingConsumer


def register() -> None:
    """Make ``kafka+batches://`` resolve to this transport (idempotent)."""
    TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
