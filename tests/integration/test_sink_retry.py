"""The sink's retry loop against a real local server, its pauses recorded instead of waited.

Jittered exponential backoff (``[ceiling/2, ceiling]``, the ceiling doubling from
``backoff_base`` up to ``backoff_cap``), ``Retry-After`` honoured within the cap, a bounded
number of retries, then a SinkError saying why; a legacy 207 resends only its 5xx events.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from pipeline.sinks import LitefuseSink, SinkError
from tests.factories import trace
from tests.receiver import PUBLIC_KEY, SECRET_KEY, Canned, LitefuseReceiver


class Pauses:
    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


def _sink(receiver: LitefuseReceiver, pauses: Pauses, **options: object) -> LitefuseSink:
    defaults: dict[str, object] = {
        "backoff_base": 1.0,
        "backoff_cap": 8.0,
        "max_retries": 5,
        "timeout": 2.0,
        "sleep": pauses,
        "rng": random.Random(7),
    }
    defaults.update(options)
    return LitefuseSink(receiver.base_url, PUBLIC_KEY, SECRET_KEY, **defaults)  # type: ignore[arg-type]


def test_5xx_is_retried_with_jittered_exponential_backoff_capped(
    receiver: LitefuseReceiver,
) -> None:
    for status in (503, 500, 502, 504, 503):
        receiver.canned.append(Canned(status, b'{"message":"busy"}'))
    pauses = Pauses()
    result = asyncio.run(_sink(receiver, pauses).write([trace(1)]))
    assert result.accepted == 1 and len(receiver.requests) == 6
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0]  # doubling, then the cap
    assert len(pauses.taken) == 5
    for taken, ceiling in zip(pauses.taken, ceilings, strict=True):
        assert ceiling / 2 <= taken <= ceiling


@pytest.mark.parametrize(("header", "expected"), [("3", 3.0), ("600", 8.0), ("0", 0.0)])
def test_retry_after_is_taken_within_the_cap(
    receiver: LitefuseReceiver, header: str, expected: float
) -> None:
    receiver.canned.append(Canned(429, b'{"message":"slow down"}', {"Retry-After": header}))
    pauses = Pauses()
    assert asyncio.run(_sink(receiver, pauses).write([trace(1)])).accepted == 1
    assert pauses.taken == [expected]


def test_retries_are_bounded_then_the_error_says_why(receiver: LitefuseReceiver) -> None:
    for _ in range(10):
        receiver.canned.append(Canned(503, b'{"message":"down"}'))
    pauses = Pauses()
    with pytest.raises(SinkError, match="503"):
        asyncio.run(_sink(receiver, pauses, max_retries=3).write([trace(1)]))
    assert len(receiver.requests) == 4 and len(pauses.taken) == 3
    assert receiver.trace_ids() == []


def test_a_legacy_207_resends_only_its_5xx_events_after_a_pause(
    receiver: LitefuseReceiver,
) -> None:
    traces = [trace(i) for i in range(3)]
    flaky = traces[1].id
    answered: list[list[str]] = []

    def respond(batch: list[dict[str, object]]) -> tuple[int, dict[str, object]]:
        ids = [str(e["id"]) for e in batch]
        answered.append(ids)
        errors = [
            {"id": i, "status": 500, "message": "again"}
            for i in ids
            if i.startswith(flaky) and len(answered) == 1
        ]
        failed = {e["id"] for e in errors}
        return 207, {
            "successes": [{"id": i, "status": 201} for i in ids if i not in failed],
            "errors": errors,
        }

    receiver.legacy_responder = respond
    pauses = Pauses()
    result = asyncio.run(_sink(receiver, pauses, mode="legacy").write(traces))
    assert result.accepted == 3 and len(answered) == 2
    assert {i.split("-")[0] for i in answered[1]} == {flaky}
    assert len(pauses.taken) == 1 and 0.5 <= pauses.taken[0] <= 1.0
