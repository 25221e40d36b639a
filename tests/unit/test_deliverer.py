"""The deliverer on its own: a scripted sink, an injected clock and sleep, no waiting.

``deliver`` returns only once every trace is settled (accepted, rejected for good or a
duplicate); while the sink fails it holds the batch and backs off; what the sink accepted is
remembered at once, so a retry resends only the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from pipeline.delivery.dedup import DedupWindow
from pipeline.delivery.deliverer import HOLDING_AFTER_S, Deliverer
from pipeline.sinks.base import Rejected, SinkAuthError, SinkError, WriteResult
from pipeline.trace import Trace
from tests.factories import trace


class Table:
    """The faust Table surface DedupWindow uses, over a plain dict."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def send_changelog(self, partition: int | None, key: str, value: Any) -> None:
        return None


class ScriptedSink:
    """Answers each write with the next scripted step: an exception, or a set of ids that it
    accepts (None: all), and records every batch it was given."""

    name = "scripted"

    def __init__(self, *steps: Any) -> None:
        self.steps = list(steps)
        self.writes: list[list[str]] = []

    async def write(self, traces: Sequence[Trace]) -> WriteResult:
        ids = [t.id for t in traces]
        self.writes.append(ids)
        step = self.steps.pop(0) if self.steps else None
        if isinstance(step, Exception):
            raise step
        if isinstance(step, WriteResult):
            return step
        accepted = ids if step is None else [i for i in ids if i in step]
        return WriteResult(accepted_ids=accepted)

    async def aclose(self) -> None:
        return None


class Clock:
    """Injected time: ``sleep`` advances it instead of waiting, and is recorded."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _deliverer(sink: ScriptedSink, clock: Clock, window: DedupWindow | None = None) -> Deliverer:
    return Deliverer(
        sink,
        window,
        backoff_start=1.0,
        backoff_cap=8.0,
        auth_backoff=30.0,
        clock=clock,
        monotonic=clock,
        sleep=clock.sleep,
    )


TRACES = [trace(i) for i in range(6)]
ITEMS = [(t, i % 2) for i, t in enumerate(TRACES)]


def test_an_outage_is_held_with_exponential_backoff_up_to_the_cap() -> None:
    clock = Clock()
    down = SinkError("Litefuse unavailable")
    sink = ScriptedSink(*[down] * 6, None)
    report = asyncio.run(_deliverer(sink, clock).deliver(ITEMS))
    assert [t.id for t in report.accepted] == [t.id for t in TRACES]
    assert clock.slept == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # doubling, capped
    assert report.attempts == 7 and len(sink.writes) == 7


def test_an_auth_failure_waits_the_auth_backoff_every_time() -> None:
    clock = Clock()
    refused = SinkAuthError("Litefuse answered 401")
    report = asyncio.run(_deliverer(ScriptedSink(refused, refused, None), clock).deliver(ITEMS))
    assert clock.slept == [30.0, 30.0] and len(report.accepted) == 6


def test_what_was_accepted_before_a_failure_is_not_sent_again() -> None:
    clock = Clock()
    first_two = WriteResult(accepted_ids=[TRACES[0].id, TRACES[1].id])
    failure = SinkError("connection reset after the first chunk", first_two)
    sink = ScriptedSink(failure, None)
    window = DedupWindow(Table(), 3600)
    report = asyncio.run(_deliverer(sink, clock, window).deliver(ITEMS))
    assert sink.writes[1] == [t.id for t in TRACES[2:]]
    assert sorted(t.id for t in report.accepted) == sorted(t.id for t in TRACES)
    # marked in the window at once: a re-delivery after a crash skips them
    assert all(window.seen(t.id, clock()) for t in TRACES)


def test_rejected_traces_are_settled_not_retried() -> None:
    clock = Clock()
    bad = TRACES[3]
    result = WriteResult(
        accepted_ids=[t.id for t in TRACES if t is not bad],
        rejected=[Rejected(bad, 400, "invalid usage")],
    )
    sink = ScriptedSink(result)
    report = asyncio.run(_deliverer(sink, clock).deliver(ITEMS))
    assert len(sink.writes) == 1 and clock.slept == []
    assert [(r.trace.id, r.status) for r in report.rejected] == [(bad.id, 400)]


def test_duplicates_are_skipped_within_the_batch_and_by_the_window() -> None:
    clock = Clock()
    window = DedupWindow(Table(), 3600)
    sink = ScriptedSink()
    deliverer = _deliverer(sink, clock, window)
    first = asyncio.run(deliverer.deliver([*ITEMS[:3], ITEMS[0]]))
    assert first.duplicates == 1 and len(sink.writes[0]) == 3
    again = asyncio.run(deliverer.deliver(ITEMS))  # three of them a second time
    assert again.duplicates == 3 and sink.writes[1] == [t.id for t in TRACES[3:]]
    clock.now += 3601  # past the window: a resend is sent again
    later = asyncio.run(deliverer.deliver(ITEMS[:1]))
    assert later.duplicates == 0 and sink.writes[2] == [TRACES[0].id]


def test_holding_is_reported_while_a_batch_is_held_longer_than_the_threshold() -> None:
    clock = Clock()
    deliverer = _deliverer(ScriptedSink(), clock)
    seen: list[bool] = []

    async def sleep(seconds: float) -> None:
        seen.append(deliverer.holding)  # what the watchdog would read during the outage
        await Clock.sleep(clock, seconds)

    deliverer.sleep = sleep
    deliverer.sink = ScriptedSink(*[SinkError("down")] * 5, None)
    assert deliverer.holding is False
    asyncio.run(deliverer.deliver(ITEMS))
    # busy for 0 s, then 1, 3, 7, 15 s when each backoff starts: holding from over 5 s on
    assert seen == [False, False, False, True, True]
    assert deliverer.holding is False  # done: not holding any more
    assert HOLDING_AFTER_S == 5.0


@pytest.mark.parametrize("poison", [0, 3, 5])
def test_a_trace_the_sink_cannot_handle_is_found_by_halving(poison: int) -> None:
    bad = TRACES[poison].id

    class Picky(ScriptedSink):
        async def write(self, traces: Sequence[Trace]) -> WriteResult:
            if any(t.id == bad for t in traces):
                self.writes.append([t.id for t in traces])
                raise ValueError("cannot encode")
            return await super().write(traces)

    clock = Clock()
    sink = Picky()
    report = asyncio.run(_deliverer(sink, clock).deliver(ITEMS))
    assert sorted(t.id for t in report.accepted) == sorted(t.id for t in TRACES if t.id != bad)
    assert [r.trace.id for r in report.rejected] == [bad] and clock.slept == []
