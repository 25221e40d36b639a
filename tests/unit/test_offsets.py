"""The offset search on partitions held in memory: the logic without a broker."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import pytest

from pipeline.ops.offsets import CountingReader, Entry, find_end, lookup, search, verify


@dataclass
class MemoryPartition:
    """A partition as a sorted list of (offset, timestamp): gaps allowed, like compaction."""

    entries: list[Entry]
    fetches: int = 0
    offsets: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.offsets = [e.offset for e in self.entries]

    @classmethod
    def of(cls, timestamps: list[int], first: int = 0) -> MemoryPartition:
        return cls([Entry(first + i, ts) for i, ts in enumerate(timestamps)])

    @property
    def low(self) -> int:
        return self.entries[0].offset if self.entries else 0

    @property
    def end(self) -> int:
        return self.entries[-1].offset + 1 if self.entries else 0

    def read(self, offset: int) -> Entry | None:
        self.fetches += 1
        index = bisect.bisect_left(self.offsets, offset)
        return self.entries[index] if index < len(self.entries) else None

    def end_from(self, offset: int) -> int:
        self.fetches += 1
        return self.end


def first_at_or_after(timestamps: list[int], target: int) -> int:
    """What Kafka answers: the first offset whose timestamp is ≥ target (len if none)."""
    return next((i for i, ts in enumerate(timestamps) if ts >= target), len(timestamps))


# --- search -----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [-5, 0, 1, 999, 1000, 1001, 49_999, 50_000, 99_000, 10**9])
def test_search_matches_kafka_on_monotonic_timestamps(target: int) -> None:
    timestamps = [i * 1000 for i in range(100)]
    partition = MemoryPartition.of(timestamps)
    assert search(partition, target, 0, 100) == first_at_or_after(timestamps, target)


def test_search_needs_log_n_fetches() -> None:
    n = 1_000_000
    partition = MemoryPartition.of(list(range(0, 2 * n, 2)))
    assert search(partition, 777_777, 0, n) == 388_889
    assert partition.fetches <= math.ceil(math.log2(n)) + 1  # 21 for a million records


def test_empty_partition() -> None:
    partition = MemoryPartition([])
    assert search(partition, 5, 0, 0) == 0
    result = lookup(partition, 5, 0, 0, native=0)
    assert (result.offset, result.method, result.fetches) == (0, "empty", 0)
    assert find_end(partition, 0, 0) == 0


def test_all_before_and_all_after() -> None:
    partition = MemoryPartition.of([100, 200, 300], first=10)
    assert search(partition, 1_000, 10, 13) == 13  # all before the target: the end, nothing
    assert search(partition, 50, 10, 13) == 10  # all after: the first record


def test_equal_timestamps_give_the_first_of_them() -> None:
    timestamps = [1, 5, 5, 5, 5, 9]
    partition = MemoryPartition.of(timestamps)
    assert search(partition, 5, 0, 6) == 1
    assert search(partition, 6, 0, 6) == 5


def test_non_monotonic_timestamps_give_a_boundary() -> None:
    """Out-of-order producer timestamps: any boundary ts(o) ≥ t > ts(o-1), maybe not the first.

    Kafka answers the first record ≥ target (offset 1 here); the search finds offset 4. Both
    pass the verification, which is all one can check without a scan.
    """
    timestamps = [10, 30, 20, 10, 40, 50, 45, 60]
    partition = MemoryPartition.of(timestamps)
    found = search(partition, 25, 0, 8)
    assert timestamps[found] >= 25 and timestamps[found - 1] < 25
    assert verify(partition, 25, found, 0, 8)
    assert verify(partition, 25, first_at_or_after(timestamps, 25), 0, 8)


def test_gaps_from_compaction_give_a_seek_position() -> None:
    partition = MemoryPartition([Entry(0, 10), Entry(5, 20), Entry(9, 30), Entry(20, 40)])
    position = search(partition, 25, 0, 21)
    found = partition.read(position)
    assert found == Entry(9, 30)
    assert 5 < position <= 9  # after the last record before the target (offset 5, ts 20)


# --- verification of the broker's answer ------------------------------------------------------


def test_a_right_native_answer_is_used_with_two_fetches() -> None:
    timestamps = [i * 10 for i in range(1000)]
    partition = MemoryPartition.of(timestamps)
    result = lookup(partition, 5_005, 0, 1000, native=501)
    assert (result.offset, result.method, result.fetches) == (501, "native", 2)


def test_tansu_answer_zero_is_rejected_and_searched() -> None:
    timestamps = [i * 10 for i in range(1000)]
    partition = MemoryPartition.of(timestamps)
    result = lookup(partition, 5_005, 0, 1000, native=0)
    assert (result.offset, result.method, result.native) == (501, "search", 0)
    assert result.fetches <= 1 + math.ceil(math.log2(1000)) + 1


def test_zero_is_right_when_the_target_is_before_everything() -> None:
    partition = MemoryPartition.of([100, 200])
    result = lookup(partition, 50, 0, 2, native=0)
    assert (result.offset, result.method) == (0, "native")


def test_native_end_is_verified_on_the_last_record() -> None:
    partition = MemoryPartition.of([100, 200, 300])
    assert lookup(partition, 301, 0, 3, native=3).method == "native"
    wrong = lookup(partition, 250, 0, 3, native=3)
    assert (wrong.offset, wrong.method) == (2, "search")


@pytest.mark.parametrize("native", [None, -7, 4000, 2, 3])
def test_missing_or_wrong_answers_fall_back(native: int | None) -> None:
    partition = MemoryPartition.of([0, 10, 20, 30, 40])
    result = lookup(partition, 15, 0, 5, native=native)
    assert (result.offset, result.method) == (2, "native" if native == 2 else "search")


# --- the end of the log -----------------------------------------------------------------------


def test_end_found_beyond_a_low_watermark() -> None:
    """Tansu reports the last batch's base offset + 1: the rest of the batch is found by reading."""
    partition = MemoryPartition.of([1, 2, 3, 4, 5, 6, 7])
    counting = CountingReader(partition)
    assert find_end(counting, 0, 3) == 7
    assert counting.fetches == 2


def test_end_when_the_watermark_is_right() -> None:
    partition = MemoryPartition.of([1, 2, 3])
    assert find_end(partition, 0, 3) == 3


def test_end_when_the_watermark_is_too_high() -> None:
    partition = MemoryPartition.of(list(range(100)))
    counting = CountingReader(partition)
    assert find_end(counting, 0, 10_000) == 100
    assert counting.fetches <= 2 + math.ceil(math.log2(10_000))
