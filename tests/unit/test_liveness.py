"""Liveness: what /healthz says, tick by tick of the partition watch."""

from __future__ import annotations

from pipeline.delivery.liveness import Liveness
from pipeline.delivery.stalls import PartitionState


def _state(committed: int | None, highwater: int, partition: int = 0) -> PartitionState:
    return PartitionState(("kong-logs", partition), committed, committed, highwater)


def test_alive_while_offsets_move_and_stalled_once_they_stop_with_records_left() -> None:
    liveness = Liveness(stall_seconds=60, watch_interval=5)
    assert liveness.health(0).alive  # starting
    for tick, committed in enumerate((10, 20, 30)):
        liveness.observe([_state(committed, 100)], holding=False, now=tick * 5)
        assert liveness.health(tick * 5).alive
    for now in range(15, 80, 5):  # stuck at 30 with 70 records left
        liveness.observe([_state(30, 100)], holding=False, now=now)
    health = liveness.health(75)
    assert not health.alive and "LIVENESS_STALL_SECONDS=60" in health.reason


def test_caught_up_is_not_stalled() -> None:
    liveness = Liveness(stall_seconds=60, watch_interval=5)
    for now in range(0, 300, 5):
        liveness.observe([_state(100, 100)], holding=False, now=now)
    assert liveness.health(300).alive


def test_holding_for_an_outage_is_not_stalled_and_restarts_the_clock() -> None:
    liveness = Liveness(stall_seconds=60, watch_interval=5)
    for now in range(0, 300, 5):
        liveness.observe([_state(30, 100)], holding=True, now=now)
    assert liveness.health(300).alive
    for now in range(300, 355, 5):  # over at 295: no progress for 55 s yet, still alive
        liveness.observe([_state(30, 100)], holding=False, now=now)
    assert liveness.health(350).alive
    liveness.observe([_state(30, 100)], holding=False, now=360)
    assert not liveness.health(360).alive


def test_a_watch_that_stopped_running_is_not_alive() -> None:
    liveness = Liveness(stall_seconds=60, watch_interval=5)
    liveness.observe([_state(100, 100)], holding=False, now=0)
    assert liveness.health(20).alive
    health = liveness.health(30)
    assert not health.alive and "partition watch" in health.reason


def test_zero_stall_seconds_never_reports_a_stall() -> None:
    liveness = Liveness(stall_seconds=0, watch_interval=5)
    for now in range(0, 1000, 5):
        liveness.observe([_state(30, 100)], holding=False, now=now)
    assert liveness.health(1000).alive
