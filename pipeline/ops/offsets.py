"""Offset of a time in a Kafka partition, without trusting one broker's features.

Brokers differ: Apache Kafka and noida-db answer ``offsets_for_times`` right, the embedded Tansu
broker answers offset 0 for any time and reports the last batch's base offset + 1 as the high
watermark. So the broker's answer is only a candidate: it is checked by reading the record at it
and the one before, and replaced by a binary search over offsets by record timestamp (O(log n)
fetches, not a scan) when the check fails. The end of the log is found by reading, not taken from
the watermark.

The search logic talks to a :class:`PartitionReader` so it can be tested on a list in memory;
:class:`KafkaPartitionReader` is the confluent-kafka implementation.

Answers are *seek positions*: the first record with timestamp ≥ target is at or after the
returned offset, and ``end`` means there is none. With monotonic timestamps that is exact. With
producer timestamps out of order, the answer is a boundary ``o`` with ``ts(o) ≥ target`` and
``ts(o - 1) < target`` — Kafka's own answer (the first such record) satisfies it too, the binary
search may find a later one; records on the wrong side of the boundary are missed/included.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from confluent_kafka import Consumer, KafkaError, TopicPartition

from pipeline.kafka import quiet
from pipeline.terminal import UserError

Method = Literal["native", "search", "empty"]


class OffsetSearchError(UserError, RuntimeError):
    """The partition cannot be searched by time (e.g. its records carry no timestamp)."""


@dataclass(frozen=True, slots=True)
class Entry:
    offset: int
    timestamp: int  # epoch ms


class PartitionReader(Protocol):
    """Random access to one partition; every call is one fetch."""

    def read(self, offset: int) -> Entry | None:
        """The first record at or after ``offset``, or None when the log ends before it."""
        ...

    def end_from(self, offset: int) -> int:
        """Read forward from ``offset`` (which holds a record); the offset after the last one."""
        ...


@dataclass(slots=True)
class CountingReader:
    """Counts the fetches another reader makes, for the replay report and the tests."""

    inner: PartitionReader
    fetches: int = 0

    def read(self, offset: int) -> Entry | None:
        self.fetches += 1
        return self.inner.read(offset)

    def end_from(self, offset: int) -> int:
        self.fetches += 1
        return self.inner.end_from(offset)


@dataclass(frozen=True, slots=True)
class Lookup:
    """Where a time is in one partition, how that was found and what it cost."""

    offset: int
    method: Method
    fetches: int
    native: int | None = None  # the broker's answer, when it gave one


def find_end(reader: PartitionReader, low: int, reported_high: int) -> int:
    """The real end of the log (offset after the last record), found by reading.

    A watermark that is too low (Tansu) is corrected by reading forward from it; one that is too
    high (a record at ``high - 1`` is missing) by a binary search on "a record exists here".
    """
    high = max(reported_high, low)
    beyond = reader.read(high)
    if beyond is not None:
        return reader.end_from(beyond.offset)
    if high == low:
        return low
    last = reader.read(high - 1)
    if last is not None:
        return high
    lo, hi = low, high - 1  # the end is in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        found = reader.read(mid)
        if found is None or found.offset >= hi:
            hi = mid
        else:
            lo = found.offset + 1
    return lo


def search(reader: PartitionReader, target_ms: int, low: int, end: int) -> int:
    """Binary search for the first record with timestamp ≥ ``target_ms`` in ``[low, end)``."""
    lo, hi = low, end  # the answer is in [lo, hi]; hi == end means none
    while lo < hi:
        mid = (lo + hi) // 2
        found = reader.read(mid)
        if found is None or found.offset >= hi:
            hi = mid  # nothing readable in [mid, hi)
        elif found.timestamp >= target_ms:
            hi = mid
        else:
            lo = found.offset + 1
    return lo


def verify(reader: PartitionReader, target_ms: int, answer: int, low: int, end: int) -> bool:
    """Whether ``answer`` is a boundary: ts(answer) ≥ target > ts(record before it)."""
    if answer < low or answer > end:
        return False
    if answer < end:
        found = reader.read(answer)
        if found is None or found.timestamp < target_ms:
            return False
    if answer == low:
        return True
    previous = reader.read(answer - 1)
    # A gap before ``answer`` (compaction, transaction markers) cannot be checked cheaply.
    return previous is not None and previous.offset < answer and previous.timestamp < target_ms


def lookup(
    reader: PartitionReader, target_ms: int, low: int, end: int, native: int | None
) -> Lookup:
    """The broker's answer when it checks out, else the binary search's."""
    counting = CountingReader(reader)
    if end <= low:
        return Lookup(low, "empty", 0, native)
    if native is not None and verify(counting, target_ms, native, low, end):
        return Lookup(native, "native", counting.fetches, native)
    offset = search(counting, target_ms, low, end)
    return Lookup(offset, "search", counting.fetches, native)


# --- confluent-kafka ------------------------------------------------------------------------


def reader_consumer(bootstrap: str, group_id: str, **extra: Any) -> Consumer:
    """A consumer for probing: assign() only (never joins the group, never commits).

    ``auto.offset.reset=error`` and partition EOF events make a read past the end return at once
    on brokers that say so, instead of waiting for a message that is not coming.
    """
    return Consumer(
        quiet(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "error",
                "fetch.wait.max.ms": 50,
                **extra,
            }
        )
    )


@dataclass(slots=True)
class KafkaPartitionReader:
    """:class:`PartitionReader` over a confluent consumer (assign + poll per fetch)."""

    consumer: Consumer
    topic: str
    partition: int
    timeout: float = 2.0
    idle: float = 1.0
    reads: int = field(default=0)

    def _assign(self, offset: int) -> None:
        self.consumer.assign([TopicPartition(self.topic, self.partition, offset)])

    def _next(self, offset: int, deadline: float) -> Entry | None:
        """The next message of ours at or after ``offset`` before the deadline."""
        while time.monotonic() < deadline:
            message = self.consumer.poll(min(0.1, max(deadline - time.monotonic(), 0.0)))
            if message is None or message.partition() != self.partition:
                continue
            error = message.error()
            at = message.offset()
            at = -1 if at is None else at
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    if at >= offset:
                        return None
                    continue
                if error.code() in (KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE):
                    return None  # past the end (or before the start: retention)
                raise OffsetSearchError(f"{self.topic}[{self.partition}]: {error.str()}")
            if at < offset:
                continue  # left over from an earlier assignment
            kind, timestamp = message.timestamp()
            if kind == 0:  # TIMESTAMP_NOT_AVAILABLE
                raise OffsetSearchError(f"{self.topic}[{self.partition}]@{at} has no timestamp")
            return Entry(at, timestamp)
        return None  # nothing came: treat as the end (Tansu waits instead of saying so)

    def read(self, offset: int) -> Entry | None:
        self.reads += 1
        self._assign(offset)
        return self._next(offset, time.monotonic() + self.timeout)

    def end_from(self, offset: int) -> int:
        """Stream forward (one assignment, no per-record fetch) until EOF or ``idle`` seconds."""
        self.reads += 1
        self._assign(offset)
        last = offset - 1
        while True:
            found = self._next(last + 1, time.monotonic() + self.idle)
            if found is None:
                return last + 1
            last = found.offset


def watermarks(
    consumer: Consumer, topic: str, partitions: Iterable[int], timeout: float = 10.0
) -> dict[int, tuple[int, int]]:
    """Low and (reported) high watermark per partition."""
    result: dict[int, tuple[int, int]] = {}
    for partition in partitions:
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=timeout, cached=False
        )
        result[partition] = (int(low), int(high))
    return result


def native_offsets(
    consumer: Consumer,
    topic: str,
    targets: Mapping[int, int],
    ends: Mapping[int, int],
    timeout: float = 10.0,
) -> dict[int, int | None]:
    """The broker's ``offsets_for_times`` answers (-1, none, is the end); None if it fails."""
    if not targets:
        return {}
    try:
        answers = consumer.offsets_for_times(
            [TopicPartition(topic, p, ms) for p, ms in targets.items()], timeout=timeout
        )
    except Exception:  # unsupported API, timeout: the search does without
        return dict.fromkeys(targets)
    result: dict[int, int | None] = dict.fromkeys(targets)
    for answer in answers:
        if answer.partition not in targets or answer.error is not None:
            continue
        result[answer.partition] = ends[answer.partition] if answer.offset < 0 else answer.offset
    return result


def partitions_of(consumer: Consumer, topic: str, timeout: float = 10.0) -> list[int]:
    metadata = consumer.list_topics(topic, timeout=timeout)
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        raise OffsetSearchError(f"topic {topic!r} does not exist")
    return sorted(described.partitions)
