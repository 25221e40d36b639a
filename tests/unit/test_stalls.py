"""The stall detector re-reads only partitions that are truly stuck, once per period."""

from __future__ import annotations

from pipeline.delivery.stalls import PartitionState, StallDetector

KEY = ("kong-logs", 3)


def state(committed: int | None, fetched: int | None, highwater: int) -> PartitionState:
    return PartitionState(KEY, committed, fetched, highwater)


def test_a_gap_behind_the_committed_offset_is_re_read_after_the_stall_period() -> None:
    detector = StallDetector(stall_seconds=10)
    stuck = state(committed=250, fetched=499, highwater=500)
    assert detector.stalled([stuck], now=0, sink_holding=False) == []
    assert detector.stalled([stuck], now=9, sink_holding=False) == []
    assert detector.stalled([stuck], now=10, sink_holding=False) == [stuck]
    # reported once per period, not on every tick
    assert detector.stalled([stuck], now=11, sink_holding=False) == []
    assert detector.stalled([stuck], now=20, sink_holding=False) == [stuck]


def test_progress_busy_partitions_and_outages_are_not_stalls() -> None:
    detector = StallDetector(stall_seconds=10)
    detector.stalled([state(100, 499, 500)], now=0, sink_holding=False)
    # the committed offset moved: the clock restarts
    assert detector.stalled([state(120, 499, 500)], now=15, sink_holding=False) == []
    # still fetching (not everything read yet): back-pressure, not a gap
    assert detector.stalled([state(120, 300, 500)], now=30, sink_holding=False) == []
    # the sink is holding a batch for an outage
    assert detector.stalled([state(120, 499, 500)], now=45, sink_holding=True) == []
    # nothing uncommitted
    assert detector.stalled([state(500, 499, 500)], now=60, sink_holding=False) == []
    # never committed, but still fetching
    assert detector.stalled([state(None, 480, 500)], now=90, sink_holding=False) == []
    assert detector.stalled([state(None, 499, 500)], now=95, sink_holding=False) == []
    off = StallDetector(stall_seconds=0)
    off.stalled([state(1, 499, 500)], now=0, sink_holding=False)
    assert off.stalled([state(1, 499, 500)], now=100, sink_holding=False) == []


def test_revoked_partitions_are_forgotten() -> None:
    detector = StallDetector(stall_seconds=10)
    detector.stalled([state(250, 499, 500)], now=0, sink_holding=False)
    detector.stalled([], now=5, sink_holding=False)  # revoked
    # assigned again later: a new observation, not a 15 s old stall
    assert detector.stalled([state(250, 499, 500)], now=15, sink_holding=False) == []


def test_a_partition_that_fetches_nothing_more_is_re_read() -> None:
    """A replacement worker sat on its assignment with lag and no fetch at all."""
    detector = StallDetector(stall_seconds=10)
    idle = state(committed=250, fetched=250, highwater=500)
    assert detector.stalled([idle], now=0, sink_holding=False) == []
    assert detector.stalled([idle], now=9, sink_holding=False) == []
    assert detector.stalled([idle], now=10, sink_holding=False) == [idle]
    assert detector.stalled([idle], now=11, sink_holding=False) == []


def test_a_partition_still_fetching_is_not_idle() -> None:
    detector = StallDetector(stall_seconds=10)
    for now, fetched in ((0, 260), (6, 300), (12, 340), (18, 380)):
        # the committed offset is stuck but records keep coming: back-pressure, not a stall
        assert detector.stalled([state(250, fetched, 500)], now=now, sink_holding=False) == []


def test_a_partition_never_committed_and_fetching_nothing_is_re_read() -> None:
    """A restarted worker sat on a partition nothing had been committed for, fetching nothing."""
    detector = StallDetector(stall_seconds=10)
    idle = state(committed=None, fetched=None, highwater=801)
    assert detector.stalled([idle], now=0, sink_holding=False) == []
    assert detector.stalled([idle], now=10, sink_holding=False) == [idle]


def test_the_stall_clock_starts_again_when_an_outage_ends() -> None:
    """Fetches stop by back-pressure during an outage: the moment it ends is no stall (a
    re-read then raced the recovery and, with faust's thread-unsafe seek, crashed a worker)."""
    detector = StallDetector(stall_seconds=10)
    idle = state(committed=489, fetched=488, highwater=2805)
    assert detector.stalled([idle], now=0, sink_holding=False) == []
    for now in range(1, 30):  # a 30 s outage: nothing fetched or committed meanwhile
        assert detector.stalled([idle], now=now, sink_holding=True) == []
    assert detector.stalled([idle], now=30, sink_holding=False) == []
    assert detector.stalled([idle], now=38, sink_holding=False) == []
    # nothing moved for a full period since the sink last held: now it is a stall
    assert detector.stalled([idle], now=39, sink_holding=False) == [idle]
