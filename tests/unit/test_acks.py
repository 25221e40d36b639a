"""PendingAcks: an event is acknowledged once every trace it brought is settled."""

from __future__ import annotations

from typing import Any

from pipeline.worker.acks import PendingAcks


def test_an_event_is_released_with_its_last_trace_across_sink_batches() -> None:
    acks = PendingAcks()
    one: Any = object()
    two: Any = object()
    a = acks.add(one, 3)  # three traces of event one
    b = acks.add(two, 1)
    assert acks.settle([a, a]) == []  # a first sink batch settles two of them
    assert acks.settle([b]) == [two]  # event two had one trace: released
    assert acks.settle([a]) == [one]  # the last of event one, in a later sink batch
    assert acks.settle([]) == []


def test_each_event_is_released_once_in_the_order_its_traces_settle() -> None:
    acks = PendingAcks()
    events: list[Any] = [object() for _ in range(3)]
    handles = [acks.add(event, 2) for event in events]
    batch = [handles[2], handles[0], handles[2], handles[1], handles[0], handles[1]]
    assert acks.settle(batch) == [events[2], events[0], events[1]]
